"""The offline voices: listed, chosen per session or per request, and heard back by Whisper."""

import asyncio
import base64
import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable

import numpy as np
import pytest
import soundfile
from openai import OpenAI

from tests.conftest import RunningServer, ask_in_text, sounds_like
from tests.integration.test_server_realtime import collect_until, realtime


def api(server: RunningServer, path: str, body: dict | None = None) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "PUT",
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        loaded: dict = json.loads(response.read())  # type: ignore[type-arg]
        return loaded


def test_the_machines_offline_voices_are_listed_and_a_preference_must_name_one(
    server: RunningServer,
) -> None:
    listed = api(server, "/api/voices")
    names = [voice["name"] for voice in listed["data"]]
    assert listed["default"] == "en_US-joe-medium"
    assert names[:4] == ["en_US-joe-medium", "flite-slt", "flite-rms", "flite-awb"]
    assert {"espeak-en-us", "espeak-fr-fr", "espeak-de"} <= set(names)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(server, "/api/preferences", {"voice": "alloy"})
    assert refused.value.code == 400 and "/api/voices" in refused.value.read().decode()
    refused.value.close()


@pytest.mark.slow
async def test_a_session_speaks_with_the_voice_it_chose(
    server: RunningServer, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    async with realtime(server) as connection:
        await connection.session.update(
            session={"type": "realtime", "audio": {"output": {"voice": "flite-slt"}}}
        )
        updated = await collect_until(connection, lambda e: e.type == "session.updated")
        assert updated[-1].session.audio.output.voice == "flite-slt"
        await ask_in_text(connection, "What is the capital of France?")
        events = await collect_until(connection, lambda e: e.type == "response.done")
    audio = np.frombuffer(
        b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        ),
        dtype="<i2",
    )
    heard = await asyncio.to_thread(whisper_check, audio, 24_000)
    assert sounds_like("paris", heard), heard


def test_speech_over_http_takes_a_voice_by_name_and_openais_names_get_the_default(
    server: RunningServer, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    client = OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    lengths = {}
    for voice in ("flite-awb", "alloy", "en_US-joe-medium"):
        wav = client.audio.speech.create(
            model="tts-1", voice=voice, input="The capital of Spain is Madrid."
        ).read()
        samples, rate_hz = soundfile.read(io.BytesIO(wav), dtype="int16")
        assert sounds_like("madrid", whisper_check(samples, rate_hz)), voice
        lengths[voice] = len(samples)
    client.close()
    # alloy is not a voice here: it was spoken by the configured one, sample for sample.
    assert lengths["alloy"] == lengths["en_US-joe-medium"] != lengths["flite-awb"]
