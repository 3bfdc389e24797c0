"""The OpenAI-compatible HTTP API, checked with the real `openai` SDK against a real server."""

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile
from openai import OpenAI

from tests.conftest import RunningServer

_open_clients: list[OpenAI] = []


def client(server: RunningServer, api_key: str | None = None) -> OpenAI:
    sdk = OpenAI(base_url=server.base_url, api_key=api_key or server.api_key, max_retries=0)
    _open_clients.append(sdk)
    return sdk


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _open_clients:
        _open_clients.pop().close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_needs_no_credential_and_everything_else_does(server: RunningServer) -> None:
    root = server.base_url.removesuffix("/v1")
    status, body = get(f"{root}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    for path in ("/metrics", "/v1/models"):
        status, body = get(f"{root}{path}")
        assert status == 401
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(server, api_key="wrong-key").models.list()


def test_models_lists_parley(server: RunningServer) -> None:
    assert "parley" in [m.id for m in client(server).models.list()]


def test_chat_completion_whole_and_streamed(server: RunningServer) -> None:
    sdk = client(server)
    whole = sdk.chat.completions.create(
        model="parley", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    reply = whole.choices[0].message.content or ""
    assert "paris" in reply.lower()
    # Counted by the model's tokenizer: a few tokens a word, not one per streamed delta.
    assert whole.usage is not None
    assert 0 < whole.usage.completion_tokens <= 2 * len(reply.split()) + 2
    assert whole.usage.prompt_tokens > len(["What", "is", "the", "capital", "of", "France?"])
    stream = sdk.chat.completions.create(
        model="parley",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
    )
    deltas = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len([d for d in deltas if d]) > 2
    assert "paris" in "".join(deltas).lower()


def test_a_malformed_chat_request_is_a_clear_400(server: RunningServer) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        client(server).chat.completions.create(model="parley", messages=[])


def test_transcriptions_in_each_response_format(
    server: RunningServer, piper_speech: Callable[..., Path]
) -> None:
    sdk = client(server)
    path = piper_speech("What is the capital of France?")
    with path.open("rb") as audio:
        result = sdk.audio.transcriptions.create(model="whisper-1", file=audio)
    assert "capital of france" in result.text.lower()
    with path.open("rb") as audio:
        text = sdk.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="text"
        )
    assert "capital of france" in str(text).lower()
    with path.open("rb") as audio:
        verbose = sdk.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json"
        )
    assert verbose.duration > 1 and "france" in verbose.text.lower()


def test_a_file_that_is_not_audio_is_a_clear_400(server: RunningServer) -> None:
    with pytest.raises(openai.BadRequestError, match="Cannot decode"):
        client(server).audio.transcriptions.create(
            model="whisper-1", file=("x.wav", b"not audio at all")
        )


@pytest.mark.parametrize("response_format", ["wav", "pcm"])
def test_speech_streams_audio_that_whisper_hears_back(
    server: RunningServer, response_format: str, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    with client(server).audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="alloy",
        input="Good morning. The weather is sunny today.",
        response_format=response_format,  # type: ignore[arg-type]
    ) as response:
        chunks = list(response.iter_bytes())
    payload = b"".join(chunks)
    if response_format == "wav":
        samples, rate = soundfile.read(io.BytesIO(payload), dtype="int16")
    else:
        samples, rate = np.frombuffer(payload, dtype="<i2"), 24_000
    assert rate == 24_000 and samples.size > rate
    heard = whisper_check(samples, rate).lower()
    assert "morning" in heard and "sunny" in heard


async def test_parley_memory_over_mcp_at_slash_mcp_needs_the_key(server: RunningServer) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from parley.memory.sqlite_store import SqliteStore

    store = SqliteStore(server.data_dir / "parley.sqlite3")
    store.add_memory("local", "The user's favourite tea is jasmine", "manual", None)
    store.close()
    url = f"http://127.0.0.1:{server.port}/mcp"
    status, _body = get(url)
    assert status == 401
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {server.api_key}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"search_memory", "list_conversations", "read_conversation", "ask"} <= names
        found = await client.call_tool("search_memory", {"query": "jasmine tea"})
        assert "jasmine" in found.content[0].text


def test_every_request_has_an_id_on_its_answer_and_its_log_lines(server: RunningServer) -> None:
    import logging

    from parley.ops.log_format import JsonFormatter, WithContext

    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(WithContext())
    http_log = logging.getLogger("parley.http")
    http_log.addHandler(handler)
    previous_level = http_log.level
    http_log.setLevel(logging.INFO)
    try:
        chosen = urllib.request.Request(
            f"{server.base_url}/models",
            headers={"Authorization": f"Bearer {server.api_key}", "X-Request-Id": "trace-42"},
        )
        with urllib.request.urlopen(chosen, timeout=10) as response:
            assert response.headers["X-Request-Id"] == "trace-42"
        refused = urllib.request.Request(
            f"{server.base_url}/models", headers={"X-Request-Id": "has spaces, so is not a token"}
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(refused, timeout=10)
        made = failure.value.headers["X-Request-Id"]
        failure.value.close()
        assert made != "has spaces, so is not a token" and len(made) == 16
    finally:
        http_log.removeHandler(handler)
        http_log.setLevel(previous_level)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    assert {
        "request": lines[0]["request"],
        "message": lines[0]["message"].rsplit(" in ", 1)[0],
    } == {"request": "trace-42", "message": "GET /v1/models 200"}
    assert lines[1]["request"] == made and lines[1]["message"].startswith("GET /v1/models 401")
