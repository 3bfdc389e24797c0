"""Session events as OpenAI Realtime server events. Each call returns the events to send, in
order; nothing here writes to the socket, so the mapping is testable on its own."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.config.settings import Settings
from parley.pipeline.events import (
    FinalTranscript,
    FunctionCallRequested,
    ListenerEvent,
    PartialTranscript,
    ReplyInterrupted,
    SentenceReady,
    SpeechEnded,
    SpeechStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
)
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.turn_figures import TurnFigures
from parley.server.realtime.items import ItemRegistry
from parley.server.realtime.protocol import (
    RealtimeOptions,
    ResponseRef,
    assistant_item,
    content_part,
    content_ref,
    new_id,
    session_object,
    transcription_completed,
    user_item,
)

Event = dict[str, Any]
TurnObserver = Callable[[TurnFigures, bool], None]  # a finished turn's figures, was cancelled


class Outbound:
    def __init__(
        self,
        *,
        settings: Settings,
        session_id: str,
        conversation_id: str,
        options: Callable[[], SessionOptions],
        transport: Callable[[], RealtimeOptions],
        items: ItemRegistry,
        observe_turn: TurnObserver,
    ) -> None:
        self._settings = settings
        self._session_id = session_id
        self._conversation_id = conversation_id
        self._options = options
        self._transport = transport
        self.items = items
        self._observe_turn = observe_turn
        self._user_item_id: str | None = None
        self._speech_onset_ns: int | None = None

    def translate(self, event: ListenerEvent | TurnEvent) -> list[Event]:
        if isinstance(event, SpeechStarted | PartialTranscript | SpeechEnded | FinalTranscript):
            return self._user_turn(event)
        return self._response_events(event, self._options().is_speaking)

    def _user_turn(self, event: ListenerEvent) -> list[Event]:
        match event:
            case SpeechStarted(start_sample=start_sample, onset_t_ns=onset_t_ns):
                self._speech_onset_ns = onset_t_ns
                self._user_item_id = new_id("item")
                return [
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": start_sample * 1000 // INPUT_SAMPLE_RATE_HZ,
                        "item_id": self._user_item_id,
                    }
                ]
            case PartialTranscript(text=text) if self._user_item_id:
                return [
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": self._user_item_id,
                        "content_index": 0,
                        "delta": text,
                    }
                ]
            case SpeechEnded(last_voiced_sample=last_sample) if self._user_item_id:
                stopped = {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": last_sample * 1000 // INPUT_SAMPLE_RATE_HZ,
                    "item_id": self._user_item_id,
                }
                return [stopped, *self.user_audio_committed(self._user_item_id)]
            case FinalTranscript(text=text, speech=speech) if self._user_item_id:
                item_id, self._user_item_id = self._user_item_id, None
                seconds = (speech.last_voiced_sample - speech.start_sample) / INPUT_SAMPLE_RATE_HZ
                return self.user_audio_transcribed(item_id, text, seconds)
        return []

    def _response_events(self, event: TurnEvent, speaking: bool) -> list[Event]:
        match event:
            case TurnStarted(turn_id=turn_id, kind=kind):
                return self._response_started(turn_id, kind, speaking)
            case FunctionCallRequested(turn_id=turn_id, call_id=call_id, name=name):
                if (live := self.items.live_response(turn_id)) is None:
                    return []
                return self._function_call(live, call_id, name, event.arguments_json)
            case TextDelta(turn_id=turn_id, text=text) if not speaking:
                return self._delta(turn_id, "response.output_text.delta", text)
            case SentenceReady(turn_id=turn_id, text=text) if speaking:
                live = self.items.live_response(turn_id)
                separator = " " if live is not None and live.transcript else ""
                return self._delta(
                    turn_id, "response.output_audio_transcript.delta", separator + text
                )
            case TurnDone(turn_id=turn_id, was_cancelled=was_cancelled):
                if (live := self.items.live_response(turn_id)) is None:
                    return []
                status = "cancelled" if was_cancelled else "completed"
                return self.finish_response(
                    live, status, "client_cancelled", event.heard_text, event.figures
                )
            case ReplyInterrupted(turn_id=turn_id, was_generating=True):
                if (live := self.items.live_response(turn_id)) is None:
                    return []
                # The client hears silence now; response.done goes out before teardown ends.
                return self.finish_response(
                    live, "cancelled", event.reason, event.heard_text, event.figures
                )
            case ReplyInterrupted(turn_id=turn_id):
                # Sent whole, cut while the client presumably still played it: say what was
                # kept (a client that knows better says so with conversation.item.truncate).
                if (response := self.items.responses.get(turn_id)) is None:
                    return []
                return [self.truncated(response.item_id, event.audio_end_ms)]
        return []

    # ---- the user's turn -------------------------------------------------------------------

    def user_audio_committed(self, item_id: str) -> list[Event]:
        return [
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": self.items.last_item_id,
            },
            {
                "type": "conversation.item.added",
                "previous_item_id": self.items.last_item_id,
                "item": user_item(item_id, None, "in_progress"),
            },
        ]

    def user_audio_transcribed(self, item_id: str, text: str, seconds: float) -> list[Event]:
        done = {
            "type": "conversation.item.done",
            "previous_item_id": self.items.last_item_id,
            "item": user_item(item_id, text, "completed"),
        }
        self.items.last_item_id = item_id
        self.items.add(item_id, "user_turn", 0)
        return [transcription_completed(item_id, text, seconds), done]

    def client_item(self, item_id: str, stored: Event) -> list[Event]:
        """A client's item joins the conversation at once: added and done together."""
        previous, self.items.last_item_id = self.items.last_item_id, item_id
        return [
            {"type": kind, "previous_item_id": previous, "item": stored}
            for kind in ("conversation.item.added", "conversation.item.done")
        ]

    def audio_delta(self, response: ResponseRef, samples: Int16Array) -> Event:
        return {
            "type": "response.output_audio.delta",
            "response_id": response.response_id,
            "item_id": response.item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii"),
        }

    def truncated(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> Event:
        return {
            "type": "conversation.item.truncated",
            "item_id": item_id,
            "content_index": content_index,
            "audio_end_ms": audio_end_ms,
        }

    # ---- the response ----------------------------------------------------------------------

    def _response_started(self, turn_id: int, kind: str, speaking: bool) -> list[Event]:
        response = ResponseRef(
            turn_id,
            new_id("resp"),
            new_id("item"),
            unprompted_reason="timer" if kind == "announcement" else None,
        )
        self.items.responses[turn_id] = response
        self.items.add(response.item_id, "turn", turn_id)
        events: list[Event] = [
            {"type": "response.created", "response": self.response_json(response, "in_progress")}
        ]
        if kind == "function_call":
            return events  # its item is announced with the call itself
        item = assistant_item(response.item_id, None, "in_progress", speaking)
        ref = {"response_id": response.response_id, "output_index": 0}
        events += [
            {"type": "response.output_item.added", **ref, "item": item},
            {
                "type": "conversation.item.added",
                "previous_item_id": self.items.last_item_id,
                "item": item,
            },
            {
                "type": "response.content_part.added",
                **ref,
                "item_id": response.item_id,
                "content_index": 0,
                "part": content_part("", speaking),
            },
        ]
        self.items.last_item_id = response.item_id
        return events

    def _delta(self, turn_id: int, kind: str, text: str) -> list[Event]:
        if (live := self.items.live_response(turn_id)) is None:
            return []
        live.transcript += text
        return [{"type": kind, **content_ref(live), "delta": text}]

    def _function_call(
        self, response: ResponseRef, call_id: str, name: str, arguments: str
    ) -> list[Event]:
        item = {
            "id": response.item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self.items.calls_by_id[call_id] = (name, arguments)
        ref: Event = {"response_id": response.response_id, "output_index": 0}
        call_ref: Event = {**ref, "item_id": response.item_id, "call_id": call_id}
        events: list[Event] = [
            {"type": "response.output_item.added", **ref, "item": item},
            {
                "type": "conversation.item.added",
                "previous_item_id": self.items.last_item_id,
                "item": item,
            },
            {"type": "response.function_call_arguments.delta", **call_ref, "delta": arguments},
            {
                "type": "response.function_call_arguments.done",
                **call_ref,
                "name": name,
                "arguments": arguments,
            },
        ]
        response.function_call = {**item, "status": "completed", "arguments": arguments}
        self.items.last_item_id = response.item_id
        return events

    def finish_response(
        self,
        response: ResponseRef,
        status: str,
        reason: str,
        heard_text: str,
        figures: TurnFigures,
    ) -> list[Event]:
        response.is_finished = True
        was_cancelled = status == "cancelled"
        if was_cancelled and self._speech_onset_ns is not None and reason == "turn_detected":
            interruption_ms = round((time.perf_counter_ns() - self._speech_onset_ns) / 1e6, 1)
            figures = dataclasses.replace(figures, interruption_ms=interruption_ms)
        ref = {"response_id": response.response_id, "output_index": 0}
        if response.function_call is not None:
            item = response.function_call
            return [
                {"type": "response.output_item.done", **ref, "item": item},
                {"type": "conversation.item.done", "previous_item_id": None, "item": item},
                {
                    "type": "response.done",
                    "response": self.response_json(response, status, [item], figures),
                },
            ]
        transcript = heard_text if was_cancelled else response.transcript
        speaking = self._options().is_speaking
        content = content_ref(response)
        if speaking:
            events: list[Event] = [
                {"type": "response.output_audio.done", **content},
                {
                    "type": "response.output_audio_transcript.done",
                    **content,
                    "transcript": transcript,
                },
            ]
        else:
            events = [{"type": "response.output_text.done", **content, "text": transcript}]
        events.append(
            {
                "type": "response.content_part.done",
                **content,
                "part": content_part(transcript, speaking),
            }
        )
        item_status = "incomplete" if was_cancelled else "completed"
        item = assistant_item(response.item_id, transcript, item_status, speaking)
        done = self.response_json(response, status, [item], figures)
        if was_cancelled:
            done["status_details"] = {"type": "cancelled", "reason": reason}
        events += [
            {"type": "response.output_item.done", **ref, "item": item},
            {"type": "conversation.item.done", "previous_item_id": None, "item": item},
            {"type": "response.done", "response": done},
        ]
        self._observe_turn(figures, was_cancelled)
        return events

    # ---- shapes ----------------------------------------------------------------------------

    def session_json(self) -> Event:
        return session_object(
            self._settings,
            session_id=self._session_id,
            conversation_id=self._conversation_id,
            options=self._options(),
            transport=self._transport(),
        )

    def response_json(
        self,
        response: ResponseRef,
        status: str,
        output: list[Any] | None = None,
        figures: TurnFigures | None = None,
    ) -> Event:
        body: Event = {
            "object": "realtime.response",
            "id": response.response_id,
            "status": status,
            "conversation_id": self._conversation_id,
            "output_modalities": ["audio"] if self._options().is_speaking else ["text"],
            "output": output or [],
        }
        if figures is not None:
            output_tokens, input_tokens = figures.llm_tokens, figures.llm_prompt_tokens
            body["usage"] = {
                "total_tokens": input_tokens + output_tokens,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
            }
            # Metadata values are strings in the protocol; Parley puts its turn metrics there.
            body["metadata"] = {
                key: str(value)
                for key, value in figures.as_json().items()
                if value is not None and not key.startswith("llm_tokens")
            }
        if response.unprompted_reason is not None:
            # A client (the page) can tell a timer's words from an answer, and notify.
            body["metadata"] = {**body.get("metadata", {}), "reason": response.unprompted_reason}
        return body
