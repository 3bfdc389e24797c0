"""The OpenAI Realtime protocol's shapes as Parley uses them: ids, items, content parts, the
per-connection options a client can set, and the error a bad client event becomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parley.config.settings import Settings
    from parley.pipeline.session_options import SessionOptions

SUPPORTED_RATES_HZ = (16_000, 24_000)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class ClientEventError(Exception):
    """A client event Parley cannot act on; becomes an ``error`` event, the socket stays open."""

    def __init__(
        self, code: str, message: str, *, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.code = code
        self.error_type = error_type


@dataclass
class ResponseRef:
    turn_id: int
    response_id: str
    item_id: str
    transcript: str = ""
    is_finished: bool = False
    # Set when the response is a call of a client's function rather than words.
    function_call: dict[str, Any] | None = None
    # Why Parley replied without being asked ("timer": a timer or reminder went off), if it did.
    unprompted_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """What the socket itself carries: audio rates, and who decides when the user's turn ends."""

    input_rate_hz: int = 24_000
    output_rate_hz: int = 24_000
    is_server_vad: bool = True  # False: the client commits the input buffer itself


# How sure the turn model must be that the voice sounds finished, by semantic_vad eagerness.
EAGERNESS_THRESHOLDS = {"low": 0.8, "medium": 0.5, "auto": 0.5, "high": 0.3}


def eagerness_for(threshold: float) -> str:
    """The eagerness whose threshold is nearest (a configured threshold may be any)."""
    named = {name: value for name, value in EAGERNESS_THRESHOLDS.items() if name != "auto"}
    return min(named, key=lambda name: abs(named[name] - threshold))


def parse_audio_rate(audio_format: Any, direction: str) -> int | None:
    if audio_format is None:
        return None
    if not isinstance(audio_format, dict) or audio_format.get("type", "audio/pcm") != "audio/pcm":
        raise ClientEventError(
            "unsupported_audio_format",
            f"Parley's {direction} audio is audio/pcm (PCM16 little-endian, mono).",
        )
    rate = audio_format.get("rate", 24_000)
    if rate not in SUPPORTED_RATES_HZ:
        raise ClientEventError(
            "unsupported_audio_format",
            f"The {direction} rate must be 24000 or 16000 Hz, not {rate}.",
        )
    return int(rate)


def user_item(item_id: str, transcript: str | None, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": status,
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_item(
    item_id: str, transcript: str | None, status: str, speaking: bool
) -> dict[str, Any]:
    content = [] if transcript is None else [item_content(transcript, speaking)]
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def item_content(text: str, speaking: bool) -> dict[str, Any]:
    """An assistant item's content: output_audio with its transcript, or output_text."""
    return (
        {"type": "output_audio", "transcript": text}
        if speaking
        else {"type": "output_text", "text": text}
    )


def content_part(text: str, speaking: bool) -> dict[str, Any]:
    """The part of a response.content_part.* event, which the protocol names audio or text."""
    return {"type": "audio", "transcript": text} if speaking else {"type": "text", "text": text}


def content_ref(response: ResponseRef) -> dict[str, Any]:
    return {
        "response_id": response.response_id,
        "item_id": response.item_id,
        "output_index": 0,
        "content_index": 0,
    }


def transcription_completed(item_id: str, text: str, seconds: float) -> dict[str, Any]:
    return {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item_id,
        "content_index": 0,
        "transcript": text,
        "usage": {"type": "duration", "seconds": round(seconds, 3)},
    }


def session_object(
    settings: Settings,
    *,
    session_id: str,
    conversation_id: str,
    options: SessionOptions,
    transport: RealtimeOptions,
) -> dict[str, Any]:
    """The ``realtime.session`` object a client is told of (``session.created|updated``)."""
    ends = options.turn_detection(settings.vad)
    detection = None
    if transport.is_server_vad:
        detection = {
            "type": "semantic_vad" if ends.is_using_turn_model else "server_vad",
            # With semantic_vad as well (Parley's extension): the voice threshold, and the
            # silence that ends a turn the turn model did not hear as finished.
            "threshold": ends.vad_threshold,
            "silence_duration_ms": ends.end_silence_ms,
            "prefix_padding_ms": settings.vad.pre_roll_ms,
            "create_response": options.is_replying_automatically,
            "interrupt_response": options.is_barge_in_enabled,
        }
        if ends.is_using_turn_model:
            detection["eagerness"] = eagerness_for(ends.turn_complete_threshold)
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        # Parley's addition: reconnect with ?conversation=<id> to carry on this conversation.
        "conversation_id": conversation_id,
        "model": "parley",
        "output_modalities": ["audio"] if options.is_speaking else ["text"],
        "instructions": options.instructions or settings.llm.system_prompt,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": transport.input_rate_hz},
                "transcription": {"model": f"whisper-{settings.stt.model}"},
                "turn_detection": detection,
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": transport.output_rate_hz},
                "voice": options.voice or settings.tts.voice_name,
                "speed": options.speed,
            },
        },
    }
