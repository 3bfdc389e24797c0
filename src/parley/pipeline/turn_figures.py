"""One turn's figures as a frozen, typed record: what every consumer (the realtime metadata, the
store, Prometheus, the monitor, the bench, `--json`) reads, by attribute. It becomes a dict only
at those edges (``as_json``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


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
