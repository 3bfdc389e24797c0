"""`parley eval --answers`: whether spoken everyday questions get right answers.

Each question of ``answer_set`` is spoken by one of eight voices in turn (Piper, flite's three,
espeak-ng's American, British, Scottish and Caribbean English), in a conversation of its own,
through the whole live pipeline paced in real time (the bench's ``run_turn``), on a scratch
database. Each reply is judged:

- right: it holds one of the question's accepted words, and nothing internal;
- asked again: Parley said it could not make the question out;
- misheard: wrong, and a quarter or more of the question's words were heard wrong;
- wrong: wrong, though the question was heard.

It also counts the replies that repeated Parley's instructions, and the facts kept: first the
statements the user asks to remember are said, and no other question may store a fact.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import resample, write_wav
from parley.bench.answer_set import (
    ANSWER_SET,
    ANSWER_VOICES,
    MEMORY_QUESTIONS,
    TO_REMEMBER,
    AnswerCase,
)
from parley.bench.figures import word_errors
from parley.bench.prompts import Prompt
from parley.bench.run import run_turn
from parley.config.settings import Settings
from parley.memory.store import LOCAL_USER
from parley.pipeline.internal_words import ASK_AGAIN, InternalWords
from parley.pipeline.runtime import Runtime

_MISHEARD_WORD_ERROR_RATE = 0.25
_LEAD = np.zeros(INPUT_SAMPLE_RATE_HZ // 2, np.int16)  # half a second before the user speaks


@dataclass(frozen=True, slots=True)
class AnsweredCase:
    kind: str
    voice: str
    question: str
    heard: str
    reply: str
    verdict: str  # right, asked again, misheard, wrong
    is_internal: bool
    voice_to_voice_ms: float | None


@dataclass(slots=True)
class AnswersReport:
    cases: list[AnsweredCase] = field(default_factory=list)
    facts_asked: int = 0  # statements the user asked Parley to remember
    facts_kept: list[str] = field(default_factory=list)  # stored from those statements
    facts_from_questions: list[str] = field(default_factory=list)  # stored by the questions

    def share(self, verdict: str, cases: Sequence[AnsweredCase] | None = None) -> float:
        cases = self.cases if cases is None else cases
        return sum(c.verdict == verdict for c in cases) / len(cases) if cases else 0.0

    def by(self, key: Callable[[AnsweredCase], str]) -> dict[str, list[AnsweredCase]]:
        groups: dict[str, list[AnsweredCase]] = {}
        for case in self.cases:
            groups.setdefault(key(case), []).append(case)
        return groups

    def as_dict(self) -> dict[str, Any]:
        def summary(cases: list[AnsweredCase]) -> dict[str, Any]:
            latencies = [c.voice_to_voice_ms for c in cases if c.voice_to_voice_ms is not None]
            return {
                "questions": len(cases),
                "right": round(self.share("right", cases), 3),
                "asked_again": round(self.share("asked again", cases), 3),
                "misheard": round(self.share("misheard", cases), 3),
                "wrong": round(self.share("wrong", cases), 3),
                "voice_to_voice_ms": _figures(latencies),
            }

        return {
            "overall": summary(self.cases),
            "by_voice": {voice: summary(c) for voice, c in self.by(lambda c: c.voice).items()},
            "by_kind": {kind: summary(c) for kind, c in self.by(lambda c: c.kind).items()},
            "internal_words_spoken": sum(c.is_internal for c in self.cases),
            "facts_asked": self.facts_asked,
            "facts_kept": self.facts_kept,
            "facts_from_questions": self.facts_from_questions,
            "cases": [
                {
                    "kind": c.kind,
                    "voice": c.voice,
                    "question": c.question,
                    "heard": c.heard,
                    "reply": c.reply,
                    "verdict": c.verdict,
                    "internal": c.is_internal,
                    "voice_to_voice_ms": c.voice_to_voice_ms,
                }
                for c in self.cases
            ],
        }

    def format(self) -> str:
        figures = self.as_dict()
        lines = [_line("overall", figures["overall"]), "by voice:"]
        lines += [f"  {_line(voice, s)}" for voice, s in figures["by_voice"].items()]
        lines.append("by kind:")
        lines += [f"  {_line(kind, s)}" for kind, s in figures["by_kind"].items()]
        lines.append(
            f"internal words spoken: {figures['internal_words_spoken']}; facts kept "
            f"{len(self.facts_kept)} of {self.facts_asked} asked, "
            f"{len(self.facts_from_questions)} from the questions {self.facts_from_questions}"
        )
        lines.append("not right:")
        lines += [
            f"  [{c.verdict}] {c.voice}: {c.question!r} heard {c.heard!r} -> {c.reply!r}"
            for c in self.cases
            if c.verdict != "right"
        ]
        return "\n".join(lines)


def _figures(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"n": len(values), "median": round(statistics.median(values), 1), "p90": round(p90, 1)}


def _line(name: str, summary: dict[str, Any]) -> str:
    latency = summary["voice_to_voice_ms"]
    return (
        f"{name:24s} {summary['questions']:4d} questions: right {summary['right']:.1%}, "
        f"asked again {summary['asked_again']:.1%}, misheard {summary['misheard']:.1%}, "
        f"wrong {summary['wrong']:.1%}; voice to voice median {latency['median']} ms, "
        f"p90 {latency['p90']} ms"
    )


async def _spoken(runtime: Runtime, text: str, voice: str, path: Path) -> Path:
    tts = runtime.backends.tts_for(voice)
    chunks = [chunk async for chunk in tts.synthesize(text)]
    audio = resample(np.concatenate(chunks), tts.sample_rate_hz, INPUT_SAMPLE_RATE_HZ)
    write_wav(path, np.concatenate([_LEAD, audio]), INPUT_SAMPLE_RATE_HZ)
    return path


def judge(case: AnswerCase, voice: str, heard: str, reply: str, v2v_ms: float | None,
          internal: InternalWords) -> AnsweredCase:  # fmt: skip
    """One reply's verdict (see the module's docstring)."""
    is_internal = internal.is_internal(reply)
    errors, words = word_errors(case.question, heard)
    if (
        Prompt(case.question, Path(), expected=case.accepted).is_addressed_by(reply)
        and not is_internal
    ):
        verdict = "right"
    elif reply.strip() == ASK_AGAIN:
        verdict = "asked again"
    elif words and errors / words >= _MISHEARD_WORD_ERROR_RATE:
        verdict = "misheard"
    else:
        verdict = "wrong"
    return AnsweredCase(case.kind, voice, case.question, heard, reply, verdict, is_internal, v2v_ms)


async def evaluate_answers(
    settings: Settings,
    *,
    voices: Sequence[str] = ANSWER_VOICES,
    limit: int | None = None,
    progress: Callable[[AnsweredCase], None] | None = None,
) -> AnswersReport:
    """Speak the answer set (the first ``limit`` questions) and judge every reply."""
    report = AnswersReport()
    cases = [*ANSWER_SET, *MEMORY_QUESTIONS]
    if limit is not None:
        cases = cases[:limit]
    asks_memory = any(case.kind == "memory" for case in cases)
    with tempfile.TemporaryDirectory(prefix="parley-eval-") as scratch:
        folder = Path(scratch)
        async with Runtime.open(settings, database_path=folder / "eval.sqlite3") as runtime:
            internal = InternalWords([settings.llm.system_prompt])
            if asks_memory:
                for index, statement in enumerate(TO_REMEMBER):
                    voice = voices[index % len(voices)]
                    path = await _spoken(runtime, statement, voice, folder / f"keep-{index}.wav")
                    await run_turn(runtime, Prompt(statement, path))
                report.facts_asked = len(TO_REMEMBER)
            kept = await asyncio.to_thread(runtime.store.memories, LOCAL_USER)
            report.facts_kept = [item.text for item in kept]
            for index, case in enumerate(cases):
                voice = voices[index % len(voices)]
                path = await _spoken(runtime, case.question, voice, folder / f"q-{index}.wav")
                turn = await run_turn(
                    runtime, Prompt(case.question, path, case.kind, case.accepted)
                )
                v2v = turn.metrics.get("voice_to_voice_ms")
                answered = judge(case, voice, turn.transcript, turn.reply, v2v, internal)
                report.cases.append(answered)
                if progress is not None:
                    progress(answered)
            memories = await asyncio.to_thread(runtime.store.memories, LOCAL_USER)
            report.facts_from_questions = [
                item.text for item in memories if item.text not in report.facts_kept
            ]
    return report
