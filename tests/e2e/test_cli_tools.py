"""Tools as a user meets them: a spoken question answered with a real MCP server's result, and
Parley's own MCP server used by the `mcp` SDK's client."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from parley.memory.sqlite_store import SqliteStore
from tests.e2e.test_cli_serve import parley_executable

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.slow
def test_a_spoken_question_is_answered_with_the_time_server_result(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path
) -> None:
    time_server = Path(sys.executable).parent / "mcp-server-time"
    config = tmp_path / "parley.yaml"
    config.write_text(
        # Parley's own clock answers this as well; without it, the server's answer is the
        # one spoken, and its hour can be checked against the server's result.
        "mcp:\n  builtin_tools: false\n  servers:\n    - name: time\n"
        f"      command: [{json.dumps(str(time_server))}, --local-timezone, UTC]\n"
    )
    listed = parley_cli("tools", "--config", str(config))
    assert "time: up" in listed.stdout and "get_current_time" in listed.stdout
    done = parley_cli(
        "talk",
        str(piper_speech("What time is it in Tokyo?")),
        "-o",
        str(tmp_path / "r.wav"),
        "--json",
        "--fast",
        "--config",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    call = result["tool_calls"][0]
    assert call["name"] == "get_current_time" and call["arguments"] == {"timezone": "Asia/Tokyo"}
    tool_hour = int(json.loads(call["result"])["datetime"][11:13])
    spoken_hour = str(tool_hour % 12 or 12)
    assert spoken_hour in result["reply_text"], (result["reply_text"], call["result"])


@pytest.mark.slow
async def test_parley_as_an_mcp_server_serves_memory_and_conversations(data_dir: Path) -> None:
    store = SqliteStore(data_dir / "parley.sqlite3")
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "My favourite colour is teal.")
    store.add_message(conversation, "assistant", "Teal is lovely.")
    store.add_memory("local", "The user's favourite colour is teal", "automatic", None)
    store.close()
    parameters = StdioServerParameters(
        command=parley_executable(),
        args=["mcp", "--data-dir", str(data_dir)],
        env={"PARLEY_ENV": "testing"},
    )
    async with Client(parameters) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {"search_memory", "list_conversations", "read_conversation", "ask"}
        found = await client.call_tool("search_memory", {"query": "favourite colour"})
        assert "teal" in found.content[0].text
        listed = await client.call_tool("list_conversations", {})
        assert conversation in json.dumps(
            listed.structured_content or [c.text for c in listed.content]
        )
        read = await client.call_tool("read_conversation", {"conversation_id": conversation})
        assert "Teal is lovely." in json.dumps(
            read.structured_content or [c.text for c in read.content]
        )
        answer = await client.call_tool("ask", {"question": "What is my favourite colour?"})
        assert "teal" in answer.content[0].text.lower()
        missing = await client.call_tool("read_conversation", {"conversation_id": "nope"})
        assert missing.is_error


@pytest.mark.slow
def test_eval_answers_speaks_questions_in_several_voices_and_judges_each_reply(
    parley_cli: Cli,
) -> None:
    # What the model knows is tested on the default (the testing profile's is the 0.5B).
    done = parley_cli(
        "eval", "--answers", "--limit", "3", "--json", env={"PARLEY_LLM__MODEL": "1.5b"}
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["overall"]["questions"] == 3
    cases = report["cases"]
    # One voice after another, each question heard and replied to, and judged.
    assert [c["voice"] for c in cases] == ["en_US-joe-medium", "flite-slt", "flite-rms"]
    assert all(c["heard"] and c["reply"] for c in cases), cases
    assert {c["verdict"] for c in cases} <= {"right", "asked again", "misheard", "wrong"}
    assert cases[0]["verdict"] == "right", cases[0]  # Piper's "red planet": Mars
    assert report["internal_words_spoken"] == 0 and report["facts_from_questions"] == []
