"""``WS /v1/realtime``: the OpenAI Realtime protocol (GA event names) over one Parley Session.

Each connection owns one Session. Client events are decoded and dispatched here; the Session's
own events (speech started, transcripts, reply text, reply audio, turn done) are turned into
server events and queued for one writer task, so the socket is only ever written from one place.
A fault in one client's events becomes an ``error`` event on that socket and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pydantic
import soxr
from fastapi import WebSocket, WebSocketDisconnect
from openai.types.realtime import RealtimeSessionCreateRequest

from parley.backends.loaded import Backends
from parley.errors import ParleyError
from parley.events import (
    AudioFrame,
    ConversationEnded,
    FinalTranscript,
    FunctionCallRequested,
    ListenerEvent,
    PartialTranscript,
    SentenceReady,
    SpeechEnded,
    SpeechStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
)
from parley.memory.store import ConversationStore
from parley.metrics import ServerMetrics
from parley.server.realtime_audio import WebSocketAudioSink
from parley.server.realtime_protocol import (
    ClientEventError,
    RealtimeOptions,
    ResponseRef,
    assistant_item,
    content_part,
    content_ref,
    new_id,
    parse_audio_rate,
    transcription_completed,
    user_item,
)
from parley.session import Session
from parley.stream import Channel
from parley.tool_router import Toolbox
from parley.tools import ToolSpec

log = logging.getLogger(__name__)

INPUT_SAMPLE_RATE_HZ = 16_000
_MIN_COMMIT_MS = 100
_FRAME_SAMPLES = INPUT_SAMPLE_RATE_HZ // 50  # 20 ms
_HANG_UP = "parley.hang_up"  # internal marker on the outgoing queue, never sent
# Audio deltas queued for the socket beyond this wait for the client to read (back-pressure).
_MAX_QUEUED_AUDIO_MESSAGES = 50
# Any more events than this unread, and the client is dropped (a reply is a few hundred).
_MAX_QUEUED_EVENTS = 2_000


class RealtimeConnection:
    """One client on the realtime socket."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        backends: Backends,
        store: ConversationStore,
        metrics: ServerMetrics,
        max_message_bytes: int,
        conversation_id: str | None = None,
        toolbox: Toolbox | None = None,
    ) -> None:
        self._websocket = websocket
        self._backends = backends
        self._metrics = metrics
        self._max_message_bytes = max_message_bytes
        self._limits = backends.settings.server
        self.options = RealtimeOptions()
        self.output_sample_rate_hz = backends.settings.audio.output_sample_rate_hz
        self._event_ids = itertools.count(1)
        self._outgoing: asyncio.Queue[tuple[int | None, dict[str, Any]] | None] = asyncio.Queue()
        self._queued_audio = 0
        self._audio_drained = asyncio.Event()
        self._sink = WebSocketAudioSink(self)
        self.session = Session(
            backends,
            store=store,
            sink=self._sink,
            observer=self._on_session_event,
            conversation_id=conversation_id,
            toolbox=toolbox,
        )
        self.session_id = new_id("sess")
        # Back-pressure, never loss: a client that sends audio faster than it can be heard waits.
        self._mic: Channel[AudioFrame] = Channel(maxsize=100, overflow="block")
        self._resampler = self._make_resampler()
        self._stream_sample = 0
        self._manual_buffer: list[np.ndarray] = []
        self._responses: dict[int, ResponseRef] = {}
        self._items_by_id: dict[str, tuple[str, int]] = {}  # item id → (kind, turn or message id)
        self._user_item_id: str | None = None
        self._last_item_id: str | None = None
        self._speech_onset_ns: int | None = None
        self._response_tasks: set[asyncio.Task[None]] = set()
        # Function calls awaiting the client's output: call id -> (name, arguments JSON).
        self._calls_by_id: dict[str, tuple[str, str]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._drop_reason: str | None = None  # set when a client that stopped reading is dropped
        self._failed_events = 0

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        self._send(
            None,
            {"type": "session.created", "session": self._session_json()},
        )
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(self._write())
            listener = group.create_task(self.session.listen(self._mic_frames()))
            self._reader = group.create_task(self._read())
            try:
                await asyncio.wait({self._reader})  # ends when the client goes, or is dropped
            finally:
                # Gone mid-reply: stop generating. A reply already sent is kept whole, since
                # nothing says how much of it the client played.
                self._cancel_live_response(reason="client_cancelled")
                for task in list(self._response_tasks):
                    task.cancel()
                self._mic.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener, timeout=5)
                if self._drop_reason is not None:
                    writer.cancel()  # stuck on a socket nobody reads
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            self._websocket.close(code=1008, reason=self._drop_reason), timeout=1
                        )
                else:
                    self._outgoing.put_nowait(None)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(writer, timeout=5)

    async def _mic_frames(self) -> AsyncIterator[AudioFrame]:
        async for frame in self._mic:
            yield frame

    async def _read(self) -> None:
        while True:
            try:
                message = await self._websocket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                self._send_error(
                    "invalid_event", "Send client events as JSON text messages, not binary.", None
                )
                del raw
                continue
            await self._handle_text(text)

    async def _handle_text(self, text: str) -> None:
        event_id: str | None = None
        try:
            if len(text) > self._max_message_bytes:
                raise ClientEventError(
                    "message_too_large",
                    f"The message has {len(text):,} bytes; the limit is {self._max_message_bytes:,}. "
                    "Send audio in smaller appends (for example 20-100 ms each).",
                )
            try:
                event = json.loads(text)
            except json.JSONDecodeError as error:
                raise ClientEventError(
                    "invalid_json", f"The message is not valid JSON: {error}."
                ) from None
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ClientEventError(
                    "invalid_event", "A client event is a JSON object with a `type`."
                )
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            await self._dispatch(event)
        except ClientEventError as error:
            self._send_error(error.code, str(error), event_id, error_type=error.error_type)
        except ParleyError as error:
            self._send_error("server_error", str(error), event_id, error_type="server_error")
        except Exception as error:
            # One traceback per session; after that one line each, so that a client sending
            # bad events in a loop cannot flood the log.
            self._failed_events += 1
            if self._failed_events == 1:
                log.exception("a realtime client event failed (session %s)", self.session_id)
            elif self._failed_events <= 100 or self._failed_events % 1000 == 0:
                log.warning(
                    "a realtime client event failed again (session %s, %d so far): %s",
                    self.session_id,
                    self._failed_events,
                    f"{type(error).__name__}: {error}"[:200],
                )
            self._send_error(
                "server_error",
                "Parley failed to handle this event; see the server log.",
                event_id,
                error_type="server_error",
            )

    # ---- client events ---------------------------------------------------------------------

    async def _dispatch(self, event: dict[str, Any]) -> None:
        match event["type"]:
            case "session.update":
                self._update_session(event.get("session"))
            case "input_audio_buffer.append":
                await self._append_audio(event.get("audio"))
            case "input_audio_buffer.commit":
                await self._commit_audio()
            case "input_audio_buffer.clear":
                self._manual_buffer.clear()
                self._send(None, {"type": "input_audio_buffer.cleared"})
            case "conversation.item.create":
                await self._create_item(event.get("item"), event.get("previous_item_id"))
            case "conversation.item.truncate":
                await self._truncate_item(event)
            case "conversation.item.delete":
                await self._delete_item(event.get("item_id"))
            case "response.create":
                self._create_response()
            case "response.cancel":
                if not self._cancel_live_response(reason="client_cancelled"):
                    raise ClientEventError(
                        "response_cancel_not_active", "There is no response to cancel."
                    )
            case unknown:
                raise ClientEventError(
                    "unknown_event",
                    f"Unknown client event type {unknown!r}. Parley speaks the OpenAI Realtime GA events.",
                )

    def _update_session(self, session: Any) -> None:
        if not isinstance(session, dict):
            raise ClientEventError("invalid_session", "session.update needs a `session` object.")
        try:  # the shape is checked by the openai SDK's own model of a realtime session
            RealtimeSessionCreateRequest.model_validate(_without_audio_formats(session))
        except pydantic.ValidationError as error:
            raise ClientEventError(
                "invalid_session", _validation_problem("session", error)
            ) from None
        if (instructions := session.get("instructions")) is not None:
            if not isinstance(instructions, str):
                raise ClientEventError("invalid_session", "session.instructions must be a string.")
            self._check_text_length(instructions, "session.instructions")
            self.session.instructions = instructions or None
        modalities = session.get("output_modalities")
        if modalities is not None:
            if (
                not isinstance(modalities, list)
                or not set(modalities) <= {"audio", "text"}
                or not modalities
            ):
                raise ClientEventError(
                    "invalid_session", "output_modalities is ['audio'] or ['text']."
                )
            self.session.is_speaking = "audio" in modalities
        audio = session.get("audio") or {}
        input_config = audio.get("input") or {}
        output_config = audio.get("output") or {}
        rate = parse_audio_rate(input_config.get("format"), "input")
        if rate is not None and rate != self.options.input_rate_hz:
            self.options.input_rate_hz = rate
            self._resampler = self._make_resampler()
        if (rate := parse_audio_rate(output_config.get("format"), "output")) is not None:
            self.options.output_rate_hz = rate
        if "turn_detection" in input_config:
            detection = input_config["turn_detection"]
            if detection is None:
                self.options.turn_detection = None
                self.session.is_replying_automatically = False
            elif (
                isinstance(detection, dict) and detection.get("type", "server_vad") == "server_vad"
            ):
                self.options.turn_detection = {"type": "server_vad", **detection}
                self.session.is_replying_automatically = bool(
                    detection.get("create_response", True)
                )
                self.session.is_barge_in_enabled = bool(detection.get("interrupt_response", True))
                if (threshold := detection.get("threshold")) is not None:
                    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
                        raise ClientEventError(
                            "invalid_session", "turn_detection.threshold is between 0 and 1."
                        )
                    self.session.vad_threshold = float(threshold)
                if (silence_ms := detection.get("silence_duration_ms")) is not None:
                    self.session.end_silence_ms = max(64, int(silence_ms))
            else:
                raise ClientEventError(
                    "unsupported_turn_detection",
                    "Parley supports turn_detection {type: 'server_vad'} or null (commit by hand).",
                )
        if (speed := output_config.get("speed")) is not None:
            if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
                raise ClientEventError(
                    "invalid_session", "audio.output.speed is between 0.25 and 4."
                )
            self.options.speed = float(speed)
            self.session.speed = float(speed)
        if "tools" in session:
            tools = session["tools"]
            if isinstance(tools, list) and len(tools) > self._limits.max_client_tools:
                raise ClientEventError(
                    "too_many_tools",
                    f"session.tools has {len(tools)} tools; Parley takes at most "
                    f"{self._limits.max_client_tools} (server.max_client_tools).",
                )
            if len(json.dumps(tools)) > self._limits.max_text_chars * 4:
                raise ClientEventError(
                    "tools_too_large", "session.tools is too large; describe the tools briefly."
                )
            self.session.client_tools = _client_tools(tools)
        if (choice := session.get("tool_choice")) is not None:
            if isinstance(choice, dict) and isinstance(choice.get("name"), str):
                self.session.client_tool_choice = choice["name"]
            elif choice in ("auto", "none", "required"):
                self.session.client_tool_choice = choice
            else:
                raise ClientEventError(
                    "invalid_session", "tool_choice is auto, none, required or a function."
                )
        if isinstance(voice := output_config.get("voice"), str):
            self.options.voice = (
                voice  # Parley has one embedded voice; the name is kept for clients
            )
        self._send(None, {"type": "session.updated", "session": self._session_json()})

    def _make_resampler(self) -> soxr.ResampleStream | None:
        if self.options.input_rate_hz == INPUT_SAMPLE_RATE_HZ:
            return None
        return soxr.ResampleStream(
            self.options.input_rate_hz, INPUT_SAMPLE_RATE_HZ, 1, dtype="int16"
        )

    async def _append_audio(self, audio: Any) -> None:
        if not isinstance(audio, str):
            raise ClientEventError(
                "invalid_audio", "input_audio_buffer.append needs base64 `audio`."
            )
        try:
            payload = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ClientEventError("invalid_audio", "`audio` is not valid base64.") from None
        if len(payload) % 2:
            raise ClientEventError("invalid_audio", "PCM16 audio needs an even number of bytes.")
        samples = np.frombuffer(payload, dtype="<i2").astype(np.int16)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        if samples.size == 0:
            return
        if self.options.turn_detection is None:
            buffered = sum(piece.size for piece in self._manual_buffer)
            limit_samples = int(self._limits.max_input_buffer_s * INPUT_SAMPLE_RATE_HZ)
            if buffered + samples.size > limit_samples:
                raise ClientEventError(
                    "input_audio_buffer_full",
                    f"The input audio buffer holds {buffered / INPUT_SAMPLE_RATE_HZ:.0f} s, the "
                    f"most it takes is {self._limits.max_input_buffer_s:g} s: commit it (or clear "
                    "it) before appending more. This append was not added.",
                )
            self._manual_buffer.append(samples)
            return
        # Frames of a microphone's size: VAD runs between them and the event loop stays free
        # for other sessions, however large one append is.
        for start in range(0, samples.size, _FRAME_SAMPLES):
            frame = AudioFrame(
                samples=samples[start : start + _FRAME_SAMPLES],
                start_sample=self._stream_sample,
                t_ns=time.perf_counter_ns(),
            )
            self._stream_sample += frame.samples.size
            await self._mic.send(frame)

    async def _commit_audio(self) -> None:
        if self.options.turn_detection is not None:
            return  # with server VAD, turns end by themselves
        audio = (
            np.concatenate(self._manual_buffer) if self._manual_buffer else np.zeros(0, np.int16)
        )
        self._manual_buffer.clear()
        if audio.size < INPUT_SAMPLE_RATE_HZ * _MIN_COMMIT_MS // 1000:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                f"The buffer holds {audio.size * 1000 // INPUT_SAMPLE_RATE_HZ} ms of audio; commit needs at least {_MIN_COMMIT_MS} ms.",
            )
        item_id = new_id("item")
        self._send(
            None,
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": self._last_item_id,
            },
        )
        self._send(
            None,
            {
                "type": "conversation.item.added",
                "previous_item_id": self._last_item_id,
                "item": user_item(item_id, None, "in_progress"),
            },
        )
        transcript = await self._backends.stt.transcribe(audio, is_final=True)
        self._send(
            None,
            transcription_completed(item_id, transcript.text, audio.size / INPUT_SAMPLE_RATE_HZ),
        )
        self._send(
            None,
            {
                "type": "conversation.item.done",
                "previous_item_id": self._last_item_id,
                "item": user_item(item_id, transcript.text, "completed"),
            },
        )
        self._last_item_id = item_id
        if transcript.text:
            message_id = await self.session.add_user_text(transcript.text)
            self._items_by_id[item_id] = ("message", message_id)

    async def _create_item(self, item: Any, previous_item_id: Any) -> None:
        del previous_item_id  # items are appended in order; insertion elsewhere is not supported
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            self._add_function_output(item)
            return
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            raise ClientEventError(
                "unsupported_item", "Parley accepts conversation items of type 'message'."
            )
        role = item.get("role")
        parts = item.get("content")
        if role not in {"user", "system", "assistant"} or not isinstance(parts, list):
            raise ClientEventError(
                "invalid_item", "A message item needs a role and a content list."
            )
        text = " ".join(
            str(part.get("text") or part.get("transcript") or "")
            for part in parts
            if isinstance(part, dict)
        ).strip()
        if not text:
            raise ClientEventError("invalid_item", "The message has no text content.")
        self._check_text_length(text, "The message")
        item_id = _client_item_id(item)
        if role == "system":
            self.session.instructions = text
        elif role == "user":
            message_id = await self.session.add_user_text(text)
            self._items_by_id[item_id] = ("message", message_id)
        else:
            message_id = await asyncio.to_thread(
                self.session._store.add_message, self.session.conversation_id, "assistant", text
            )
            self._items_by_id[item_id] = ("message", message_id)
        stored = {**item, "id": item_id, "object": "realtime.item", "status": "completed"}
        self._append_client_item(item_id, stored)

    def _check_text_length(self, text: str, what: str) -> None:
        if len(text) > self._limits.max_text_chars:
            raise ClientEventError(
                "text_too_long",
                f"{what} has {len(text):,} characters; the limit is "
                f"{self._limits.max_text_chars:,} (server.max_text_chars). Nothing was added.",
            )

    def _append_client_item(self, item_id: str, stored: dict[str, Any]) -> None:
        """A client's item joins the conversation at once: added and done together."""
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._send(None, {"type": kind, "previous_item_id": self._last_item_id, "item": stored})
        self._last_item_id = item_id

    def _add_function_output(self, item: dict[str, Any]) -> None:
        call_id, output = item.get("call_id"), item.get("output")
        if not isinstance(call_id, str) or call_id not in self._calls_by_id:
            raise ClientEventError(
                "invalid_item", f"No function call {call_id!r} is waiting for output."
            )
        if not isinstance(output, str):
            raise ClientEventError(
                "invalid_item", "function_call_output needs `output` as a string."
            )
        self._check_text_length(output, "The function output")
        name, arguments = self._calls_by_id.pop(call_id)
        self.session.add_tool_output(name, output, arguments=arguments)
        item_id = _client_item_id(item)
        stored = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call_output",
            "call_id": call_id,
            "output": output,
        }
        self._append_client_item(item_id, stored)

    async def _truncate_item(self, event: dict[str, Any]) -> None:
        item_id, audio_end_ms = event.get("item_id"), event.get("audio_end_ms")
        if not isinstance(item_id, str) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise ClientEventError(
                "invalid_truncate", "truncate needs `item_id` and a non-negative `audio_end_ms`."
            )
        kind, turn_id = self._items_by_id.get(item_id, ("", 0))
        if kind != "turn":
            raise ClientEventError("item_not_found", f"No assistant audio item {item_id!r}.")
        heard = await self.session.truncate_reply(turn_id, audio_end_ms=audio_end_ms)
        if heard is None:
            # The reply is still being written: remember the client's figure for when it ends.
            self._sink.set_heard(turn_id, audio_end_ms * self.output_sample_rate_hz // 1000)
        self._send(
            None,
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": event.get("content_index", 0),
                "audio_end_ms": audio_end_ms,
            },
        )

    async def _delete_item(self, item_id: Any) -> None:
        if not isinstance(item_id, str) or item_id not in self._items_by_id:
            raise ClientEventError("item_not_found", f"No conversation item {item_id!r}.")
        kind, number = self._items_by_id.pop(item_id)
        message_id = number if kind == "message" else self.session.message_id_for_turn(number)
        if message_id is not None:
            await asyncio.to_thread(self.session._store.delete_message, message_id)
        self._send(None, {"type": "conversation.item.deleted", "item_id": item_id})

    def _create_response(self) -> None:
        if any(not r.is_finished for r in self._responses.values()):
            raise ClientEventError(
                "conversation_already_has_active_response",
                "A response is already in progress: cancel it first or wait for response.done.",
            )
        # A client may ask again as soon as it has response.done, while the last reply is still
        # being stored: the new one starts once that is finished, so replies never overlap.
        task = asyncio.create_task(self._respond(after=list(self._response_tasks)))
        self._response_tasks.add(task)
        task.add_done_callback(self._response_tasks.discard)

    async def _respond(self, *, after: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*after, return_exceptions=True)
        try:
            await self.session.respond(None)
        except ParleyError as error:
            self._send_error("response_failed", str(error), None, error_type="server_error")

    def _cancel_live_response(self, *, reason: str) -> bool:
        scope = self.session.live_scope
        if scope is None or scope.is_cancelled:
            return False
        self.session.interrupt()
        response = self._responses.get(scope.turn_id)
        if response is not None:
            # The client hears silence now; response.done goes out before teardown finishes.
            self._finish_response(
                response,
                status="cancelled",
                reason=reason,
                heard_text=scope.heard_text(),
                metrics=scope.metrics.as_dict(),
            )
        return True

    def _truncate_reply_still_playing(self) -> None:
        """The reply was sent whole but the client is presumably still playing it: the session
        cuts it and keeps what was heard; the client is told what was kept.

        A client that knows better says so with conversation.item.truncate.
        """
        interruption = self.session.interrupt()
        if interruption is None or interruption.was_generating:
            return
        response = self._responses.get(interruption.turn_id)
        if response is not None:
            self._send(
                None,
                {
                    "type": "conversation.item.truncated",
                    "item_id": response.item_id,
                    "content_index": 0,
                    "audio_end_ms": interruption.audio_end_ms,
                },
            )

    # ---- session events → server events ----------------------------------------------------

    def _on_session_event(self, event: ListenerEvent | TurnEvent) -> None:
        match event:
            case SpeechStarted(start_sample=start_sample, onset_t_ns=onset_t_ns):
                self._speech_onset_ns = onset_t_ns
                self._user_item_id = new_id("item")
                self._send(
                    None,
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": start_sample * 1000 // INPUT_SAMPLE_RATE_HZ,
                        "item_id": self._user_item_id,
                    },
                )
                if self.session.is_barge_in_enabled and not self._cancel_live_response(
                    reason="turn_detected"
                ):
                    self._truncate_reply_still_playing()
            case PartialTranscript(text=text) if self._user_item_id:
                self._send(
                    None,
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": self._user_item_id,
                        "content_index": 0,
                        "delta": text,
                    },
                )
            case SpeechEnded(last_voiced_sample=last_sample) if self._user_item_id:
                item_id = self._user_item_id
                self._send(
                    None,
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": last_sample * 1000 // INPUT_SAMPLE_RATE_HZ,
                        "item_id": item_id,
                    },
                )
                self._send(
                    None,
                    {
                        "type": "input_audio_buffer.committed",
                        "item_id": item_id,
                        "previous_item_id": self._last_item_id,
                    },
                )
                self._send(
                    None,
                    {
                        "type": "conversation.item.added",
                        "previous_item_id": self._last_item_id,
                        "item": user_item(item_id, None, "in_progress"),
                    },
                )
            case FinalTranscript(text=text, speech=speech) if self._user_item_id:
                item_id = self._user_item_id
                seconds = (speech.last_voiced_sample - speech.start_sample) / INPUT_SAMPLE_RATE_HZ
                self._send(None, transcription_completed(item_id, text, seconds))
                self._send(
                    None,
                    {
                        "type": "conversation.item.done",
                        "previous_item_id": self._last_item_id,
                        "item": user_item(item_id, text, "completed"),
                    },
                )
                self._last_item_id = item_id
                self._items_by_id[item_id] = ("user_turn", 0)
                self._user_item_id = None
            case TurnStarted(turn_id=turn_id, kind=kind):
                response = ResponseRef(turn_id, new_id("resp"), new_id("item"))
                self._responses[turn_id] = response
                self._items_by_id[response.item_id] = ("turn", turn_id)
                self._send(
                    None,
                    {
                        "type": "response.created",
                        "response": self._response_json(response, "in_progress"),
                    },
                )
                if kind == "function_call":
                    return  # its item is announced with the call itself
                item = assistant_item(
                    response.item_id, None, "in_progress", self.session.is_speaking
                )
                self._send(
                    None,
                    {
                        "type": "response.output_item.added",
                        "response_id": response.response_id,
                        "output_index": 0,
                        "item": item,
                    },
                )
                self._send(
                    None,
                    {
                        "type": "conversation.item.added",
                        "previous_item_id": self._last_item_id,
                        "item": item,
                    },
                )
                self._send(
                    None,
                    {
                        "type": "response.content_part.added",
                        "response_id": response.response_id,
                        "item_id": response.item_id,
                        "output_index": 0,
                        "content_index": 0,
                        "part": content_part("", self.session.is_speaking),
                    },
                )
                self._last_item_id = response.item_id
            case FunctionCallRequested(
                turn_id=turn_id, call_id=call_id, name=name, arguments_json=arguments
            ):
                if (live := self._live_response(turn_id)) is not None:
                    self._announce_function_call(live, call_id, name, arguments)
            case TextDelta(turn_id=turn_id, text=text) if not self.session.is_speaking:
                if (live := self._live_response(turn_id)) is not None:
                    live.transcript += text
                    self._send(
                        turn_id,
                        {
                            "type": "response.output_text.delta",
                            **content_ref(live),
                            "delta": text,
                        },
                    )
            case SentenceReady(turn_id=turn_id, text=text) if self.session.is_speaking:
                if (live := self._live_response(turn_id)) is not None:
                    delta = (" " if live.transcript else "") + text
                    live.transcript += delta
                    self._send(
                        turn_id,
                        {
                            "type": "response.output_audio_transcript.delta",
                            **content_ref(live),
                            "delta": delta,
                        },
                    )
            case TurnDone(
                turn_id=turn_id, was_cancelled=was_cancelled, heard_text=heard, metrics=metrics
            ):
                if (live := self._live_response(turn_id)) is not None:
                    self._finish_response(
                        live,
                        status="cancelled" if was_cancelled else "completed",
                        reason="client_cancelled",
                        heard_text=heard,
                        metrics=metrics,
                    )
            case ConversationEnded():
                # After everything already queued (the goodbye itself), hang up cleanly.
                self._outgoing.put_nowait((None, {"type": _HANG_UP}))
            case _:
                pass

    def _announce_function_call(
        self, response: ResponseRef, call_id: str, name: str, arguments: str
    ) -> None:
        item = {
            "id": response.item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self._calls_by_id[call_id] = (name, arguments)
        ref = {"response_id": response.response_id, "output_index": 0}
        self._send(None, {"type": "response.output_item.added", **ref, "item": item})
        self._send(
            None,
            {
                "type": "conversation.item.added",
                "previous_item_id": self._last_item_id,
                "item": item,
            },
        )
        call_ref = {**ref, "item_id": response.item_id, "call_id": call_id}
        self._send(
            None, {"type": "response.function_call_arguments.delta", **call_ref, "delta": arguments}
        )
        self._send(
            None,
            {
                "type": "response.function_call_arguments.done",
                **call_ref,
                "name": name,
                "arguments": arguments,
            },
        )
        response.function_call = {**item, "status": "completed", "arguments": arguments}
        self._last_item_id = response.item_id

    def _live_response(self, turn_id: int) -> ResponseRef | None:
        response = self._responses.get(turn_id)
        return response if response is not None and not response.is_finished else None

    def _finish_response(
        self,
        response: ResponseRef,
        *,
        status: str,
        reason: str,
        heard_text: str,
        metrics: dict[str, Any],
    ) -> None:
        response.is_finished = True
        was_cancelled = status == "cancelled"
        if was_cancelled and self._speech_onset_ns is not None and reason == "turn_detected":
            metrics = {
                **metrics,
                "interruption_ms": round((time.perf_counter_ns() - self._speech_onset_ns) / 1e6, 1),
            }
        if response.function_call is not None:
            item = response.function_call
            self._send(
                None,
                {
                    "type": "response.output_item.done",
                    "response_id": response.response_id,
                    "output_index": 0,
                    "item": item,
                },
            )
            self._send(
                None, {"type": "conversation.item.done", "previous_item_id": None, "item": item}
            )
            self._send(
                None,
                {
                    "type": "response.done",
                    "response": self._response_json(
                        response, status, output=[item], metrics=metrics
                    ),
                },
            )
            return
        transcript = heard_text if was_cancelled else response.transcript
        speaking = self.session.is_speaking
        ref = content_ref(response)
        if speaking:
            self._send(None, {"type": "response.output_audio.done", **ref})
            self._send(
                None,
                {"type": "response.output_audio_transcript.done", **ref, "transcript": transcript},
            )
        else:
            self._send(None, {"type": "response.output_text.done", **ref, "text": transcript})
        self._send(
            None,
            {
                "type": "response.content_part.done",
                **ref,
                "part": content_part(transcript, speaking),
            },
        )
        item = assistant_item(
            response.item_id, transcript, "incomplete" if was_cancelled else "completed", speaking
        )
        self._send(
            None,
            {
                "type": "response.output_item.done",
                "response_id": response.response_id,
                "output_index": 0,
                "item": item,
            },
        )
        self._send(None, {"type": "conversation.item.done", "previous_item_id": None, "item": item})
        done = self._response_json(response, status, output=[item], metrics=metrics)
        if was_cancelled:
            done["status_details"] = {"type": "cancelled", "reason": reason}
        self._send(None, {"type": "response.done", "response": done})
        self._metrics.observe_turn(metrics, was_cancelled=was_cancelled)

    # ---- writing ---------------------------------------------------------------------------

    def _send(self, turn_id: int | None, event: dict[str, Any]) -> None:
        if self._outgoing.qsize() >= _MAX_QUEUED_EVENTS:
            self._drop_client(f"the client read none of its last {_MAX_QUEUED_EVENTS} events")
            return
        self._outgoing.put_nowait(
            (turn_id, {"event_id": f"event_{next(self._event_ids)}", **event})
        )

    async def send_audio(self, turn_id: int, event: dict[str, Any]) -> None:
        while self._queued_audio >= _MAX_QUEUED_AUDIO_MESSAGES:
            self._audio_drained.clear()
            try:
                await asyncio.wait_for(
                    self._audio_drained.wait(), timeout=self._limits.max_send_stall_s
                )
            except TimeoutError:
                # The reply waits on nobody: the turn is cancelled and the slot freed.
                self._drop_client(
                    f"the client read no audio for {self._limits.max_send_stall_s:g} s"
                )
                raise asyncio.CancelledError from None
        self._queued_audio += 1
        self._send(turn_id, event)

    def _drop_client(self, reason: str) -> None:
        """A client that stops reading is disconnected rather than allowed to hold its slot,
        its reply, or a model."""
        if self._drop_reason is not None:
            return
        self._drop_reason = f"{reason}; disconnected"
        log.warning("realtime session %s: %s", self.session_id, self._drop_reason)
        self._metrics.errors.labels(code="client_too_slow").inc()
        if self._reader is not None:
            self._reader.cancel()

    def _send_error(
        self,
        code: str,
        message: str,
        event_id: str | None,
        *,
        error_type: str = "invalid_request_error",
    ) -> None:
        self._metrics.errors.labels(code=code).inc()
        self._send(
            None,
            {
                "type": "error",
                "error": {
                    "type": error_type,
                    "code": code,
                    "message": message,
                    "event_id": event_id,
                },
            },
        )

    async def _write(self) -> None:
        while (entry := await self._outgoing.get()) is not None:
            turn_id, event = entry
            if event["type"] == _HANG_UP:
                with contextlib.suppress(Exception):
                    await self._websocket.close(code=1000, reason="conversation ended")
                return
            is_audio = event["type"] == "response.output_audio.delta"
            if is_audio:
                self._queued_audio -= 1
                self._audio_drained.set()
                if turn_id is not None and self._sink.is_cleared(turn_id):
                    continue  # the user interrupted: never send audio they should not hear
            try:
                await self._websocket.send_text(json.dumps(event))
            except (WebSocketDisconnect, RuntimeError):
                return

    # ---- JSON shapes -----------------------------------------------------------------------

    def _session_json(self) -> dict[str, Any]:
        detection = self.options.turn_detection
        if detection is not None:
            detection = {
                "type": "server_vad",
                "threshold": self.session.vad_threshold,
                "silence_duration_ms": self.session.end_silence_ms,
                "prefix_padding_ms": self._backends.settings.vad.pre_roll_ms,
                "create_response": self.session.is_replying_automatically,
                "interrupt_response": self.session.is_barge_in_enabled,
            }
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.session_id,
            # Parley's addition: reconnect with ?conversation=<id> to carry on this conversation.
            "conversation_id": self.session.conversation_id,
            "model": "parley",
            "output_modalities": ["audio"] if self.session.is_speaking else ["text"],
            "instructions": self.session.instructions or self._backends.settings.llm.system_prompt,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": self.options.input_rate_hz},
                    "transcription": {"model": f"whisper-{self._backends.settings.stt.model}"},
                    "turn_detection": detection,
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": self.options.output_rate_hz},
                    "voice": self.options.voice,
                    "speed": self.options.speed,
                },
            },
        }

    def _response_json(
        self,
        response: ResponseRef,
        status: str,
        *,
        output: list[Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": "realtime.response",
            "id": response.response_id,
            "status": status,
            "conversation_id": self.session.conversation_id,
            "output_modalities": ["audio"] if self.session.is_speaking else ["text"],
            "output": output or [],
        }
        if metrics is not None:
            tokens = int(metrics.get("llm_tokens") or 0)
            body["usage"] = {"total_tokens": tokens, "input_tokens": 0, "output_tokens": tokens}
            # Metadata values are strings in the protocol; Parley puts its turn metrics there.
            body["metadata"] = {
                k: str(v)
                for k, v in metrics.items()
                if v is not None and not k.startswith("llm_tokens")
            }
        return body

    def response_for_turn(self, turn_id: int) -> ResponseRef | None:
        return self._live_response(turn_id)


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
    place = ".".join([root, *(str(part) for part in first["loc"][1:])])
    return f"{place}: {first['msg']}."


def _client_tools(tools: Any) -> list[ToolSpec]:
    if not isinstance(tools, list):
        raise ClientEventError("invalid_session", "session.tools is a list of function tools.")
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


def _client_item_id(item: dict[str, Any]) -> str:
    """The id the client gave its item, or a new one."""
    given = item.get("id")
    return given if isinstance(given, str) and given else new_id("item")
