"""The OpenAI-compatible LLM backend against a real llama.cpp server on a loopback port."""

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.backends import ChatMessage
from parley.backends.openai_llm import OpenAICompatLlm
from parley.config import OpenAICompatConfig
from parley.embedded_models import llm_path
from parley.errors import BackendError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(models_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(llm_path(models_dir)),
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
        process.terminate()
        process.wait(timeout=10)


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
    with pytest.raises(BackendError, match="Cannot reach the LLM server"):
        async for _ in llm.stream([ChatMessage("user", "hello")]):
            pass
    await llm.aclose()
