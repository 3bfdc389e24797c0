"""`parley bench --wyoming URI …`: any Wyoming server measured as Home Assistant uses it, from
the client's side, so Parley and the reference servers (wyoming-faster-whisper, wyoming-piper)
are measured by the same code on the same prompts.

- **asr**: each prompt sent whole (as a client whose own VAD has just heard the end), then
  ``audio-stop``; the time from ``audio-stop`` to the final ``transcript``, and its word errors.
- **tts**: one sentence streamed word by word inside ``synthesize-start``…``synthesize-stop``;
  the time from the chunk that completes it to its first ``audio-chunk`` (a server that holds
  the finished sentence for more text is counted apart, with its first audio after the stop).
  And a whole ``synthesize`` of the same sentence to its first audio.
- **handle**: each prompt's words as a ``transcript``; the time to the first ``handled-chunk``
  (or to ``handled`` from a server that does not stream).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_file
from parley.bench.figures import word_errors
from parley.bench.prompts import Prompt
from parley.ops.spread import spread

SENTENCES = (
    "The kitchen light is on and the front door is locked.",
    "It is twenty one degrees in the living room right now.",
    "Your timer for the pasta has ten minutes left.",
)
READ_TIMEOUT_S = 120
HOLD_LIMIT_S = 3.0  # a finished sentence not spoken within this is held for more text
CHUNK_SAMPLES = 1024


async def measure_server(uri: str, prompts: list[Prompt], *, runs: int) -> dict[str, Any]:
    """The figures of every program the server at ``uri`` offers."""
    parsed = urlsplit(uri)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 10700
    async with _client(host, port) as connection:
        await connection.write_event(Describe().event())
        info = Info.from_event(await _expect(connection, "info"))
    report: dict[str, Any] = {"server": uri}
    if info.asr:
        report["asr"] = await _asr(host, port, prompts, runs, info.asr[0].name)
    if info.tts:
        report["tts"] = await _tts(host, port, runs, info.tts[0].name)
    if info.handle:
        report["handle"] = await _handle(host, port, prompts, runs, info.handle[0].name)
    return report


async def _asr(host: str, port: int, prompts: list[Prompt], runs: int, name: str) -> dict[str, Any]:
    stop_to_transcript_ms: list[float] = []
    errors = words = 0
    for run in range(runs):
        for prompt in prompts:
            samples = decode_file(prompt.path)
            async with _client(host, port) as connection:
                await connection.write_event(Transcribe(language="en").event())
                await connection.write_event(
                    AudioStart(rate=INPUT_SAMPLE_RATE_HZ, width=2, channels=1).event()
                )
                for start in range(0, samples.size, CHUNK_SAMPLES):
                    pcm = samples[start : start + CHUNK_SAMPLES].astype("<i2").tobytes()
                    await connection.write_event(
                        AudioChunk(
                            rate=INPUT_SAMPLE_RATE_HZ, width=2, channels=1, audio=pcm
                        ).event()
                    )
                stopped = time.perf_counter()
                await connection.write_event(AudioStop().event())
                text = Transcript.from_event(await _expect(connection, "transcript")).text
                stop_to_transcript_ms.append((time.perf_counter() - stopped) * 1000)
            if run == 0 and prompt.text:
                wrong, total = word_errors(prompt.text, text)
                errors, words = errors + wrong, words + total
    return {
        "program": name,
        "stop_to_transcript_ms": spread(stop_to_transcript_ms),
        "word_error_rate": round(errors / words, 3) if words else None,
    }


async def _tts(host: str, port: int, runs: int, name: str) -> dict[str, Any]:
    streamed_ms: list[float] = []
    after_stop_ms: list[float] = []
    held = 0
    whole_ms: list[float] = []
    for _ in range(runs):
        for sentence in SENTENCES:
            async with _client(host, port) as connection:
                await connection.write_event(SynthesizeStart().event())
                words = sentence.split(" ")
                for word in words[:-1]:
                    await connection.write_event(SynthesizeChunk(word + " ").event())
                completed = time.perf_counter()
                await connection.write_event(SynthesizeChunk(words[-1] + " ").event())
                try:
                    await asyncio.wait_for(_expect(connection, "audio-chunk"), HOLD_LIMIT_S)
                    streamed_ms.append((time.perf_counter() - completed) * 1000)
                    await connection.write_event(SynthesizeStop().event())
                except TimeoutError:
                    # The server holds a finished sentence until more text comes (or the
                    # stream stops): its first audio waits on the next sentence.
                    held += 1
                    stopped = time.perf_counter()
                    await connection.write_event(SynthesizeStop().event())
                    await _expect(connection, "audio-chunk")
                    after_stop_ms.append((time.perf_counter() - stopped) * 1000)
                await _expect(connection, "synthesize-stopped")
            async with _client(host, port) as connection:
                asked = time.perf_counter()
                await connection.write_event(Synthesize(sentence).event())
                await _expect(connection, "audio-chunk")
                whole_ms.append((time.perf_counter() - asked) * 1000)
                await _expect(connection, "audio-stop")
    return {
        "program": name,
        "streamed_first_audio_ms": spread(streamed_ms),
        # Sentences not spoken until synthesize-stop, and their first audio after the stop.
        "sentences_held_until_stop": held,
        "held_first_audio_after_stop_ms": spread(after_stop_ms),
        "whole_first_audio_ms": spread(whole_ms),
    }


async def _handle(
    host: str, port: int, prompts: list[Prompt], runs: int, name: str
) -> dict[str, Any]:
    first_chunk_ms: list[float] = []
    whole_ms: list[float] = []
    for run in range(runs):
        for index, prompt in enumerate(prompts):
            context = {"conversation_id": f"parley-bench-{run}-{index}-{time.time_ns()}"}
            async with _client(host, port) as connection:
                asked = time.perf_counter()
                await connection.write_event(Transcript(prompt.text, context=context).event())
                first: float | None = None
                while True:
                    event = await _expect(connection, "handled-chunk", "handled", "not-handled")
                    if first is None:
                        first = (time.perf_counter() - asked) * 1000
                    if event.type != "handled-chunk":
                        break
                whole_ms.append((time.perf_counter() - asked) * 1000)
                assert first is not None
                first_chunk_ms.append(first)
    return {
        "program": name,
        "first_chunk_ms": spread(first_chunk_ms),
        "handled_ms": spread(whole_ms),
    }


def _client(host: str, port: int) -> AsyncTcpClient:
    return AsyncTcpClient(host, port, connect_timeout=10, read_timeout=READ_TIMEOUT_S)


async def _expect(connection: AsyncTcpClient, *types: str) -> Event:
    """The next event of one of ``types`` (others pass by); an error or a closed socket fails."""
    while True:
        event = await connection.read_event()
        if event is None:
            raise ConnectionError(f"the server closed the connection before {types[0]}")
        if event.type == "error":
            raise RuntimeError(f"the server answered with an error: {event.data}")
        if event.type in types:
            return event


def run_wyoming_bench(uris: list[str], prompts: list[Prompt], *, runs: int) -> list[dict[str, Any]]:
    """Each server in turn (never at once: they share the machine's cores)."""

    async def all_servers() -> list[dict[str, Any]]:
        return [await measure_server(uri, prompts, runs=runs) for uri in uris]

    return asyncio.run(all_servers())


def format_wyoming_table(reports: list[dict[str, Any]], cpu: str) -> str:
    lines = [f"Wyoming servers measured from the client, on {cpu}", ""]
    header = f"{'server':<28} {'figure':<44} {'median':>8} {'p90':>8}"
    lines += [header, "-" * len(header)]
    for report in reports:
        for program, figures in report.items():
            if program == "server":
                continue
            for figure, value in figures.items():
                if isinstance(value, dict) and value["median"] is not None:
                    name = f"{program} {figures['program']}: {figure}"
                    lines.append(
                        f"{report['server']:<28} {name:<44} "
                        f"{value['median']:>8.0f} {value['p90']:>8.0f}"
                    )
                elif figure == "word_error_rate" and value is not None:
                    name = f"{program} {figures['program']}: word error rate"
                    lines.append(f"{report['server']:<28} {name:<44} {value:>8.3f}")
                elif figure == "sentences_held_until_stop":
                    name = f"{program} {figures['program']}: sentences held until stop"
                    lines.append(f"{report['server']:<28} {name:<44} {value:>8d}")
    return "\n".join(lines)
