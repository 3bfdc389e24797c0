"""`parley bench`: voice-to-voice latency measured through the live pipeline, honestly.

Each spoken prompt is streamed in real time, in 20 ms frames, through the same Session a user
talks to (or over the realtime WebSocket of a running server), followed by silence as a
microphone would send it. The figures come from the pipeline's own per-turn metrics; the bench
only collects them, and reports medians and p90 with warm-up turns apart.
"""

from __future__ import annotations

import asyncio
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley.audio.frames import Int16Array
from parley.audio.pcm import decode_file
from parley.audio.virtual_devices import RealtimePlaybackSink, frames_from_samples
from parley.bench.echo_trial import EchoTrial, echo_figures, run_echo_trials
from parley.bench.figures import (
    premature_end_rate,
    speculative_share,
    spread_by_kind,
    word_errors,
)
from parley.bench.hearing_figures import (
    DecodeRecorder,
    TranscriptsHeard,
    decode_whole_utterances,
    measure_stt_rtf,
    partial_figures,
    transcript_accuracy,
)
from parley.bench.interruption_trial import run_interruption
from parley.bench.piece_seams import SeamListener
from parley.bench.prompts import (
    PAUSE_TRIAL,
    EchoTrialAudio,
    Prompt,
    choose_prompts,
    make_echo_trial,
    make_long_reply_prompt,
    make_memory_trial,
    make_pause_trial,
)
from parley.config.settings import Settings
from parley.models.loaded import Backends
from parley.models.spare_cores import read_cpu_sample, usable_cores
from parley.ops.machine import describe_cpu
from parley.ops.spread import spread
from parley.pipeline.runtime import Runtime
from parley.pipeline.turn_figures import TURN_LATENCIES

FIGURES = (
    *TURN_LATENCIES,
    "text_to_voice_ms",
    "tts_rtf",
    "llm_tokens_per_s",
)


@dataclass(slots=True)
class JudgedTurn:
    prompt: str
    transcript: str
    reply: str
    metrics: dict[str, Any]
    word_errors: int
    reference_words: int
    turns_heard: int = 1  # final transcripts: more than one when a pause ended the turn early
    is_on_point: bool | None = None  # whether the reply addresses the prompt (None: not judged)
    audio_path: Path | None = None  # what was spoken
    heard_audio: list[Int16Array] = field(default_factory=list)  # what each final was decoded from
    pause_ms: int | None = None  # the pause trial's silence mid-question
    kind: str = ""  # the prompt's kind: fact, advice, joke, ...

    @classmethod
    def judged(
        cls,
        prompt: Prompt,
        transcript: str,
        reply: str,
        metrics: dict[str, Any],
        *,
        turns_heard: int = 1,
        heard_audio: list[Int16Array] | None = None,
    ) -> JudgedTurn:
        """A turn's figures, with its transcript's word errors and its reply judged."""
        errors, words = word_errors(prompt.text, transcript)
        return cls(
            prompt.text,
            transcript,
            reply,
            metrics,
            errors,
            words,
            turns_heard=turns_heard,
            is_on_point=prompt.is_addressed_by(reply),
            audio_path=prompt.path,
            heard_audio=heard_audio or [],
            pause_ms=prompt.pause_ms,
            kind=prompt.kind,
        )


@dataclass(slots=True)
class BenchReport:
    turns: list[JudgedTurn] = field(default_factory=list)
    warmup: list[JudgedTurn] = field(default_factory=list)
    interruption_ms: list[float] = field(default_factory=list)
    model_load_s: float | None = None
    stt_rtf: list[float] = field(default_factory=list)
    memory_trial: list[JudgedTurn] = field(default_factory=list)
    pause_trial: list[JudgedTurn] = field(default_factory=list)
    echo_trials: list[EchoTrial] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    # CPU time of other processes over the same span: figures taken beside them are slower.
    others_cpu_s: float = 0.0
    # Per set of prompts, Whisper's own decode of each whole utterance, in the set's order.
    whole_decodes: dict[str, list[str]] = field(default_factory=dict)

    def sets(self) -> dict[str, list[JudgedTurn]]:
        """The turns of each set of prompts, each prompt once."""
        distinct: dict[str, JudgedTurn] = {}
        for turn in self.turns:
            distinct.setdefault(turn.prompt, turn)
        return {
            "prompts": list(distinct.values()),
            "memory trial": self.memory_trial,
            "pause trial": self.pause_trial,
        }

    def summary(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        for name in FIGURES:
            values = [t.metrics[name] for t in self.turns if t.metrics.get(name) is not None]
            figures[name] = spread(values)
        figures["interruption_ms"] = spread(self.interruption_ms)
        figures["stt_rtf"] = spread(self.stt_rtf)
        # Silence heard where a sentence was cut into pieces to start speaking sooner.
        figures["piece_seam_ms"] = spread(
            [seam for t in self.turns for seam in t.metrics.get("piece_seams_ms", [])]
        )
        errors = sum(t.word_errors for t in self.turns)
        judged = [t for t in (*self.turns, *self.memory_trial) if t.is_on_point is not None]
        words = sum(t.reference_words for t in self.turns)
        return {
            "machine": describe_cpu(),
            "turns": len(self.turns),
            "figures": figures,
            "voice_to_voice_ms_by_kind": spread_by_kind(
                [(t.kind, t.metrics.get("voice_to_voice_ms")) for t in self.turns]
            ),
            "speculative_share": speculative_share([t.metrics for t in self.turns]),
            "partial_transcripts": partial_figures([t.metrics for t in self.turns]),
            "word_error_rate": round(errors / words, 4) if words else None,
            "transcript_accuracy": transcript_accuracy(self.sets(), self.whole_decodes),
            "replies_on_point": {
                "judged": len(judged),
                "on_point": sum(bool(t.is_on_point) for t in judged),
                "off_point": [
                    {"prompt": t.prompt, "reply": t.reply} for t in judged if not t.is_on_point
                ],
            },
            "memory_trial": [
                {"prompt": t.prompt, "reply": t.reply, "is_on_point": t.is_on_point}
                for t in self.memory_trial
            ],
            "echo": echo_figures(self.echo_trials),
            "premature_end_rate": premature_end_rate([t.turns_heard for t in self.pause_trial]),
            "premature_end_rate_by_pause_ms": {
                str(pause_ms): premature_end_rate(
                    [t.turns_heard for t in self.pause_trial if t.pause_ms == pause_ms]
                )
                for pause_ms in sorted({t.pause_ms for t in self.pause_trial if t.pause_ms})
            },
            "pause_trial": [
                {
                    "prompt": t.prompt,
                    "pause_ms": t.pause_ms,
                    "transcript": t.transcript,
                    "turns_heard": t.turns_heard,
                }
                for t in self.pause_trial
            ],
            "cold_start": {
                "model_load_s": self.model_load_s,
                "first_turn_voice_to_voice_ms": self.warmup[0].metrics.get("voice_to_voice_ms")
                if self.warmup
                else None,
            },
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cpu_percent": round(100 * self.cpu_s / self.wall_s, 1) if self.wall_s else None,
            "others_busy_cores": (
                round(max(0.0, self.others_cpu_s) / self.wall_s, 2) if self.wall_s else None
            ),
            "per_prompt": [
                {
                    "prompt": t.prompt,
                    "kind": t.kind,
                    "transcript": t.transcript,
                    "reply": t.reply,
                    **{name: t.metrics.get(name) for name in (*FIGURES, *_TIMELINE)},
                }
                for t in self.turns
            ],
        }


# When each stage began, from the last voiced sample, and what the turn model said.
_TIMELINE = (
    "llm_request_at_ms",
    "llm_first_token_at_ms",
    "first_sentence_at_ms",
    "turn_complete_probability",
)


async def run_turn(runtime: Runtime, prompt: Prompt) -> JudgedTurn:
    """One spoken prompt through a fresh session, paced in real time, heard by a loudspeaker."""
    backends = runtime.backends
    sink = RealtimePlaybackSink(backends.settings.audio.output_sample_rate_hz)
    heard = TranscriptsHeard()
    seams = SeamListener()

    def observe(event: object) -> None:
        seams.observe(event)
        heard.observe(event)

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
    transcripts = [final.text for final in heard.finals]
    metrics: dict[str, Any] = (result.figures.as_json() if result else {}) | heard.metrics()
    metrics["piece_seams_ms"] = seams.seams_ms(backends.settings.audio.output_sample_rate_hz)
    if metrics.get("first_sentence_ms") is not None and metrics.get("llm_ttft_ms") is not None:
        metrics["first_clause_ms"] = round(metrics["first_sentence_ms"] - metrics["llm_ttft_ms"], 1)
    reply = " ".join(r.reply_text for r in session.results)
    recorder = backends.stt if isinstance(backends.stt, DecodeRecorder) else None
    decoded_from = [recorder.audio_of(text) for text in transcripts] if recorder else []
    return JudgedTurn.judged(
        prompt,
        " ".join(transcripts),
        reply,
        metrics,
        turns_heard=len(transcripts),
        heard_audio=[audio for audio in decoded_from if audio is not None],
    )


@dataclass(frozen=True, slots=True)
class Trials:
    """Turns judged apart from the latency figures: memory's relevance, and premature ends."""

    memory: list[Prompt] = field(default_factory=list)
    pauses: list[Prompt] = field(default_factory=list)
    echo: EchoTrialAudio | None = None
    echo_repeats: int = 0  # trials of each kind, with echo cancellation on and off


def run_bench(
    settings: Settings,
    *,
    audio_dir: Path | None,
    runs: int,
    warmup_turns: int,
    interruptions: int,
    is_running_trials: bool = True,
    echo_trials: int = 2,
    pause_questions: int = len(PAUSE_TRIAL),
    progress: Callable[[str], None] = lambda _message: None,
) -> BenchReport:
    report = BenchReport()
    load_started = time.perf_counter()
    backends = Backends.load(settings)
    report.model_load_s = round(time.perf_counter() - load_started, 2)
    backends.stt = DecodeRecorder(backends.stt)
    prompts = choose_prompts(settings, audio_dir, backends.tts)
    bench_dir = settings.data_dir / "bench-prompts"
    long_reply = make_long_reply_prompt(bench_dir, backends.tts) if interruptions else None
    trials = Trials()
    if is_running_trials:
        trials = Trials(
            make_memory_trial(bench_dir, backends.tts),
            make_pause_trial(bench_dir, backends.tts, questions=pause_questions),
            make_echo_trial(backends.tts) if echo_trials else None,
            echo_trials,
        )
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(
            _run_all(
                report,
                backends,
                Path(scratch) / "bench.sqlite3",
                prompts,
                trials,
                long_reply,
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
    trials: Trials,
    long_reply: Prompt | None,
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
        cores = usable_cores()
        started_wall, started_cpu = time.perf_counter(), read_cpu_sample(cores)
        for index in range(warmup_turns):
            progress(f"warm-up {index + 1}/{warmup_turns}")
            report.warmup.append(await run_turn(runtime, prompts[index % len(prompts)]))
        total = runs * len(prompts)
        for run in range(runs):
            for index, prompt in enumerate(prompts):
                progress(f"turn {run * len(prompts) + index + 1}/{total}: {prompt.text}")
                report.turns.append(await run_turn(runtime, prompt))
        for prompt in trials.memory:
            progress(f"memory trial: {prompt.text}")
            report.memory_trial.append(await run_turn(runtime, prompt))
        for prompt in trials.pauses:
            progress(f"pause trial: {prompt.text}")
            report.pause_trial.append(await run_turn(runtime, prompt))
        if trials.echo is not None:
            report.echo_trials = await run_echo_trials(
                runtime, trials.echo, trials.echo_repeats, progress
            )
        for index in range(interruptions):
            if long_reply is None:
                break
            progress(f"interruption {index + 1}/{interruptions}")
            value = await run_interruption(runtime, long_reply, prompts[index % len(prompts)])
            if value is not None:
                report.interruption_ms.append(value)
        report.wall_s = time.perf_counter() - started_wall
        ended_cpu = read_cpu_sample(cores)
        report.cpu_s = ended_cpu.own_cpu_s - started_cpu.own_cpu_s
        report.others_cpu_s = ended_cpu.busy_cpu_s - started_cpu.busy_cpu_s - report.cpu_s
        report.stt_rtf = await measure_stt_rtf(backends, prompts)
        report.whole_decodes = await decode_whole_utterances(backends, report.sets())
