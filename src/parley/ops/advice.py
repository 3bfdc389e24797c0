"""Advice computed from what was measured on this machine: each rule reads figures (a running
server's recent turns, or `parley doctor --measure`) and says what to change and which figure
shows it. A rule with no figure to judge stays silent; none of this is canned text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from parley.config.settings import LlamaCppConfig, Settings


@dataclass(frozen=True, slots=True)
class MeasuredFigures:
    """What the rules judge. None: not measured (the rule that needs it says nothing)."""

    cores: int
    llm_threads: int | None = None
    stt_model: str | None = None
    stt_beam_size: int | None = None
    vad_threshold: float | None = None
    end_silence_ms: int | None = None
    turns: int = 0
    cancelled_turns: int = 0
    # Medians over the turns.
    voice_to_voice_ms: float | None = None
    endpoint_ms: float | None = None
    llm_ttft_ms: float | None = None
    llm_prompt_tokens: float | None = None
    llm_tokens_per_s: float | None = None
    stt_rtf: float | None = None  # final transcription time over the utterance's length
    # From `parley doctor --measure`: the LLM decoding alone, and while Whisper transcribes,
    # with llm.n_threads as configured and with one thread fewer.
    llm_tokens_per_s_alone: float | None = None
    llm_tokens_per_s_beside_stt: float | None = None
    fewer_threads_tokens_per_s_alone: float | None = None
    fewer_threads_tokens_per_s_beside_stt: float | None = None

    @classmethod
    def of(cls, settings: Settings, **measured: Any) -> MeasuredFigures:
        """What was ``measured``, beside this machine's cores and the config it ran with."""
        llm = settings.llm
        return cls(
            cores=os.cpu_count() or 1,
            llm_threads=llm.n_threads if isinstance(llm, LlamaCppConfig) else None,
            stt_model=settings.stt.model,
            stt_beam_size=settings.stt.beam_size,
            vad_threshold=settings.vad.threshold,
            end_silence_ms=settings.vad.end_silence_ms,
            **measured,
        )


@dataclass(frozen=True, slots=True)
class Advice:
    rule: str
    text: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": self.text, "figures": self.figures}


# Speech runs at ~3 words (~4 tokens) a second, and the first spoken piece is ~8 tokens: below
# this the LLM, not the pipeline, sets the pause before every reply.
SLOW_DECODE_TOKENS_PER_S = 12.0
# Decode that falls below this share of its solo speed while Whisper runs is fighting it for
# cores; one thread fewer is advised only if it gains this much beside Whisper and keeps this
# much of its solo speed.
CONTENTION_SHARE = 0.6
FEWER_THREADS_GAIN = 1.25
FEWER_THREADS_KEEP = 0.75
# Whisper taking this share of the utterance's length on the final pass is on the critical path
# (a 2 s question: 400 ms, most of the 500 ms aim).
SLOW_STT_RTF = 0.2
# At least this many turns, and this share of them cut by speech, before barge-ins are judged.
MIN_TURNS_FOR_BARGE_IN = 5
FREQUENT_BARGE_IN_SHARE = 0.3
LONG_FIRST_TOKEN_MS = 500.0
LONG_PROMPT_TOKENS = 800.0
LONG_ENDPOINT_MS = 600.0


def _decode_contention(figures: MeasuredFigures) -> Advice | None:
    """Fewer LLM threads, only where it was measured to pay: decoding beside Whisper gains more
    than a quarter and decoding alone loses less than a quarter. (On a 2-core AMD EPYC it does
    not: 23.5 -> 14.3 tokens/s alone for 10.2 -> 11.3 beside Whisper, so no advice there.)"""
    alone, beside = figures.llm_tokens_per_s_alone, figures.llm_tokens_per_s_beside_stt
    fewer_alone = figures.fewer_threads_tokens_per_s_alone
    fewer_beside = figures.fewer_threads_tokens_per_s_beside_stt
    threads = figures.llm_threads
    if alone is None or beside is None or fewer_alone is None or fewer_beside is None:
        return None
    if threads is None or threads < 2:
        return None
    if beside >= CONTENTION_SHARE * alone:
        return None  # no contention worth a change
    if fewer_beside < FEWER_THREADS_GAIN * beside or fewer_alone < FEWER_THREADS_KEEP * alone:
        return None
    return Advice(
        "llm_threads_contend_with_stt",
        f"LLM decoding falls from {alone:.0f} to {beside:.0f} tokens/s while Whisper transcribes "
        f"beside it. With llm.n_threads {threads - 1} it measured {fewer_beside:.0f} tokens/s "
        f"beside Whisper and {fewer_alone:.0f} alone: set llm.n_threads to {threads - 1}.",
        {
            "tokens_per_s_alone": alone,
            "tokens_per_s_beside_stt": beside,
            "fewer_threads_tokens_per_s_alone": fewer_alone,
            "fewer_threads_tokens_per_s_beside_stt": fewer_beside,
            "llm_threads": threads,
        },
    )


def _slow_decode(figures: MeasuredFigures) -> Advice | None:
    rate = figures.llm_tokens_per_s
    if rate is None or rate >= SLOW_DECODE_TOKENS_PER_S:
        return None
    first_piece_ms = round(8 / rate * 1000)
    return Advice(
        "llm_too_slow_for_speech",
        f"The LLM decodes {rate:.1f} tokens/s on this machine, so the first spoken piece alone "
        f"takes about {first_piece_ms} ms. A smaller GGUF (llm.model_path) or an "
        "OpenAI-compatible model server on faster hardware (llm.backend: openai) would answer "
        "sooner.",
        {"llm_tokens_per_s": rate},
    )


def _slow_stt(figures: MeasuredFigures) -> Advice | None:
    rtf = figures.stt_rtf
    if rtf is None or rtf <= SLOW_STT_RTF:
        return None
    shown = {"stt_rtf": rtf, "stt_model": figures.stt_model}
    if figures.stt_model is not None and figures.stt_model != "tiny.en":
        return Advice(
            "stt_too_slow",
            f"Whisper {figures.stt_model} takes {rtf:.2f}x the length of what was said to "
            "transcribe it here, and every reply waits for it. Set stt.model: tiny.en (the "
            "embedded small model).",
            shown,
        )
    if figures.stt_beam_size is not None and figures.stt_beam_size > 2:
        return Advice(
            "stt_too_slow",
            f"Whisper takes {rtf:.2f}x the length of what was said with beam search "
            f"{figures.stt_beam_size}. Set stt.beam_size: 2 (the default, faster and no less "
            "accurate on Parley's bench), or 1 for the fastest.",
            {**shown, "stt_beam_size": figures.stt_beam_size},
        )
    return Advice(
        "stt_too_slow",
        f"Whisper takes {rtf:.2f}x the length of what was said even with the smallest model: "
        "this CPU is short for real-time speech. Close other work on the machine, or run "
        "speech-to-text on a faster one.",
        shown,
    )


def _frequent_barge_ins(figures: MeasuredFigures) -> Advice | None:
    if figures.turns < MIN_TURNS_FOR_BARGE_IN or figures.vad_threshold is None:
        return None
    share = figures.cancelled_turns / figures.turns
    if share < FREQUENT_BARGE_IN_SHARE:
        return None
    higher = min(0.9, round(figures.vad_threshold + 0.15, 2))
    return Advice(
        "frequent_barge_ins",
        f"{figures.cancelled_turns} of {figures.turns} replies were cut by sound over them. If "
        "that was not someone talking (echo, a fan, a television), raise vad.threshold from "
        f"{figures.vad_threshold} to {higher}, keep barge_in.is_ignoring_backchannels on, and "
        "use headphones or echo cancellation.",
        {"cancelled_turns": figures.cancelled_turns, "turns": figures.turns},
    )


def _long_prompt(figures: MeasuredFigures) -> Advice | None:
    ttft, prompt = figures.llm_ttft_ms, figures.llm_prompt_tokens
    if ttft is None or prompt is None or ttft < LONG_FIRST_TOKEN_MS or prompt < LONG_PROMPT_TOKENS:
        return None
    return Advice(
        "long_prompt",
        f"The LLM's first token takes {ttft:.0f} ms for prompts of {prompt:.0f} tokens. Lower "
        "llm.history_turns or memory.recall_budget_chars to shorten them.",
        {"llm_ttft_ms": ttft, "llm_prompt_tokens": prompt},
    )


def _long_endpoint(figures: MeasuredFigures) -> Advice | None:
    endpoint, silence = figures.endpoint_ms, figures.end_silence_ms
    if endpoint is None or silence is None or endpoint < LONG_ENDPOINT_MS:
        return None
    return Advice(
        "long_end_of_turn",
        f"Parley waits {endpoint:.0f} ms after the last word before it knows the turn ended. "
        f"Lower vad.end_silence_ms (now {silence}) or keep vad.is_using_turn_model on.",
        {"endpoint_ms": endpoint, "end_silence_ms": silence},
    )


_RULES = (
    _decode_contention,
    _slow_decode,
    _slow_stt,
    _frequent_barge_ins,
    _long_prompt,
    _long_endpoint,
)


def advise(figures: MeasuredFigures) -> list[Advice]:
    return [advice for rule in _RULES if (advice := rule(figures)) is not None]
