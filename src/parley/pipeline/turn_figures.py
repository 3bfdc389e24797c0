"""A turn's timing: the stamps its stages take as it goes (``TurnMetrics``), and its figures as
a frozen, typed record (``TurnFigures``) that every consumer (the realtime metadata, the store,
Prometheus, the monitor, the bench, `--json`) reads, by attribute. The record becomes a dict
only at those edges (``as_json``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # events carry a turn's figures, so they import this module
    from parley.pipeline.events import FinalTranscript


@dataclass(frozen=True, slots=True)
class TurnFigures:
    endpoint_ms: float | None = None  # last voiced sample → end of turn decided
    stt_ms: float | None = None  # end of turn → final transcript
    stt_decode_ms: float | None = None  # Whisper's own time for the final transcript
    stt_audio_ms: int | None = None  # the audio it decoded
    llm_ttft_ms: float | None = None  # LLM request → first token
    first_sentence_ms: float | None = None  # LLM request → first speakable piece
    tts_first_audio_ms: float | None = None  # first piece → its first audio
    voice_to_voice_ms: float | None = None  # last voiced sample → first reply audio
    text_to_voice_ms: float | None = None  # LLM request → first reply audio
    turn_total_ms: float | None = None  # LLM request → the reply done
    tts_rtf: float | None = None  # synthesis time ÷ audio synthesised
    llm_tokens_per_s: float | None = None
    reply_audio_seconds: float = 0.0
    llm_tokens: int = 0
    llm_prompt_tokens: int = 0
    turn_complete_probability: float | None = None  # the turn model's, at the last pause
    # When each stage began or ended, from the last voiced sample (a reply begun on a pause
    # starts before the end of the turn, so these can be smaller than endpoint_ms).
    llm_request_at_ms: float | None = None
    llm_first_token_at_ms: float | None = None
    first_sentence_at_ms: float | None = None
    interruption_ms: float | None = None  # speech over the reply → its sound stopped

    def as_json(self) -> dict[str, float | int | None]:
        """The figures by name, for JSON (every key, None where not measured)."""
        return dataclasses.asdict(self)

    def measured(self) -> dict[str, float]:
        """Only the figures that were measured, as floats (for medians and sparklines)."""
        return {name: float(value) for name, value in self.as_json().items() if value is not None}


# The latencies every turn measures, in the order a turn goes through them (bench, /metrics).
TURN_LATENCIES = (
    "voice_to_voice_ms",
    "endpoint_ms",
    "stt_ms",
    "llm_ttft_ms",
    "first_sentence_ms",
    "tts_first_audio_ms",
)


def _ms(start_ns: int | None, end_ns: int | None) -> float | None:
    if start_ns is None or end_ns is None:
        return None
    return round((end_ns - start_ns) / 1e6, 1)


@dataclass(slots=True)
class TurnMetrics:
    """Stamps taken by the stages themselves (perf_counter_ns), turned into figures on demand;
    begun at the turn's end or pause, before the reply (and its ``ReplyHandle``) exists."""

    last_voiced_t_ns: int | None = None
    speech_ended_t_ns: int | None = None
    stt_ms: float | None = None
    stt_decode_ms: float | None = None
    stt_audio_ms: int | None = None
    llm_request_t_ns: int | None = None
    llm_first_token_t_ns: int | None = None
    llm_last_token_t_ns: int | None = None
    first_sentence_t_ns: int | None = None
    first_audio_t_ns: int | None = None
    done_t_ns: int | None = None
    cancel_t_ns: int | None = None
    tts_busy_ns: int = 0
    reply_audio_samples: int = 0
    output_sample_rate_hz: int = 24_000
    token_count: int = 0
    prompt_token_count: int = 0
    turn_complete_probability: float | None = None  # the turn model's, at the last pause

    def stamp_end_of_turn(
        self, final: FinalTranscript, turn_complete_probability: float | None
    ) -> None:
        self.last_voiced_t_ns = final.speech.last_voiced_t_ns
        self.speech_ended_t_ns = final.speech.t_ns
        self.stt_ms = round(final.stt_ms, 1)
        # Whisper's own time and the audio it decoded: its real-time factor, for monitors.
        self.stt_decode_ms = final.decode_ms
        self.stt_audio_ms = final.audio_ms
        self.turn_complete_probability = turn_complete_probability

    def figures(self) -> TurnFigures:
        reply_audio_s = self.reply_audio_samples / self.output_sample_rate_hz
        generation_s = (
            (self.llm_last_token_t_ns - self.llm_first_token_t_ns) / 1e9
            if self.llm_last_token_t_ns and self.llm_first_token_t_ns
            else None
        )
        return TurnFigures(
            endpoint_ms=_ms(self.last_voiced_t_ns, self.speech_ended_t_ns),
            stt_ms=self.stt_ms,
            stt_decode_ms=None if self.stt_decode_ms is None else round(self.stt_decode_ms, 1),
            stt_audio_ms=self.stt_audio_ms,
            llm_ttft_ms=_ms(self.llm_request_t_ns, self.llm_first_token_t_ns),
            first_sentence_ms=_ms(self.llm_request_t_ns, self.first_sentence_t_ns),
            tts_first_audio_ms=_ms(self.first_sentence_t_ns, self.first_audio_t_ns),
            voice_to_voice_ms=_ms(self.last_voiced_t_ns, self.first_audio_t_ns),
            text_to_voice_ms=_ms(self.llm_request_t_ns, self.first_audio_t_ns),
            turn_total_ms=_ms(self.llm_request_t_ns, self.done_t_ns),
            tts_rtf=round(self.tts_busy_ns / 1e9 / reply_audio_s, 3) if reply_audio_s else None,
            # the first delta is not timed from the previous one
            llm_tokens_per_s=round(self.token_count / generation_s, 1)
            if generation_s and self.token_count > 1
            else None,
            reply_audio_seconds=round(reply_audio_s, 3),
            llm_tokens=self.token_count,
            llm_prompt_tokens=self.prompt_token_count,
            turn_complete_probability=None
            if self.turn_complete_probability is None
            else round(self.turn_complete_probability, 3),
            llm_request_at_ms=_ms(self.last_voiced_t_ns, self.llm_request_t_ns),
            llm_first_token_at_ms=_ms(self.last_voiced_t_ns, self.llm_first_token_t_ns),
            first_sentence_at_ms=_ms(self.last_voiced_t_ns, self.first_sentence_t_ns),
        )
