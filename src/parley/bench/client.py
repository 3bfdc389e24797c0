"""`parley bench --server URL`: the same prompts over the realtime WebSocket of a running server,
timed from the client's side of the socket with the official `openai` SDK (or, with
``--transport webrtc``, over a WebRTC call: ``rtc_client``).

With ``--sessions 1,2,4,8`` it is a load test: for each count, that many sessions talk at once
(each through every prompt, in real time), and the report gives voice-to-voice per count, the
turns that failed, and the server's resident memory before and after."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_file, resample
from parley.bench.prompts import Prompt, choose_prompts
from parley.bench.run import BenchReport, JudgedTurn
from parley.config.settings import Settings
from parley.errors import BackendError
from parley.models.factory import make_tts
from parley.ops.spread import spread
from parley.server.auth import existing_api_key

_FRAME_MS = 20
Transport = Literal["websocket", "webrtc"]  # how the client reaches the server
_RATE_HZ = 24_000


async def _server_turn(server_url: str, api_key: str, prompt: Prompt) -> JudgedTurn:
    from openai import AsyncOpenAI

    audio = resample(decode_file(prompt.path), INPUT_SAMPLE_RATE_HZ, _RATE_HZ)
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
    return judged_at_client(prompt, transcript, reply, metadata, last_voiced_s, first_audio_s)


def judged_at_client(
    prompt: Prompt,
    transcript: str,
    reply: str,
    metadata: dict[str, Any],
    last_voiced_s: float | None,
    first_audio_s: float | None,
) -> JudgedTurn:
    """A turn's figures as the server reported them (``response.metadata``), with voice to voice
    as the client timed it (the server's own beside it)."""
    metrics: dict[str, Any] = {key: _number(value) for key, value in metadata.items()}
    metrics["server_voice_to_voice_ms"] = metrics.get("voice_to_voice_ms")
    if last_voiced_s is not None and first_audio_s is not None:
        metrics["voice_to_voice_ms"] = round((first_audio_s - last_voiced_s) * 1000, 1)
    return JudgedTurn.judged(prompt, transcript, reply, metrics)


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
    transport: Transport = "websocket",
    progress: Callable[[str], None] = lambda _message: None,
) -> BenchReport:
    from parley.bench.rtc_client import rtc_server_turn

    one_turn = rtc_server_turn if transport == "webrtc" else _server_turn
    api_key = existing_api_key(settings)
    tts = make_tts(settings.tts, models_dir=settings.models_dir) if audio_dir is None else None
    prompts = choose_prompts(settings, audio_dir, tts)  # type: ignore[arg-type]
    report = BenchReport()
    started = time.perf_counter()
    for index in range(warmup_turns):
        progress(f"warm-up {index + 1}/{warmup_turns}")
        report.warmup.append(
            asyncio.run(one_turn(server_url, api_key, prompts[index % len(prompts)]))
        )
    for run in range(runs):
        for index, prompt in enumerate(prompts):
            progress(f"turn {run * len(prompts) + index + 1}/{runs * len(prompts)}: {prompt.text}")
            report.turns.append(asyncio.run(one_turn(server_url, api_key, prompt)))
    report.wall_s = time.perf_counter() - started
    return report


def _server_rss_mib(server_url: str, api_key: str) -> float | None:
    """The server's resident memory, from its own /metrics."""
    import urllib.request

    request = urllib.request.Request(
        server_url.rstrip("/") + "/metrics", headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("process_resident_memory_bytes "):
                return round(float(line.split()[1]) / 2**20, 1)
    return None


async def _load_step(
    server_url: str, api_key: str, prompts: list[Prompt], *, sessions: int, runs: int
) -> dict[str, Any]:
    async def one_session(number: int) -> tuple[list[float], int]:
        latencies: list[float] = []
        failures = 0
        # Each session starts at a different prompt, so they do not all say the same thing.
        order = prompts[number % len(prompts) :] + prompts[: number % len(prompts)]
        for _ in range(runs):
            for prompt in order:
                try:
                    turn = await _server_turn(server_url, api_key, prompt)
                except Exception:
                    failures += 1
                    continue
                value = turn.metrics.get("voice_to_voice_ms")
                if isinstance(value, int | float):
                    latencies.append(float(value))
                else:
                    failures += 1  # no reply audio: the turn failed for its user
        return latencies, failures

    rss_before = await asyncio.to_thread(_server_rss_mib, server_url, api_key)
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one_session(number) for number in range(sessions)))
    latencies = [value for values, _ in outcomes for value in values]
    return {
        "sessions": sessions,
        "turns": len(latencies) + sum(failed for _, failed in outcomes),
        "failed_turns": sum(failed for _, failed in outcomes),
        "voice_to_voice_ms": spread(latencies),
        "wall_s": round(time.perf_counter() - started, 1),
        "server_rss_mib_before": rss_before,
        "server_rss_mib_after": await asyncio.to_thread(_server_rss_mib, server_url, api_key),
    }


def run_load_bench(
    settings: Settings,
    *,
    server_url: str,
    audio_dir: Path | None,
    session_counts: list[int],
    runs: int,
    progress: Callable[[str], None] = lambda _message: None,
) -> dict[str, Any]:
    from parley.ops.machine import describe_cpu

    api_key = existing_api_key(settings)
    tts = make_tts(settings.tts, models_dir=settings.models_dir) if audio_dir is None else None
    prompts = choose_prompts(settings, audio_dir, tts)  # type: ignore[arg-type]
    progress("warm-up")
    asyncio.run(_server_turn(server_url, api_key, prompts[0]))
    steps = []
    for count in session_counts:
        progress(f"{count} concurrent sessions")
        steps.append(
            asyncio.run(_load_step(server_url, api_key, prompts, sessions=count, runs=runs))
        )
    return {"machine": describe_cpu(), "server": server_url, "load": steps}


def format_load_table(report: dict[str, Any]) -> str:
    lines = [
        f"{'sessions':>8}{'turns':>7}{'failed':>8}{'v2v median':>12}{'v2v p90':>10}  {'server RSS MiB':>20}"
    ]
    for step in report["load"]:
        figures = step["voice_to_voice_ms"]
        rss = f"{step['server_rss_mib_before']} -> {step['server_rss_mib_after']}"
        lines.append(
            f"{step['sessions']:>8}{step['turns']:>7}{step['failed_turns']:>8}"
            f"{figures['median']!s:>12}{figures['p90']!s:>10}  {rss:>20}"
        )
    return "\n".join(lines)
