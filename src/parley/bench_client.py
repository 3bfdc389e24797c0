"""`parley bench --server URL`: the same prompts over the realtime WebSocket of a running server,
timed from the client's side of the socket with the official `openai` SDK."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio import decode_file, resample
from parley.backends import make_tts
from parley.bench import BenchReport, Prompt, TurnFigures, choose_prompts, word_errors
from parley.config import Settings
from parley.errors import BackendError, ConfigError

_FRAME_MS = 20
_RATE_HZ = 24_000


def _api_key(settings: Settings) -> str:
    if settings.server.api_key is not None:
        return settings.server.api_key.get_secret_value()
    path = settings.data_dir / "api_key"
    if not path.is_file():
        raise ConfigError(
            f"No API key: set PARLEY_API_KEY or point --data-dir at the server's ({path})."
        )
    return path.read_text(encoding="utf-8").strip()


async def _server_turn(server_url: str, api_key: str, prompt: Prompt) -> TurnFigures:
    from openai import AsyncOpenAI

    audio = resample(decode_file(prompt.path), 16_000, _RATE_HZ)
    step = _RATE_HZ * _FRAME_MS // 1000
    async with (
        AsyncOpenAI(
            base_url=server_url.rstrip("/") + "/v1", api_key=api_key, max_retries=0
        ) as client,
        client.realtime.connect(model="parley") as connection,
    ):
        started = time.perf_counter()
        is_done = asyncio.Event()

        async def feed() -> None:
            index = 0
            silence = np.zeros(step, dtype=np.int16)
            while not is_done.is_set():
                offset = index * step
                chunk = audio[offset : offset + step] if offset < audio.size else silence
                await connection.input_audio_buffer.append(
                    audio=base64.b64encode(chunk.astype("<i2").tobytes()).decode()
                )
                index += 1
                delay = started + index * _FRAME_MS / 1000 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        feeding = asyncio.create_task(feed())
        last_voiced_s: float | None = None
        first_audio_s: float | None = None
        transcript, reply = "", ""
        metadata: dict[str, Any] = {}
        try:
            async with asyncio.timeout(60):
                async for event in connection:
                    match event.type:
                        case "input_audio_buffer.speech_stopped":
                            # Paced in real time: the sample at audio_end_ms left at this offset.
                            last_voiced_s = started + event.audio_end_ms / 1000 + _FRAME_MS / 1000
                        case "conversation.item.input_audio_transcription.completed":
                            transcript = event.transcript
                        case "response.output_audio.delta" if first_audio_s is None:
                            first_audio_s = time.perf_counter()
                        case "response.output_audio_transcript.done":
                            reply = event.transcript
                        case "response.done":
                            metadata = dict(event.response.metadata or {})
                            break
        except TimeoutError:
            raise BackendError(
                f"The server at {server_url} did not answer {prompt.path.name} within 60 s."
            ) from None
        finally:
            is_done.set()
            feeding.cancel()
    metrics: dict[str, Any] = {key: _number(value) for key, value in metadata.items()}
    metrics["server_voice_to_voice_ms"] = metrics.get("voice_to_voice_ms")
    if last_voiced_s is not None and first_audio_s is not None:
        metrics["voice_to_voice_ms"] = round((first_audio_s - last_voiced_s) * 1000, 1)
    errors, words = word_errors(prompt.text, transcript)
    return TurnFigures(prompt.text, transcript, reply, metrics, errors, words)


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def run_server_bench(
    settings: Settings,
    *,
    server_url: str,
    audio_dir: Path | None,
    runs: int,
    warmup_turns: int,
    progress: Callable[[str], None] = lambda _message: None,
) -> BenchReport:
    api_key = _api_key(settings)
    tts = make_tts(settings.tts, models_dir=settings.models_dir) if audio_dir is None else None
    prompts = choose_prompts(settings, audio_dir, tts)  # type: ignore[arg-type]
    report = BenchReport()
    started = time.perf_counter()
    for index in range(warmup_turns):
        progress(f"warm-up {index + 1}/{warmup_turns}")
        report.warmup.append(
            asyncio.run(_server_turn(server_url, api_key, prompts[index % len(prompts)]))
        )
    for run in range(runs):
        for index, prompt in enumerate(prompts):
            progress(f"turn {run * len(prompts) + index + 1}/{runs * len(prompts)}: {prompt.text}")
            report.turns.append(asyncio.run(_server_turn(server_url, api_key, prompt)))
    report.wall_s = time.perf_counter() - started
    return report
