"""Client events made into Parley's values (server/realtime/inbound.py), or refused with an
error that says what to send: every refusal changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from parley.config.settings import ServerConfig
from parley.pipeline.session_options import SessionOptions
from parley.server.realtime import inbound
from parley.server.realtime.protocol import ClientEventError, RealtimeOptions

LIMITS = ServerConfig()
VOICES = ["en_US-joe-medium", "flite-slt", "espeak-fr-fr"]


def updated(session: Any) -> tuple[SessionOptions, RealtimeOptions]:
    return inbound.session_update(
        session,
        options=SessionOptions(),
        transport=RealtimeOptions(),
        limits=LIMITS,
        voice_names=VOICES,
    )


def refused(call: Any, code: str) -> str:
    with pytest.raises(ClientEventError) as error:
        call()
    assert error.value.code == code
    return str(error.value)


def test_a_session_update_sets_what_the_client_asked_for() -> None:
    options, transport = updated(
        {
            "instructions": "Answer as a pirate.",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": "high",
                        "threshold": 0.6,
                        "silence_duration_ms": 20,
                        "interrupt_response": False,
                    },
                },
                "output": {"voice": "flite-slt", "speed": 1.5},
            },
        }
    )
    assert options.instructions == "Answer as a pirate."
    assert not options.is_speaking and not options.is_barge_in_enabled
    assert options.is_using_turn_model and options.vad_threshold == 0.6
    assert options.end_silence_ms == 64  # no turn ends on less silence than one VAD frame pair
    assert (options.voice, options.speed) == ("flite-slt", 1.5)
    assert transport.is_server_vad and transport.input_rate_hz == 24000


def test_no_turn_detection_means_the_client_commits_and_asks_for_replies() -> None:
    options, transport = updated({"audio": {"input": {"turn_detection": None}}})
    assert not transport.is_server_vad and not options.is_replying_automatically


@pytest.mark.parametrize(
    ("session", "code", "says"),
    [
        ("not an object", "invalid_session", "needs a `session` object"),
        ({"audio": {"output": {"voice": "hal-9000"}}}, "unsupported_voice", "flite-slt"),
        ({"audio": {"output": {"speed": 9}}}, "invalid_session", "between 0.25 and 4"),
        (
            {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "x"}}}},
            "invalid_session",
            "session.audio.input.turn_detection",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 3}}}},
            "invalid_session",
            "between 0 and 1",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "push_to_talk"}}}},
            "invalid_session",
            "session.audio.input.turn_detection",
        ),
        ({"instructions": 42}, "invalid_session", "session.instructions"),
        ({"instructions": "x" * (LIMITS.max_text_chars + 1)}, "text_too_long", "max_text_chars"),
    ],
)
def test_a_bad_session_update_is_refused_with_what_to_send(
    session: Any, code: str, says: str
) -> None:
    assert says in refused(lambda: updated(session), code)


def test_audio_appends_are_base64_pcm16_and_anything_else_is_refused() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    encoded = base64.b64encode(samples.astype("<i2").tobytes()).decode()
    assert inbound.pcm16(encoded).tolist() == samples.tolist()
    refused(lambda: inbound.pcm16(None), "invalid_audio")
    refused(lambda: inbound.pcm16("not base64!"), "invalid_audio")
    refused(lambda: inbound.pcm16(base64.b64encode(b"odd").decode()), "invalid_audio")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_event"),
        ('{"no_type": 1}', "invalid_event"),
        ('{"type": "x", "pad": "' + "a" * LIMITS.max_message_bytes + '"}', "message_too_large"),
    ],
)
def test_a_message_that_is_no_client_event_is_refused(text: str, code: str) -> None:
    refused(lambda: inbound.client_event(text, LIMITS), code)


def test_items_truncations_and_function_outputs_are_read_or_refused() -> None:
    item = {
        "type": "message",
        "id": "item_1",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hello"}],
    }
    assert inbound.message_item(item, LIMITS) == ("item_1", "user", "Hello")
    refused(lambda: inbound.message_item({"type": "image"}, LIMITS), "unsupported_item")
    refused(lambda: inbound.message_item({**item, "content": []}, LIMITS), "invalid_item")
    assert inbound.truncation({"item_id": "item_1", "audio_end_ms": 1500}) == ("item_1", 1500)
    refused(
        lambda: inbound.truncation({"item_id": "item_1", "audio_end_ms": -1}), "invalid_truncate"
    )
    output = {"call_id": "call_1", "output": '{"ok": true}'}
    assert inbound.function_output(output, LIMITS) == ("call_1", '{"ok": true}')
    refused(lambda: inbound.function_output({"call_id": 1, "output": ""}, LIMITS), "invalid_item")
