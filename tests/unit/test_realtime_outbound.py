"""Session events as realtime server events: the order a client sees, each event checked
against the openai SDK's own model of the protocol."""

from __future__ import annotations

import typing
from typing import Any

import pydantic
from openai.types.realtime import RealtimeServerEvent

from parley.config.settings import Settings
from parley.pipeline.events import (
    FinalTranscript,
    ReplyInterrupted,
    SentenceReady,
    SpeechEnded,
    SpeechStarted,
    TextDelta,
    TurnDone,
    TurnStarted,
)
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.turn_figures import TurnFigures
from parley.server.realtime.items import ItemRegistry
from parley.server.realtime.outbound import Outbound
from parley.server.realtime.protocol import RealtimeOptions

# Each server event type and the SDK's model of it.
SERVER_EVENTS: dict[str, type[pydantic.BaseModel]] = {
    model.model_fields["type"].annotation.__args__[0]: model
    for model in typing.get_args(typing.get_args(RealtimeServerEvent)[0])
}


def check(event: dict[str, Any]) -> None:
    SERVER_EVENTS[event["type"]].model_validate(event)


def outbound(options: SessionOptions | None = None) -> tuple[Outbound, list[tuple[Any, bool]]]:
    finished: list[tuple[Any, bool]] = []
    return (
        Outbound(
            settings=Settings(),
            session_id="sess_1",
            conversation_id="conv_1",
            options=lambda: options or SessionOptions(),
            transport=RealtimeOptions,
            items=ItemRegistry(),
            observe_turn=lambda metrics, was_cancelled: finished.append((metrics, was_cancelled)),
        ),
        finished,
    )


def checked(events: list[dict[str, Any]]) -> list[str]:
    for number, event in enumerate(events):
        check({"event_id": f"event_{number}", **event})
    return [event["type"] for event in events]


def spoken_turn(translate: Any) -> list[dict[str, Any]]:
    ended = SpeechEnded(start_sample=0, last_voiced_sample=16_000, last_voiced_t_ns=5, t_ns=6)
    events = []
    for event in (
        SpeechStarted(start_sample=4_800, onset_t_ns=1, t_ns=2),
        ended,
        FinalTranscript("What is the capital of France?", ended, 80.0, 7),
        TurnStarted(1, "What is the capital of France?", 8),
        SentenceReady(1, 0, "The capital of France", 9),
        SentenceReady(1, 1, "is Paris.", 10),
    ):
        events += translate(event)
    return events


def test_a_spoken_turn_and_its_reply_in_the_order_the_protocol_gives_them() -> None:
    events, finished = outbound()
    sent = spoken_turn(events.translate)
    sent += events.translate(
        TurnDone(1, False, "The capital of France is Paris.", TurnFigures(), 11)
    )
    assert checked(sent) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    assert sent[0]["audio_start_ms"] == 300
    user_item = sent[5]["item"]
    assert user_item["content"][0]["transcript"] == "What is the capital of France?"
    # The reply's item follows the user's.
    assert sent[8]["previous_item_id"] == user_item["id"]
    done = sent[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == "The capital of France is Paris."
    assert finished == [(TurnFigures(), False)]


def test_an_interrupted_reply_ends_once_with_what_was_heard_and_its_late_done_says_nothing() -> (
    None
):
    events, finished = outbound()
    spoken_turn(events.translate)
    cut = events.translate(
        ReplyInterrupted(
            1, "turn_detected", True, "The capital", 400, TurnFigures(llm_tokens=3), 12
        )
    )
    assert checked(cut)[-1] == "response.done"
    done = cut[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"][0]["transcript"] == "The capital"
    assert "interruption_ms" in done["metadata"]
    # The reply's own end, when its cancelled work has unwound: nothing more for the client.
    assert events.translate(TurnDone(1, True, "The capital", TurnFigures(), 13)) == []
    assert len(finished) == 1 and finished[0][1] is True


def test_a_reply_cut_while_still_playing_is_said_to_be_truncated_where_it_was_heard() -> None:
    events, _finished = outbound()
    spoken_turn(events.translate)
    events.translate(TurnDone(1, False, "The capital of France is Paris.", TurnFigures(), 11))
    cut = events.translate(
        ReplyInterrupted(1, "turn_detected", False, "The", 250, TurnFigures(), 12)
    )
    assert checked(cut) == ["conversation.item.truncated"]
    assert cut[0]["audio_end_ms"] == 250
    assert cut[0]["item_id"] == events.items.responses[1].item_id


def test_a_text_only_session_gets_text_deltas_and_no_audio_events() -> None:
    events, _finished = outbound(SessionOptions(is_speaking=False))
    sent = events.translate(TurnStarted(1, "Hi", 1))
    sent += events.translate(TextDelta(1, "Hello", 2))
    sent += events.translate(SentenceReady(1, 0, "Hello", 3))  # spoken pieces: not for text
    sent += events.translate(TurnDone(1, False, "Hello", TurnFigures(llm_tokens=1), 4))
    types = checked(sent)
    assert "response.output_text.delta" in types and "response.output_text.done" in types
    assert not [kind for kind in types if "audio" in kind]
    usage = sent[-1]["response"]["usage"]
    assert usage["output_tokens"] == 1


def test_the_session_reports_the_options_in_force() -> None:
    events, _finished = outbound(SessionOptions(vad_threshold=0.7, end_silence_ms=300, speed=1.5))
    session = events.session_json()
    check({"type": "session.updated", "event_id": "event_1", "session": session})
    detection = session["audio"]["input"]["turn_detection"]
    assert detection["threshold"] == 0.7 and detection["silence_duration_ms"] == 300
    assert session["audio"]["output"]["speed"] == 1.5
    assert session["audio"]["output"]["voice"] == Settings().tts.voice_name
