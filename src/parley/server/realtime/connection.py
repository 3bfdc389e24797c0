"""The OpenAI Realtime protocol (GA event names) over one Parley Session, for ``WS /v1/realtime``
and for ``POST /v1/realtime/calls`` (WebRTC) alike.

Each connection owns one Session. Its events travel over an ``EventPipe`` (the socket, or the
call's data channel); a call's audio travels on its tracks (``CallMedia``), a socket's as
base64 events. Client events are made into Parley's values by ``inbound``
and acted on here; the Session's own events become server events in ``outbound`` and are queued
for one writer task, so the socket is only ever written from one place. A fault in one client's
events becomes an ``error`` event on that socket and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.errors import ParleyError
from parley.models.voices import offline_voices
from parley.ops.log_format import current_session
from parley.ops.metrics import ServerMetrics
from parley.pipeline.events import ListenerEvent, ReplyInterrupted, TurnDone, TurnEvent
from parley.pipeline.runtime import Runtime
from parley.pipeline.session_options import SessionOptions
from parley.server.realtime import inbound
from parley.server.realtime.audio_in import InputAudio
from parley.server.realtime.audio_out import WebSocketAudioSink
from parley.server.realtime.client_faults import ClientFaults
from parley.server.realtime.item_events import ItemEvents
from parley.server.realtime.items import ItemRegistry
from parley.server.realtime.outbound import Event, Outbound
from parley.server.realtime.outgoing import Outgoing
from parley.server.realtime.pipe import SERVICE_RESTART, EventPipe, PipeClosed
from parley.server.realtime.protocol import ClientEventError, RealtimeOptions, new_id
from parley.server.realtime.response_options import response_options
from parley.server.realtime.rtc_media import (
    CALL_RATE_HZ,
    CallMedia,
    TrackAudioSink,
)

_CLEAR_ON_A_SOCKET = (
    "output_audio_buffer.clear is for WebRTC calls; over a WebSocket, stop playback on the "
    "client and send conversation.item.truncate."
)


class RealtimeConnection:
    """One client on the realtime socket, or on a WebRTC call (``call``)."""

    def __init__(
        self,
        pipe: EventPipe,
        *,
        runtime: Runtime,
        metrics: ServerMetrics,
        conversation_id: str | None = None,
        call: CallMedia | None = None,
    ) -> None:
        backends = runtime.backends
        self._backends = backends
        self._runtime = runtime
        self._pipe = pipe
        self._call = call
        self._settings = backends.settings
        self._stt = backends.stt
        self._metrics = metrics
        self._limits = backends.settings.server
        self.transport = RealtimeOptions()
        self._sink: WebSocketAudioSink | TrackAudioSink = (
            WebSocketAudioSink(
                self._send_audio,
                client_rate_hz=lambda: self.transport.output_rate_hz,
                pipeline_rate_hz=backends.settings.audio.output_sample_rate_hz,
            )
            if call is None
            else call.sink
        )
        self.session = runtime.session(
            sink=self._sink, conversation_id=conversation_id, observer=self._on_session_event
        )
        self.session_id = new_id("sess")
        self._outgoing = Outgoing(
            pipe,
            session_id=self.session_id,
            max_send_stall_s=self._limits.max_send_stall_s,
            is_cleared=self._sink.tracks.is_cleared,
            on_drop=self._on_drop,
        )
        self._items = ItemRegistry()
        self._faults = ClientFaults(session_id=self.session_id, metrics=metrics, send=self._send)
        self._outbound = Outbound(
            settings=backends.settings,
            session_id=self.session_id,
            conversation_id=self.session.conversation_id,
            options=lambda: self.session.options,
            transport=lambda: self.transport,
            items=self._items,
            observe_turn=lambda turn, was_cancelled: metrics.observe_turn(
                turn, was_cancelled=was_cancelled
            ),
        )
        self._item_events = ItemEvents(
            session=self.session,
            items=self._items,
            outbound=self._outbound,
            settings=backends.settings,
            set_heard=self._sink.set_heard,
            send=self._send,
        )
        client_rate_hz = self.transport.input_rate_hz if call is None else CALL_RATE_HZ
        self._input = InputAudio(self._limits, client_rate_hz=client_rate_hz)
        if call is not None:
            call.on_playback = self._on_playback
        self._response_tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._is_server_stopping = False
        self._is_closing = False  # the client is gone or the server stops: no new replies

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        # Every log line of this session names its conversation (the tasks below inherit it).
        current_session.set(self.session.conversation_id)
        self._send({"type": "session.created", "session": self._outbound.session_json()})
        # Timers and reminders due now, or missed while nobody was connected, are said here.
        stop_telling = await self._runtime.timers.subscribe(self.session.user_id, self._tell)
        try:
            await self._serve()
        finally:
            stop_telling()

    async def _tell(self, _timer: object, words: str) -> bool:
        """Say a timer's words as a response of Parley's own; False once the client is gone."""
        if self._is_closing:
            return False
        self._queue_response(words)
        return True

    async def _serve(self) -> None:
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(self._outgoing.write())
            listener = group.create_task(self.session.listen(self._input.frames))
            self._reader = group.create_task(self._read())
            microphone = None
            if self._call is not None:  # the caller's microphone track
                feeding = self._call.feed(
                    self._input,
                    is_held=lambda: not self.transport.is_server_vad,
                    on_error=lambda error: self._faults.error(error.code, str(error), None),
                )
                microphone = group.create_task(feeding)
            try:
                await asyncio.wait({self._reader})  # ends when the client goes, or is dropped
            finally:
                if self._is_server_stopping:
                    # The server is stopping: the reply ends here for the user, and is stored
                    # as far as it was heard (the client's playback, assumed in real time).
                    self.session.interrupt()
                else:
                    # Gone mid-reply: stop generating. A reply already sent is kept whole,
                    # since nothing says how much of it the client played.
                    self.session.cancel_reply("client_cancelled")
                # The reply just stopped stores what was heard; replies queued behind it do not
                # start (`_respond`). Only a reply that does not finish in time is cancelled,
                # which would lose its row.
                self._is_closing = True
                if self._response_tasks:
                    _done, late = await asyncio.wait(set(self._response_tasks), timeout=10)
                    for task in late:
                        task.cancel()
                if microphone is not None:
                    microphone.cancel()
                self._input.frames.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener, timeout=5)
                if self._is_server_stopping:
                    with contextlib.suppress(Exception):  # the heard text is written first
                        await asyncio.wait_for(self.session.wait_for_replies(), timeout=10)
                if (drop_reason := self._outgoing.drop_reason) is not None:
                    writer.cancel()  # stuck on a socket nobody reads
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            self._pipe.close(code=1008, reason=drop_reason), timeout=1
                        )
                else:
                    self._outgoing.finish()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(writer, timeout=5)

    async def _read(self) -> None:
        while True:
            message = await self._pipe.receive()
            if isinstance(message, PipeClosed):
                # 1012: the server itself is restarting or stopping (SIGTERM) and closed it.
                self._is_server_stopping = message.code == SERVICE_RESTART
                return
            if isinstance(message, bytes):
                self._faults.error(
                    "invalid_event", "Send client events as JSON text messages, not binary.", None
                )
                continue
            await self._handle_text(message)

    async def _handle_text(self, text: str) -> None:
        event_id: str | None = None
        try:
            event = inbound.client_event(text, self._limits)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            await self._dispatch(event)
        except ClientEventError as error:
            self._faults.error(error.code, str(error), event_id, error_type=error.error_type)
        except ParleyError as error:
            self._faults.error("server_error", str(error), event_id, error_type="server_error")
        except Exception as error:
            self._faults.failed(error, event_id)

    # ---- client events ---------------------------------------------------------------------

    async def _dispatch(self, event: dict[str, Any]) -> None:
        match event["type"]:
            case "session.update":
                self._update_session(event.get("session"))
            case "input_audio_buffer.append":
                samples = inbound.pcm16(event.get("audio"))
                await self._input.append(samples, is_held=not self.transport.is_server_vad)
            case "input_audio_buffer.commit":
                await self._commit_audio()
            case "input_audio_buffer.clear":
                self._input.clear_held()
                self._send({"type": "input_audio_buffer.cleared"})
            case "conversation.item.create":
                await self._item_events.create(event.get("item"))
            case "conversation.item.truncate":
                await self._item_events.truncate(event)
            case "conversation.item.delete":
                await self._item_events.delete(event.get("item_id"))
            case "conversation.item.retrieve":
                self._item_events.retrieve(event.get("item_id"))
            case "output_audio_buffer.clear":
                self._clear_output_audio()
            case "response.create":
                self._create_response(event.get("response"))
            case "response.cancel":
                self._cancel_response()
            case unknown:
                raise ClientEventError(
                    "unknown_event",
                    f"Unknown client event type {unknown!r}. Parley speaks the OpenAI Realtime GA events.",
                )

    def _cancel_response(self) -> None:
        if not self.session.cancel_reply("client_cancelled"):
            raise ClientEventError("response_cancel_not_active", "There is no response to cancel.")

    def _update_session(self, session: Any) -> None:
        options, transport = inbound.session_update(
            session,
            options=self.session.options,
            transport=self.transport,
            limits=self._limits,
            voice_names=[
                self._settings.tts.voice_name,
                *(voice.name for voice in offline_voices(self._settings.models_dir)),
            ],
        )
        try:  # loaded here (once per process), not in the first reply that speaks with it
            self._backends.tts_for(options.voice)
        except ParleyError as error:
            raise ClientEventError("unsupported_voice", str(error)) from None
        self.session.options, self.transport = options, transport
        if self._call is None:  # a call's audio comes at Opus's rate, whatever is asked
            self._input.set_client_rate(self.transport.input_rate_hz)
        self._send({"type": "session.updated", "session": self._outbound.session_json()})

    async def _commit_audio(self) -> None:
        if self.transport.is_server_vad:
            return  # with server VAD, turns end by themselves
        audio = self._input.take_held()
        item_id = new_id("item")
        self._send_all(self._outbound.user_audio_committed(item_id))
        transcript = await self._stt.transcribe(audio)
        seconds = audio.size / INPUT_SAMPLE_RATE_HZ
        self._send_all(self._outbound.user_audio_transcribed(item_id, transcript.text, seconds))
        if transcript.text:
            message_id = await self.session.add_user_text(transcript.text)
            self._items.add(item_id, "message", message_id)

    def _create_response(self, response: Any) -> None:
        if self._items.has_live_response:
            raise ClientEventError(
                "conversation_already_has_active_response",
                "A response is already in progress: cancel it first or wait for response.done.",
            )
        options = response_options(response, options=self.session.options, limits=self._limits)
        self._queue_response(None, options=None if response is None else options)

    def _queue_response(
        self, announcement: str | None, *, options: SessionOptions | None = None
    ) -> None:
        # A client may ask again as soon as it has response.done, while the last reply is still
        # being stored: the new one starts once that is finished, so replies never overlap.
        after = list(self._response_tasks)
        task = asyncio.create_task(self._respond(announcement, after=after, options=options))
        self._response_tasks.add(task)
        task.add_done_callback(self._response_tasks.discard)

    async def _respond(
        self,
        announcement: str | None,
        *,
        after: list[asyncio.Task[None]],
        options: SessionOptions | None,
    ) -> None:
        await asyncio.gather(*after, return_exceptions=True)
        if self._is_closing:
            return
        session_options = self.session.options
        if options is not None:  # response.create's own, for this response alone
            self.session.options = options
        try:
            if announcement is None:
                await self.session.respond(None)
            else:
                await self.session.announce(announcement)  # a timer went off
        except ParleyError as error:
            self._faults.error("response_failed", str(error), None, error_type="server_error")
        finally:
            if options is not None and self.session.options is options:
                self.session.options = session_options  # unless a session.update came since

    # ---- writing ---------------------------------------------------------------------------

    def _on_session_event(self, event: ListenerEvent | TurnEvent) -> None:
        if self._call is not None and isinstance(event, TurnDone | ReplyInterrupted):
            self._call.sink.end_of_audio(event.turn_id)
        self._send_all(self._outbound.translate(event))

    def _clear_output_audio(self) -> None:
        if self._call is None:
            raise ClientEventError("invalid_event", _CLEAR_ON_A_SOCKET)
        turn_id = self._sink.tracks.floor_turn_id
        self.session.interrupt()  # stored as far as the call's track played it
        if turn_id is not None:
            self._sink.clear(turn_id)

    def _on_playback(self, change: str, turn_id: int) -> None:
        response = self._items.responses.get(turn_id)
        self._send(
            {
                "type": f"output_audio_buffer.{change}",
                "response_id": None if response is None else response.response_id,
            }
        )

    def _send_all(self, events: list[Event]) -> None:
        for event in events:
            self._send(event)

    def _send(self, event: Event) -> None:
        self._items.observe(event)
        self._outgoing.send(event)

    async def _send_audio(self, turn_id: int, samples: Int16Array) -> bool:
        response = self._items.live_response(turn_id)
        if response is None:
            return False
        await self._outgoing.send_audio(turn_id, self._outbound.audio_delta(response, samples))
        return True

    def _on_drop(self) -> None:
        self._metrics.errors.labels(code="client_too_slow").inc()
        if self._reader is not None:
            self._reader.cancel()
