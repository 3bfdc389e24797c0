"""`parley bench`: voice-to-voice latency measured through the live pipeline, honestly.

Each spoken prompt is streamed in real time, in 20 ms frames, through the same Session a user
talks to (or over the realtime WebSocket of a running server), followed by silence as a
microphone would send it. The figures come from the pipeline's own per-turn metrics; the bench
only collects them, and reports medians and p90 with warm-up turns apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio import decode_file, resample, write_wav
from parley.audio_io import RealtimePlaybackSink, frames_from_samples
from parley.backends import TextToSpeech
from parley.backends.loaded import Backends
from parley.config import Settings
from parley.errors import AudioDecodeError
from parley.events import AudioFrame, FinalTranscript, Int16Array, SpeechStarted
from parley.machine import cpu_line, describe_cpu
from parley.runtime import Runtime

DEFAULT_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "What colour is the sky on a clear day?",
    "Can you name a fruit that is yellow?",
    "What is two plus three?",
    "Who wrote Romeo and Juliet?",
    "What is the opposite of hot?",
    "How many legs does a spider have?",
    "What do bees make?",
    "What is the largest planet in our solar system?",
)
# Half the prompts in the embedded Piper voice, half in espeak-ng voices, so that STT is not
# only ever measured on one speaker.
_ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us+m3")

FIGURES = (
    "voice_to_voice_ms",
    "endpoint_ms",
    "stt_ms",
    "llm_ttft_ms",
    "first_sentence_ms",
    "tts_first_audio_ms",
    "text_to_voice_ms",
    "tts_rtf",
    "llm_tokens_per_s",
)


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    path: Path


@dataclass(slots=True)
class TurnFigures:
    prompt: str
    transcript: str
    reply: str
    metrics: dict[str, Any]
    word_errors: int
    reference_words: int


@dataclass(slots=True)
class BenchReport:
    turns: list[TurnFigures] = field(default_factory=list)
    warmup: list[TurnFigures] = field(default_factory=list)
    interruption_ms: list[float] = field(default_factory=list)
    model_load_s: float | None = None
    stt_rtf: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        for name in FIGURES:
            values = [t.metrics[name] for t in self.turns if t.metrics.get(name) is not None]
            figures[name] = spread(values)
        figures["interruption_ms"] = spread(self.interruption_ms)
        figures["stt_rtf"] = spread(self.stt_rtf)
        errors = sum(t.word_errors for t in self.turns)
        words = sum(t.reference_words for t in self.turns)
        return {
            "machine": describe_cpu(),
            "turns": len(self.turns),
            "figures": figures,
            "word_error_rate": round(errors / words, 4) if words else None,
            "cold_start": {
                "model_load_s": self.model_load_s,
                "first_turn_voice_to_voice_ms": self.warmup[0].metrics.get("voice_to_voice_ms")
                if self.warmup
                else None,
            },
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cpu_percent": round(100 * self.cpu_s / self.wall_s, 1) if self.wall_s else None,
            "per_prompt": [
                {
                    "prompt": t.prompt,
                    "transcript": t.transcript,
                    "reply": t.reply,
                    **{name: t.metrics.get(name) for name in FIGURES},
                }
                for t in self.turns
            ],
        }


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    digits = 3 if ordered[-1] < 10 else 1  # real-time factors are small ratios
    return {
        "median": round(statistics.median(ordered), digits),
        "p90": round(p90, digits),
        "n": len(ordered),
    }


_NUMBER_WORDS: dict[str, str] = {
    str(number): word
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word-level edit distance, after case and punctuation are set aside."""

    def words(text: str) -> list[str]:
        cleaned = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower())
        # "2" and "two", "colour" and "color" are the same word heard: not an error.
        return [_NUMBER_WORDS.get(w, w) for w in cleaned.replace("colour", "color").split()]

    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)
            )
        previous = current
    return previous[-1], len(ref)


def make_default_prompts(directory: Path, tts: TextToSpeech) -> list[Prompt]:
    """Speak the default questions once (Piper and espeak-ng voices) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    prompts: list[Prompt] = []
    for index, text in enumerate(DEFAULT_PROMPTS):
        path = directory / f"{index:02d}.wav"
        if not path.exists():
            if index % 2 == 0:
                audio = asyncio.run(_say(tts, text))
            else:
                audio = _espeak_say(text, _ESPEAK_VOICES[(index // 2) % len(_ESPEAK_VOICES)])
            lead = np.zeros(8_000, dtype=np.int16)  # half a second before the user speaks
            write_wav(path, np.concatenate([lead, audio]), 16_000)
            path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        prompts.append(Prompt(text, path))
    return prompts


async def _say(tts: TextToSpeech, text: str) -> Int16Array:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return resample(np.concatenate(chunks), tts.sample_rate_hz, 16_000)


def _espeak_say(text: str, voice: str) -> Int16Array:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
        return decode_file(raw)


def load_prompts(directory: Path) -> list[Prompt]:
    """WAV files, each with a .txt of what it says (for the word error rate)."""
    prompts = []
    for path in sorted(directory.glob("*.wav")):
        text_path = path.with_suffix(".txt")
        text = text_path.read_text(encoding="utf-8").strip() if text_path.exists() else ""
        prompts.append(Prompt(text, path))
    return prompts


def choose_prompts(settings: Settings, audio_dir: Path | None, tts: TextToSpeech) -> list[Prompt]:
    if audio_dir is None:
        return make_default_prompts(settings.data_dir / "bench-prompts", tts)
    prompts = load_prompts(audio_dir)
    if not prompts:
        raise AudioDecodeError(
            f"No .wav prompts in {audio_dir}: give WAV files with a .txt of each."
        )
    return prompts


async def run_turn(runtime: Runtime, prompt: Prompt) -> TurnFigures:
    """One spoken prompt through a fresh session, paced in real time, heard by a loudspeaker."""
    backends = runtime.backends
    sink = RealtimePlaybackSink(backends.settings.audio.output_sample_rate_hz)
    transcripts: list[str] = []

    def observe(event: object) -> None:
        if isinstance(event, FinalTranscript):
            transcripts.append(event.text)

    session = runtime.session(sink=sink, observer=observe)
    frames = frames_from_samples(
        decode_file(prompt.path),
        frame_ms=backends.settings.audio.frame_ms,
        is_realtime=True,
        trailing_silence_ms=backends.settings.vad.end_silence_ms + 300,
        keep_going=lambda: session.is_busy,
    )
    await session.listen(frames)
    await session.wait_for_replies()
    result = session.results[-1] if session.results else None
    transcript = " ".join(transcripts)
    errors, words = word_errors(prompt.text, transcript)
    metrics = dict(result.metrics) if result else {}
    if metrics.get("first_sentence_ms") is not None and metrics.get("llm_ttft_ms") is not None:
        metrics["first_clause_ms"] = round(metrics["first_sentence_ms"] - metrics["llm_ttft_ms"], 1)
    return TurnFigures(
        prompt.text, transcript, result.reply_text if result else "", metrics, errors, words
    )


async def run_interruption(runtime: Runtime, first: Prompt, second: Prompt) -> float | None:
    """Start ``second`` while the reply to ``first`` plays; time from its onset to silence."""
    backends = runtime.backends
    rate_hz = backends.settings.audio.output_sample_rate_hz
    sink = RealtimePlaybackSink(rate_hz)
    onsets: list[int] = []

    def observe(event: object) -> None:
        if isinstance(event, SpeechStarted):
            onsets.append(event.onset_t_ns)

    session = runtime.session(sink=sink, observer=observe)
    first_audio, second_audio = decode_file(first.path), decode_file(second.path)

    def reply_not_heard_for_half_a_second() -> bool:
        return bool(sink.played_samples(sink.current_turn_id) < rate_hz // 2)

    async def frames() -> AsyncIterator[AudioFrame]:
        # The first question, then silence until its reply has played for half a second (at
        # most 10 s), then the second question over the reply.
        async for frame in frames_from_samples(
            first_audio,
            frame_ms=20,
            is_realtime=True,
            trailing_silence_ms=0,
            keep_going=reply_not_heard_for_half_a_second,
            max_trailing_ms=10_000,
        ):
            yield frame
            position = frame.start_sample + frame.samples.size
        async for frame in frames_from_samples(
            second_audio,
            frame_ms=20,
            is_realtime=True,
            trailing_silence_ms=800,
            keep_going=lambda: session.is_busy,
            start_sample=position,
        ):
            yield frame

    await session.listen(frames())
    await session.wait_for_replies()
    silenced_ns = sink.last_silenced_t_ns
    if len(onsets) < 2 or silenced_ns is None or silenced_ns < onsets[1]:
        return None
    return round((silenced_ns - onsets[1]) / 1e6, 1)


async def measure_stt_rtf(backends: Backends, prompts: list[Prompt]) -> list[float]:
    ratios = []
    for prompt in prompts:
        audio = decode_file(prompt.path)
        transcript = await backends.stt.transcribe(audio, is_final=True)
        ratios.append(round(transcript.decode_ms / max(1, transcript.audio_ms), 3))
    return ratios


def run_bench(
    settings: Settings,
    *,
    audio_dir: Path | None,
    runs: int,
    warmup_turns: int,
    interruptions: int,
    progress: Callable[[str], None] = lambda _message: None,
) -> BenchReport:
    report = BenchReport()
    load_started = time.perf_counter()
    backends = Backends.load(settings)
    report.model_load_s = round(time.perf_counter() - load_started, 2)
    prompts = choose_prompts(settings, audio_dir, backends.tts)
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(
            _run_all(
                report,
                backends,
                Path(scratch) / "bench.sqlite3",
                prompts,
                runs=runs,
                warmup_turns=warmup_turns,
                interruptions=interruptions,
                progress=progress,
            )
        )
    return report


async def _run_all(
    report: BenchReport,
    backends: Backends,
    database_path: Path,
    prompts: list[Prompt],
    *,
    runs: int,
    warmup_turns: int,
    interruptions: int,
    progress: Callable[[str], None],
) -> None:
    """Every turn in one event loop, on the runtime a user's turns get (tools and memory)."""
    async with Runtime.open(
        backends.settings, backends=backends, database_path=database_path
    ) as runtime:
        started_wall, started_cpu = time.perf_counter(), _cpu_seconds()
        for index in range(warmup_turns):
            progress(f"warm-up {index + 1}/{warmup_turns}")
            report.warmup.append(await run_turn(runtime, prompts[index % len(prompts)]))
        total = runs * len(prompts)
        for run in range(runs):
            for index, prompt in enumerate(prompts):
                progress(f"turn {run * len(prompts) + index + 1}/{total}: {prompt.text}")
                report.turns.append(await run_turn(runtime, prompt))
        for index in range(interruptions):
            progress(f"interruption {index + 1}/{interruptions}")
            first, second = prompts[index % len(prompts)], prompts[(index + 1) % len(prompts)]
            value = await run_interruption(runtime, first, second)
            if value is not None:
                report.interruption_ms.append(value)
        report.wall_s = time.perf_counter() - started_wall
        report.cpu_s = _cpu_seconds() - started_cpu
        report.stt_rtf = await measure_stt_rtf(backends, prompts)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def plot(report: BenchReport, path: Path) -> None:
    """Per turn, when each stage ran, from the user's last voiced sample to the first sound.

    Stages are drawn where they happened, not stacked: a reply started speculatively on a pause
    shows its LLM and TTS work overlapping the end-of-turn wait.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{i + 1}. {t.prompt[:24]}" for i, t in enumerate(report.turns)]
    figure, axis = plt.subplots(figsize=(11, 0.45 * len(labels) + 1.8))
    colours = {
        "end of turn wait": "#4c72b0",
        "speech to text after the turn": "#dd8452",
        "LLM first token": "#55a868",
        "first clause": "#c44e52",
        "speech synthesis": "#8172b2",
    }
    drawn: set[str] = set()  # each stage named once in the legend
    for row, turn in enumerate(report.turns):
        m = turn.metrics
        endpoint = m.get("endpoint_ms")
        stt_done = (
            endpoint + m["stt_ms"] if endpoint is not None and m.get("stt_ms") is not None else None
        )
        spans = {
            "speech to text after the turn": (endpoint, stt_done),
            "LLM first token": (m.get("llm_request_at_ms"), m.get("llm_first_token_at_ms")),
            "first clause": (m.get("llm_first_token_at_ms"), m.get("first_sentence_at_ms")),
            "speech synthesis": (m.get("first_sentence_at_ms"), m.get("voice_to_voice_ms")),
        }
        if endpoint is not None:
            # A thin bar above the reply's own: a speculative reply overlaps this wait.
            axis.barh(
                row - 0.32,
                endpoint,
                color=colours["end of turn wait"],
                height=0.16,
                label="end of turn wait" if row == 0 else None,
            )
        for name, (start, end) in spans.items():
            if start is not None and end is not None and end > start:
                axis.barh(
                    row + 0.08,
                    end - start,
                    left=start,
                    color=colours[name],
                    height=0.5,
                    label=name if name not in drawn else None,
                )
                drawn.add(name)
        if m.get("voice_to_voice_ms") is not None:
            axis.plot(m["voice_to_voice_ms"], row, marker="|", color="black", markersize=14)
    axis.axvline(500, color="black", linestyle="--", linewidth=1, label="500 ms target")
    axis.set_xlim(left=0)
    axis.set_yticks(range(len(labels)), labels)
    axis.invert_yaxis()
    axis.set_xlabel("milliseconds from the user's last voiced sample (| = first reply sound)")
    summary = report.summary()["figures"]["voice_to_voice_ms"]
    axis.set_title(f"Parley voice-to-voice: median {summary['median']} ms, p90 {summary['p90']} ms")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"measured on {cpu_line(summary['machine'])}",
        f"{'figure':<22}{'median':>10}{'p90':>10}{'n':>5}",
    ]
    for name, spread in summary["figures"].items():
        if spread["n"]:
            lines.append(f"{name:<22}{spread['median']:>10}{spread['p90']:>10}{spread['n']:>5}")
    lines.append(f"word error rate: {summary['word_error_rate']}")
    cold = summary["cold_start"]
    lines.append(
        f"cold start: model load {cold['model_load_s']} s, first turn {cold['first_turn_voice_to_voice_ms']} ms"
    )
    lines.append(
        f"peak RSS {summary['peak_rss_mib']} MiB, CPU {summary['cpu_percent']} % of one core"
    )
    return "\n".join(lines)


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
