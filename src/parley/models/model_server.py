"""Whisper and the voice on another box: a model server's OpenAI-compatible
/v1/audio/transcriptions and /v1/audio/speech (`parley serve --role models` serves both), so a
GPU machine runs the models and small workers hold the sockets.

The audio crosses the network as 16 kHz WAV one way and 24 kHz PCM the other, as it is made:
speech is streamed chunk by chunk, so the first sound plays before the sentence is finished.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import numpy as np
import openai
from openai import AsyncOpenAI, omit

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.audio.pcm import wav_bytes
from parley.config.settings import ModelServerConfig, SttConfig, TtsConfig
from parley.errors import BackendError
from parley.models.contracts import Transcript

__all__ = ["REMOTE_SPEECH_SAMPLE_RATE_HZ", "RemoteStt", "RemoteTts"]

REMOTE_SPEECH_SAMPLE_RATE_HZ = 24_000  # what /v1/audio/speech's pcm is
# About 100 ms of 24 kHz PCM a chunk: small enough to start playing at once.
_SPEECH_CHUNK_BYTES = 4800


def _client(server: ModelServerConfig) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=str(server.url),
        api_key=server.api_key.get_secret_value() if server.api_key else "parley-local",
        timeout=server.timeout_s,
        max_retries=0,
    )


def _failure(server: ModelServerConfig, what: str, error: openai.APIError) -> BackendError:
    if isinstance(error, openai.APIStatusError):
        return BackendError(
            f"The model server at {server.url} refused to {what}: {error.status_code} "
            f"{error.message}"
        )
    return BackendError(
        f"Cannot reach the model server at {server.url} to {what} ({error}). Start it "
        "(`parley serve --role models`), or fix its url in your config."
    )


class RemoteStt:
    def __init__(self, config: SttConfig) -> None:
        assert config.remote is not None
        self._server = config.remote
        self._config = config
        self._client = _client(config.remote)

    async def transcribe(
        self,
        audio: Int16Array,
        *,
        is_partial: bool = False,  # noqa: ARG002 - the server decodes both alike, as it is set
    ) -> Transcript:
        started = time.perf_counter()
        try:
            result = await self._client.audio.transcriptions.create(
                model=f"whisper-{self._config.model}",
                file=("speech.wav", wav_bytes(audio, INPUT_SAMPLE_RATE_HZ), "audio/wav"),
                response_format="json",
                language=self._config.language or omit,
            )
        except openai.APIError as error:
            raise _failure(self._server, "transcribe", error) from None
        return Transcript(
            result.text.strip(),
            audio_ms=int(audio.size * 1000 / INPUT_SAMPLE_RATE_HZ),
            # The round trip: what transcribing costs this worker, network hop included.
            decode_ms=(time.perf_counter() - started) * 1000,
        )


class RemoteTts:
    sample_rate_hz = REMOTE_SPEECH_SAMPLE_RATE_HZ

    def __init__(self, config: TtsConfig) -> None:
        assert config.remote is not None
        self._server = config.remote
        self._voice = config.voice_name
        self._speed = config.speed
        self._client = _client(config.remote)

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model="tts-1",
                voice=self._voice,
                input=text,
                response_format="pcm",
                speed=min(4.0, max(0.25, self._speed * speed)),
            ) as response:
                odd_byte = b""
                async for chunk in response.iter_bytes(_SPEECH_CHUNK_BYTES):
                    data = odd_byte + chunk
                    whole = len(data) - len(data) % 2
                    odd_byte = data[whole:]
                    if whole:
                        yield np.frombuffer(data[:whole], dtype="<i2").astype(np.int16)
        except openai.APIError as error:
            raise _failure(self._server, "speak", error) from None
