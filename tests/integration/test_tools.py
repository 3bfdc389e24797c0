"""Tools through MCP with real servers: mcp-server-time from PyPI over stdio, Parley's built-in
server, and a misbehaving server written for these tests."""

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from parley.bench.tool_choice import format_report, measure_tool_choice
from parley.bench.tool_requests import HELD_OUT_REQUESTS, LABELLED_REQUESTS
from parley.config.settings import McpConfig, McpServerConfig
from parley.models.loaded import Backends
from parley.tools.arguments import named_time_zones
from parley.tools.builtin import make_builtin_server
from parley.tools.hub import ToolHub
from parley.tools.router import ToolRouter
from parley.tools.speakable import speakable_result

DATA = Path(__file__).resolve().parents[1] / "data"
TIME_SERVER = McpServerConfig(
    name="time",
    command=[str(Path(sys.executable).parent / "mcp-server-time"), "--local-timezone", "UTC"],
)
BAD_SERVER = McpServerConfig(
    name="bad", command=[sys.executable, str(DATA / "misbehaving_mcp_server.py")]
)


async def test_a_real_time_server_over_stdio_answers_and_calls_run_in_parallel() -> None:
    hub = ToolHub(McpConfig(servers=[TIME_SERVER], builtin_tools=False))
    await hub.start()
    try:
        assert {t.name for t in hub.tools()} >= {"get_current_time", "convert_time"}
        tokyo, paris = await asyncio.gather(
            hub.call("get_current_time", {"timezone": "Asia/Tokyo"}),
            hub.call("get_current_time", {"timezone": "Europe/Paris"}),
        )
        assert not tokyo.is_error and '"timezone": "Asia/Tokyo"' in tokyo.text
        assert not paris.is_error and "Europe/Paris" in paris.text
        plain = speakable_result(tokyo.text)
        assert ("AM on" in plain or "PM on" in plain) and "+09:00" not in plain
        unknown = await hub.call("no_such_tool", {})
        assert unknown.is_error and "no tool named" in unknown.text
    finally:
        await hub.close()


@pytest.mark.slow
async def test_every_fault_becomes_a_tool_error_and_the_hub_keeps_working() -> None:
    config = McpConfig(
        servers=[
            BAD_SERVER,
            McpServerConfig(name="missing", command=["/nonexistent/mcp-server"]),
            TIME_SERVER,
        ],
        builtin_tools=False,
        call_timeout_s=5,
        max_result_chars=1000,
    )
    hub = ToolHub(config)
    await hub.start()
    try:
        status = {name: (is_up, error) for name, is_up, error, _ in hub.status()}
        assert status["missing"][0] is False and status["missing"][1]
        assert status["bad"][0] and status["time"][0]
        assert (await hub.call("echo", {"text": "hi"})).text == "hi"
        hung = await hub.call("hang", {})
        assert hung.is_error and "did not answer within 5 s" in hung.text
        # The overrun call was cancelled alone: the same session answers the next calls.
        failed = await hub.call("fail", {})
        assert failed.is_error and failed.text == "Error executing tool fail"  # the tool's own
        flooded = await hub.call("flood", {})
        assert not flooded.is_error and len(flooded.text) < 1100 and "cut" in flooded.text
        assert hub.session_starts("bad") == 1
        crashed = await hub.call("crash", {})
        assert crashed.is_error
        # Another server is unaffected; a call made while the crashed one restarts waits for it.
        assert not (await hub.call("get_current_time", {"timezone": "UTC"})).is_error
        back = await hub.call("echo", {"text": "back"})
        assert (back.text, back.is_error) == ("back", False)
        assert hub.session_starts("bad") == 2
    finally:
        await hub.close()


@pytest.mark.slow
async def test_tool_choice_is_right_for_95_in_100_labelled_requests(backends: Backends) -> None:
    hub = ToolHub(
        McpConfig(servers=[TIME_SERVER]), builtin=make_builtin_server(*_memory_and_timers())
    )
    await hub.start()
    try:
        router = ToolRouter(hub, backends.embedder, None, threshold=McpConfig().route_threshold)
        offered = [tool.name for tool in hub.tools()]
        for requests in (LABELLED_REQUESTS, HELD_OUT_REQUESTS):
            report = measure_tool_choice(router, offered, requests)
            print(format_report(report))
            assert report.skipped == 0 and report.accuracy >= 0.95
        # The cases users met: none of these may end, store or look anything up.
        for request in (
            "Stop. Actually, tell me about the moon instead.",
            "Say goodbye in French.",
            "Can you explain what a black hole is in one sentence?",
            # Heard once from "What should I do if I have a headache?"; a calendar question.
            "What should I do if I come out here, Dick?",
            "What is the day after Saturday?",
            "What comes after Monday?",
        ):
            assert router.choose_tool(request) is None, request
        chosen = router.choose_tool("Do you remember my name?")
        assert chosen is not None and chosen[0].name == "search_memory"
    finally:
        await hub.close()


def _memory_and_timers():  # type: ignore[no-untyped-def]
    import tempfile

    from parley.memory.recall import MemoryRecall
    from parley.memory.sqlite_store import SqliteStore
    from parley.tools.timers import TimerClock

    store = SqliteStore(Path(tempfile.mkdtemp()) / "m.sqlite3")
    return MemoryRecall(store, None), TimerClock(store)


def test_cities_in_a_request_become_iana_time_zones() -> None:
    assert named_time_zones("What time is it in Paris?") == ["Europe/Paris"]
    assert named_time_zones("Convert 3 pm New York time to Tokyo") == [
        "America/New_York",
        "Asia/Tokyo",
    ]
    assert named_time_zones("What is the capital of France?") == []


async def _answer(toolbox: Any, backends: Backends, request: str) -> tuple[str, Any]:
    """The spoken answer to ``request`` through the toolbox, and the reply (with its calls)."""
    from parley.models.contracts import ChatMessage

    reply = toolbox.reply_for(backends.llm, request)
    messages = [
        ChatMessage("system", backends.settings.llm.system_prompt),
        ChatMessage("user", request),
    ]
    return "".join([d async for d in reply.stream(messages)]), reply


@pytest.mark.slow
async def test_two_places_in_one_question_are_two_parallel_calls_in_one_answer(
    backends: Backends,
) -> None:
    from parley.tools.toolbox import Toolbox

    toolbox = await Toolbox.start(
        McpConfig(servers=[TIME_SERVER], builtin_tools=False),
        memory=None,
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
    )
    try:
        text, reply = await _answer(toolbox, backends, "What time is it in Tokyo and in Paris?")
        assert [call.arguments for call in reply.calls] == [
            {"timezone": "Asia/Tokyo"},
            {"timezone": "Europe/Paris"},
        ]
        assert all(not call.is_error for call in reply.calls)
        assert "tokyo" in text.lower() and "paris" in text.lower()
    finally:
        await toolbox.close()


@pytest.mark.slow
async def test_the_time_is_said_in_words_not_as_the_tool_call_echoed(backends: Backends) -> None:
    from parley.tools.toolbox import Toolbox

    toolbox = await Toolbox.start(
        McpConfig(servers=[]),
        memory=_memory_and_timers()[0],
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
    )
    try:
        text, reply = await _answer(toolbox, backends, "What time is it right now?")
        assert [call.name for call in reply.calls] == ["current_date_and_time"]
        assert "{" not in text and any(c.isdigit() for c in text), text
    finally:
        await toolbox.close()


# Words a spoken reply must never contain: a tool's field names, JSON, or its instructions.
_TOOL_NOISE = ("{", "timezone:", "datetime", "day of week", "is dst", "is_dst", "say goodbye")


@pytest.mark.slow
async def test_the_time_in_tokyo_from_a_time_server_is_one_plain_sentence(
    backends: Backends,
) -> None:
    from parley.tools.toolbox import Toolbox

    toolbox = await Toolbox.start(
        McpConfig(servers=[TIME_SERVER]),
        memory=_memory_and_timers()[0],
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
    )
    try:
        text, reply = await _answer(toolbox, backends, "What time is it in Tokyo right now?")
        assert [call.arguments.get("timezone") for call in reply.calls] == ["Asia/Tokyo"]
        assert text.startswith("It's ") and "in Tokyo" in text, text
        assert any(c.isdigit() for c in text) or "noon" in text or "midnight" in text, text
        assert not any(noise in text.lower() for noise in _TOOL_NOISE), text
        converted, reply = await _answer(
            toolbox, backends, "If it is 9 am in London, what time is it in Sydney?"
        )
        assert [call.name for call in reply.calls] == ["convert_time"]
        assert "9 in the morning in London" in converted and "in Sydney" in converted, converted
    finally:
        await toolbox.close()


@pytest.mark.slow
async def test_questions_about_memory_store_nothing_and_a_fact_is_kept_as_a_sentence(
    backends: Backends, tmp_path: Path
) -> None:
    from parley.memory.recall import MemoryRecall
    from parley.memory.sqlite_store import SqliteStore
    from parley.memory.store import LOCAL_USER
    from parley.tools.toolbox import Toolbox

    store = SqliteStore(tmp_path / "memory.sqlite3")
    recall = MemoryRecall(store, backends.embedder)
    toolbox = await Toolbox.start(
        McpConfig(servers=[]),
        memory=recall,
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
    )
    try:
        for question in (
            "Do you remember my name?",
            "Do you remember what my dog is called?",
            "Can you remember where I live?",
            "Have I told you my birthday?",
            "Remember when we talked about Paris?",
            "How can I remember names better?",
        ):
            text, reply = await _answer(toolbox, backends, question)
            assert "remember" not in [call.name for call in reply.calls], (question, reply.calls)
            assert store.memories(LOCAL_USER) == [], question  # nothing was stored
            assert "remember that" not in text.lower(), (question, text)
        text, reply = await _answer(toolbox, backends, "Please remember that my sister is Ana.")
    finally:
        await toolbox.close()
    assert [call.name for call in reply.calls] == ["remember"]
    # The filler comes first when writing the tool's arguments took long (a busy machine).
    assert text.removeprefix("Let me check. ") == "OK, I'll remember that your sister is Ana."
    assert [m.text for m in store.memories(LOCAL_USER)] == ["The user's sister is Ana"]
