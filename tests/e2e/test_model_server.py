"""Models on one box, sessions on another: `parley serve --role models` serves Whisper, the LLM
and the voice over their OpenAI-compatible routes, and a worker configured with stt.remote,
tts.remote and llm.backend openai answers a spoken question through them."""

from __future__ import annotations

import asyncio
import base64
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import websockets
from openai import AsyncOpenAI

from tests.conftest import make_data_dir
from tests.e2e.conftest import MODELS_KEY, small_worker_config
from tests.e2e.test_cli_serve import serving
from tests.integration.test_server_realtime import ask_by_voice

pytestmark = pytest.mark.slow

WORKER_KEY = "pk-small-worker-0123456789"


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path, model_server: tuple[str, Path]
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("worker-box")
    config = small_worker_config(root / "worker.yaml", model_server[0])
    env = {
        **os.environ,
        "PARLEY_ENV": "testing",
        "PARLEY_DATA_DIR": str(make_data_dir(root / "data", models_dir)),
        "PARLEY_API_KEY": WORKER_KEY,
    }
    with serving(["--config", str(config)], env, root / "serve.log") as (url, _process):
        yield url


def test_the_model_server_serves_the_models_alone(model_server: tuple[str, Path]) -> None:
    url, _log = model_server
    headers = {"Authorization": f"Bearer {MODELS_KEY}"}
    with urllib.request.urlopen(urllib.request.Request(url + "/v1/models", headers=headers)) as r:
        assert r.status == 200
    # No store, no page, no sessions: those are the workers'.
    for path in ("/api/conversations", "/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + path, headers=headers))
        refused.value.close()
        assert refused.value.code == 404

    async def open_socket() -> None:
        async with websockets.connect(
            url.replace("http", "ws") + "/v1/realtime", additional_headers=headers
        ):
            pass

    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(open_socket())


async def test_a_worker_answers_a_spoken_question_with_the_models_on_the_model_server(
    worker: str,
    model_server: tuple[str, Path],
    piper_speech: Callable[..., Path],
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    async with (
        AsyncOpenAI(base_url=worker + "/v1", api_key=WORKER_KEY, max_retries=0) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        events = await ask_by_voice(connection, piper_speech("What is the capital of France?"))
    heard = next(
        e for e in events if e.type == "conversation.item.input_audio_transcription.completed"
    )
    assert "capital of france" in heard.transcript.lower()
    assert events[-1].response.status == "completed"
    spoken = next(e for e in events if e.type == "response.output_audio_transcript.done")
    assert "paris" in spoken.transcript.lower()
    audio = np.frombuffer(
        b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        ),
        dtype="<i2",
    )
    assert "paris" in whisper_check(audio, 24_000).lower()
    # Each model ran on the model server: its request log names every route the worker used.
    served = model_server[1].read_text()
    for route in ("/v1/audio/transcriptions", "/v1/chat/completions", "/v1/audio/speech"):
        assert f"POST {route} 200" in served, route
