"""Client events made into Parley's values, or refused with a ClientEventError that says what
to send instead. Pure: nothing here touches the socket, the session or the store.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

import numpy as np
import pydantic
from openai.types.realtime import RealtimeSessionCreateRequest

from parley.audio.frames import Int16Array
from parley.config.settings import ServerConfig
from parley.pipeline.session_options import SessionOptions
from parley.server.realtime.protocol import (
    EAGERNESS_THRESHOLDS,
    ClientEventError,
    RealtimeOptions,
    new_id,
    parse_audio_rate,
)
from parley.tools.hub import ToolSpec


def session_update(
    session: Any,
    *,
    options: SessionOptions,
    transport: RealtimeOptions,
    limits: ServerConfig,
    voice_names: list[str],
) -> tuple[SessionOptions, RealtimeOptions]:
    """The session's and the socket's options after ``session.update`` (checked whole before
    either changes: a refused update changes nothing)."""
    if not isinstance(session, dict):
        raise ClientEventError("invalid_session", "session.update needs a `session` object.")
    try:  # the shape is checked by the openai SDK's own model of a realtime session
        RealtimeSessionCreateRequest.model_validate(_without_audio_formats(session))
    except pydantic.ValidationError as error:
        raise ClientEventError("invalid_session", _validation_problem("session", error)) from None
    wire: dict[str, Any] = {}
    changes: dict[str, Any] = reply_changes(session, "session", "invalid_session", limits)
    audio = session.get("audio") or {}
    input_config = audio.get("input") or {}
    output_config = audio.get("output") or {}
    if (rate := parse_audio_rate(input_config.get("format"), "input")) is not None:
        wire["input_rate_hz"] = rate
    if (rate := parse_audio_rate(output_config.get("format"), "output")) is not None:
        wire["output_rate_hz"] = rate
    if "turn_detection" in input_config:
        turn_wire, turn_changes = _turn_detection(input_config["turn_detection"])
        wire |= turn_wire
        changes |= turn_changes
    changes |= _output_changes(output_config, voice_names)
    return dataclasses.replace(options, **changes), dataclasses.replace(transport, **wire)


def _turn_detection(detection: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``audio.input.turn_detection`` as the socket's and the session's changes."""
    if detection is None:
        return {"is_server_vad": False}, {"is_replying_automatically": False}
    kind = detection.get("type", "server_vad") if isinstance(detection, dict) else None
    if kind not in {"server_vad", "semantic_vad"}:
        raise ClientEventError(
            "unsupported_turn_detection",
            "Parley supports turn_detection {type: 'server_vad'}, {type: 'semantic_vad'} or "
            "null (commit by hand).",
        )
    changes: dict[str, Any] = {
        "is_replying_automatically": bool(detection.get("create_response", True)),
        "is_barge_in_enabled": bool(detection.get("interrupt_response", True)),
        # semantic_vad: the turn model may end a turn sooner when the voice sounds finished,
        # the more readily the more eager; server_vad: silence alone.
        "is_using_turn_model": kind == "semantic_vad",
    }
    if kind == "semantic_vad":
        eagerness = detection.get("eagerness", "auto")
        if eagerness not in EAGERNESS_THRESHOLDS:
            raise ClientEventError(
                "invalid_session", "turn_detection.eagerness is low, medium, high or auto."
            )
        changes["turn_complete_threshold"] = EAGERNESS_THRESHOLDS[eagerness]
    # Both kinds: the voice threshold, and the silence that ends a turn (with semantic_vad,
    # one the turn model did not hear as finished).
    if (threshold := detection.get("threshold")) is not None:
        if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
            raise ClientEventError(
                "invalid_session", "turn_detection.threshold is between 0 and 1."
            )
        changes["vad_threshold"] = float(threshold)
    if (silence_ms := detection.get("silence_duration_ms")) is not None:
        changes["end_silence_ms"] = max(64, int(silence_ms))
    return {"is_server_vad": True}, changes


def _output_changes(output_config: dict[str, Any], voice_names: list[str]) -> dict[str, Any]:
    """``audio.output``'s speed and voice as the session's changes."""
    changes: dict[str, Any] = {}
    if (speed := output_config.get("speed")) is not None:
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise ClientEventError("invalid_session", "audio.output.speed is between 0.25 and 4.")
        changes["speed"] = float(speed)
    if (voice := output_config.get("voice")) is not None:
        if voice not in voice_names:
            named = ", ".join(name for name in voice_names if not name.startswith("espeak-"))
            raise ClientEventError(
                "unsupported_voice",
                f"There is no voice {voice!r} here. Parley's offline voices: {named}, and "
                "espeak-<language> (espeak-fr-fr, espeak-de, …); GET /api/voices lists them all.",
            )
        changes["voice"] = voice
    return changes


def reply_changes(
    source: dict[str, Any], root: str, code: str, limits: ServerConfig
) -> dict[str, Any]:
    """The options a session and a single response both set, as ``SessionOptions`` changes:
    ``instructions``, ``output_modalities``, ``tools`` and ``tool_choice``."""
    changes: dict[str, Any] = {}
    if (instructions := source.get("instructions")) is not None:
        if not isinstance(instructions, str):
            raise ClientEventError(code, f"{root}.instructions must be a string.")
        check_text_length(instructions, f"{root}.instructions", limits)
        changes["instructions"] = instructions or None
    if (modalities := source.get("output_modalities")) is not None:
        changes["is_speaking"] = _is_speaking(modalities, code)
    if "tools" in source:
        changes["client_tools"] = tuple(client_tools(source["tools"], limits))
    if (choice := source.get("tool_choice")) is not None:
        changes["client_tool_choice"] = _tool_choice(choice, code)
    return changes


def _is_speaking(modalities: Any, code: str) -> bool:
    """Whether ``output_modalities`` asks for speech (else text alone)."""
    if (
        not isinstance(modalities, list)
        or not modalities
        or not set(modalities) <= {"audio", "text"}
    ):
        raise ClientEventError(code, "output_modalities is ['audio'] or ['text'].")
    return "audio" in modalities


def _tool_choice(choice: Any, code: str) -> str:
    """``tool_choice`` as Parley holds it: auto, none, required, or a function's name."""
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return str(choice["name"])
    if choice in ("auto", "none", "required"):
        return str(choice)
    raise ClientEventError(code, "tool_choice is auto, none, required or a function.")


def client_tools(tools: Any, limits: ServerConfig) -> list[ToolSpec]:
    if not isinstance(tools, list):
        raise ClientEventError("invalid_session", "session.tools is a list of function tools.")
    if len(tools) > limits.max_client_tools:
        raise ClientEventError(
            "too_many_tools",
            f"session.tools has {len(tools)} tools; Parley takes at most "
            f"{limits.max_client_tools} (server.max_client_tools).",
        )
    if len(json.dumps(tools)) > limits.max_text_chars * 4:
        raise ClientEventError(
            "tools_too_large", "session.tools is too large; describe the tools briefly."
        )
    specs = []
    for tool in tools:
        if (
            not isinstance(tool, dict)
            or tool.get("type", "function") != "function"
            or not isinstance(tool.get("name"), str)
        ):
            raise ClientEventError("invalid_session", "Each tool needs type 'function' and a name.")
        given = tool.get("parameters")
        parameters: dict[str, Any] = given if isinstance(given, dict) else {}
        specs.append(ToolSpec("client", tool["name"], str(tool.get("description", "")), parameters))
    return specs


def pcm16(audio: Any) -> Int16Array:
    """The samples of ``input_audio_buffer.append``'s base64 PCM16."""
    if not isinstance(audio, str):
        raise ClientEventError("invalid_audio", "input_audio_buffer.append needs base64 `audio`.")
    try:
        payload = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        raise ClientEventError("invalid_audio", "`audio` is not valid base64.") from None
    if len(payload) % 2:
        raise ClientEventError("invalid_audio", "PCM16 audio needs an even number of bytes.")
    return np.frombuffer(payload, dtype="<i2").astype(np.int16)


def message_item(item: Any, limits: ServerConfig) -> tuple[str, str, str]:
    """A message item's id, role and text."""
    if not isinstance(item, dict) or item.get("type", "message") != "message":
        raise ClientEventError(
            "unsupported_item", "Parley accepts conversation items of type 'message'."
        )
    role = item.get("role")
    parts = item.get("content")
    if role not in {"user", "system", "assistant"} or not isinstance(parts, list):
        raise ClientEventError("invalid_item", "A message item needs a role and a content list.")
    text = " ".join(
        str(part.get("text") or part.get("transcript") or "")
        for part in parts
        if isinstance(part, dict)
    ).strip()
    if not text:
        raise ClientEventError("invalid_item", "The message has no text content.")
    check_text_length(text, "The message", limits)
    return client_item_id(item), role, text


def function_output(item: dict[str, Any], limits: ServerConfig) -> tuple[str, str]:
    """A function_call_output item's call id and output."""
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str):
        raise ClientEventError(
            "invalid_item", f"No function call {call_id!r} is waiting for output."
        )
    if not isinstance(output, str):
        raise ClientEventError("invalid_item", "function_call_output needs `output` as a string.")
    check_text_length(output, "The function output", limits)
    return call_id, output


def truncation(event: dict[str, Any]) -> tuple[str, int]:
    """``conversation.item.truncate``'s item id and audio_end_ms."""
    item_id, audio_end_ms = event.get("item_id"), event.get("audio_end_ms")
    if not isinstance(item_id, str) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
        raise ClientEventError(
            "invalid_truncate", "truncate needs `item_id` and a non-negative `audio_end_ms`."
        )
    return item_id, audio_end_ms


def check_text_length(text: str, what: str, limits: ServerConfig) -> None:
    if len(text) > limits.max_text_chars:
        raise ClientEventError(
            "text_too_long",
            f"{what} has {len(text):,} characters; the limit is "
            f"{limits.max_text_chars:,} (server.max_text_chars). Nothing was added.",
        )


def client_item_id(item: dict[str, Any]) -> str:
    """The id the client gave its item, or a new one."""
    given = item.get("id")
    return given if isinstance(given, str) and given else new_id("item")


def _without_audio_formats(session: dict[str, Any]) -> dict[str, Any]:
    """The session for the SDK's model, less the audio formats: Parley takes PCM at 16 kHz as
    well as the 24 kHz the model allows, and checks formats itself (parse_audio_rate)."""
    checked: dict[str, Any] = {"type": "realtime", **session}
    audio = session.get("audio")
    if isinstance(audio, dict):
        checked["audio"] = {
            direction: (
                {key: value for key, value in config.items() if key != "format"}
                if isinstance(config, dict)
                else config
            )
            for direction, config in audio.items()
        }
    return checked


def _validation_problem(root: str, error: pydantic.ValidationError) -> str:
    """The first thing wrong, said in one line with its place ("session.audio.input: ...")."""
    first = error.errors()[0]
    place = ".".join([root, *(str(part) for part in first["loc"])])
    return f"{place}: {first['msg']}."


def client_event(text: str, limits: ServerConfig) -> dict[str, Any]:
    """One client event from a text message: a JSON object with a ``type``, within the size
    limit, or a ClientEventError that says what is wrong."""
    if len(text) > limits.max_message_bytes:
        raise ClientEventError(
            "message_too_large",
            f"The message has {len(text):,} bytes; the limit is {limits.max_message_bytes:,}. "
            "Send audio in smaller appends (for example 20-100 ms each).",
        )
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClientEventError("invalid_json", f"The message is not valid JSON: {error}.") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ClientEventError("invalid_event", "A client event is a JSON object with a `type`.")
    return event
