"""The OpenAI-compatible LLM backend against a real llama.cpp server on a loopback port."""

import http.server
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.config.settings import McpConfig, OpenAICompatConfig
from parley.errors import BackendError
from parley.models.catalogue import QWEN_0_5B, llm_path
from parley.models.contracts import ChatMessage, LlmCapabilities
from parley.models.loaded import Backends
from parley.models.openai_llm import OpenAICompatLlm
from tests.conftest import end_process, free_port


@pytest.fixture(scope="module")
def llama_server(models_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(llm_path(models_dir, QWEN_0_5B)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "2",
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        else:
            pytest.fail("llama_cpp.server did not start within 60 s")
        yield base_url
    finally:
        end_process(process)


@pytest.mark.slow
async def test_the_openai_backend_streams_a_correct_answer_from_a_real_server(
    llama_server: str,
) -> None:
    llm = OpenAICompatLlm(
        OpenAICompatConfig(
            backend="openai", base_url=llama_server, temperature=0, max_reply_tokens=40
        )  # type: ignore[arg-type]
    )
    deltas = [
        delta
        async for delta in llm.stream(
            [
                ChatMessage("system", "Answer in one short sentence."),
                ChatMessage("user", "What is the capital of France?"),
            ]
        )
    ]
    await llm.aclose()
    assert len(deltas) > 2, "the reply did not stream"
    assert "paris" in "".join(deltas).lower()


@pytest.mark.slow
async def test_a_tool_turn_through_an_openai_compatible_server(
    llama_server: str, backends: Backends
) -> None:
    from parley.tools.toolbox import Toolbox
    from tests.integration.test_tools import TIME_SERVER

    llm = OpenAICompatLlm(
        OpenAICompatConfig(
            backend="openai", base_url=llama_server, temperature=0, max_reply_tokens=60
        )  # type: ignore[arg-type]
    )
    capabilities = LlmCapabilities.of(llm)
    assert capabilities.json_writer is llm
    assert capabilities.prompt_reader is None and capabilities.token_counter is None
    # The model's own words held to the schema: a value only the schema allows.
    arguments = await llm.complete_json(
        [
            ChatMessage("system", "Write the arguments of get_current_time for the request."),
            ChatMessage("user", "What time is it in Tokyo right now?"),
        ],
        {
            "type": "object",
            "properties": {
                "timezone": {"enum": ["Europe/Paris", "Asia/Tokyo", "America/New_York"]}
            },
            "required": ["timezone"],
        },
    )
    assert arguments == {"timezone": "Asia/Tokyo"}
    # llama-cpp-python's server refuses OpenAI's json_schema and takes json_object's schema.
    assert llm.endpoints[0].json_style == "json_object"
    toolbox = await Toolbox.start(
        McpConfig(servers=[TIME_SERVER], builtin_tools=False),
        memory=None,
        embedder=backends.embedder,
        writer=capabilities.json_writer,
    )
    try:
        request = "What time is it in Tokyo?"
        reply = toolbox.reply_for(llm, request)
        messages = [
            ChatMessage("system", backends.settings.llm.system_prompt),
            ChatMessage("user", request),
        ]
        text = "".join([delta async for delta in reply.stream(messages)])
    finally:
        await toolbox.close()
        await llm.aclose()
    assert [(call.name, call.arguments) for call in reply.calls] == [
        ("get_current_time", {"timezone": "Asia/Tokyo"})
    ]
    assert not reply.calls[0].is_error
    assert any(c.isdigit() for c in text) and "{" not in text, text


@pytest.mark.slow
async def test_closing_the_stream_early_leaves_the_server_usable(llama_server: str) -> None:
    llm = OpenAICompatLlm(
        OpenAICompatConfig(backend="openai", base_url=llama_server, max_reply_tokens=200)
    )  # type: ignore[arg-type]
    stream = llm.stream([ChatMessage("user", "Count from one to one hundred in words.")])
    assert [await anext(stream) for _ in range(2)]
    await stream.aclose()  # type: ignore[attr-defined]
    reply = "".join([d async for d in llm.stream([ChatMessage("user", "Say hello.")])])
    await llm.aclose()
    assert reply.strip()


async def test_an_unreachable_server_is_a_clear_backend_error() -> None:
    llm = OpenAICompatLlm(
        OpenAICompatConfig(
            backend="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2
        )  # type: ignore[arg-type]
    )
    with pytest.raises(BackendError, match="Cannot reach any LLM server"):
        async for _ in llm.stream([ChatMessage("user", "hello")]):
            pass
    await llm.aclose()


class _AlwaysUnavailable(http.server.BaseHTTPRequestHandler):
    """A server that is up but overloaded: every request gets a 503."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": {"message": "overloaded"}}')

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unavailable_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AlwaysUnavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
async def test_a_pool_skips_dead_and_overloaded_servers_and_checks_them_again_later(
    llama_server: str, unavailable_server: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatLlm(
        OpenAICompatConfig(
            backend="openai",
            base_url=dead,
            fallback_urls=[unavailable_server, llama_server],
            temperature=0,
            max_reply_tokens=30,
            timeout_s=5,
            recheck_after_s=60,
        )  # type: ignore[arg-type]
    )
    question = [ChatMessage("user", "What is the capital of France? Answer in one word.")]
    reply = "".join([d async for d in llm.stream(question)])
    assert "paris" in reply.lower()
    assert [e.is_down for e in llm.endpoints] == [True, True, False]
    assert "503" in llm.endpoints[1].last_error
    # While they are marked down, replies go straight to the server that answers.
    assert "paris" in "".join([d async for d in llm.stream(question)]).lower()
    # The wait over, a server is checked (GET /models) before it gets a reply: the one that
    # answers its check is used again; the dead one stays down.
    llm.endpoints.reverse()  # the real server first, marked down, its wait over
    llm.endpoints[0].down_until = llm.endpoints[2].down_until = 1e-9
    assert "paris" in "".join([d async for d in llm.stream(question)]).lower()
    assert [e.is_down for e in llm.endpoints] == [False, True, True]
    await llm.aclose()


async def test_a_pool_of_servers_none_of_which_answers_names_each() -> None:
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    llm = OpenAICompatLlm(
        OpenAICompatConfig(backend="openai", base_url=urls[0], fallback_urls=urls[1:], timeout_s=2)  # type: ignore[arg-type]
    )
    with pytest.raises(BackendError, match="Cannot reach any LLM server") as raised:
        async for _ in llm.stream([ChatMessage("user", "hello")]):
            pass
    assert all(url in str(raised.value) for url in urls)
    await llm.aclose()
