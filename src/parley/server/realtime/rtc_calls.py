"""``POST /v1/realtime/calls``: the Realtime protocol over WebRTC, as OpenAI's own clients speak it.

An SDP offer comes in (no trickle ICE: the answer carries every candidate), the answer goes out
with ``Location: /v1/realtime/calls/{id}``, and the call then runs the same ``RealtimeConnection``
as a WebSocket does: its events on the caller's ``oai-events`` data channel, its audio on Opus
tracks. The credential and body size are checked by ``RequestGuard`` before this code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from fastapi import HTTPException, Request, Response

from parley.config.service_sections import WebRtcConfig
from parley.server.realtime.connection import RealtimeConnection
from parley.server.realtime.pipe import SERVICE_RESTART, PipeClosed, PipeGone
from parley.server.realtime.protocol import new_id
from parley.server.realtime.rtc_media import CallMedia, shorten_jitter_buffer

if TYPE_CHECKING:
    from parley.server.state import ServerState

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "oai-events"
_MAX_UNREAD_EVENTS = 1_000  # client events queued unread before the call is dropped


class DataChannelPipe:
    """The call's ``oai-events`` channel as an ``EventPipe``."""

    def __init__(self) -> None:
        self._channel: RTCDataChannel | None = None
        self._incoming: asyncio.Queue[str | bytes | PipeClosed] = asyncio.Queue()
        self.is_open = asyncio.Event()

    @property
    def is_attached(self) -> bool:
        return self._channel is not None

    def attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel

        def on_message(message: str | bytes) -> None:
            if self._incoming.qsize() >= _MAX_UNREAD_EVENTS:
                self.end(None)  # a client flooding events is dropped, not buffered
                return
            self._incoming.put_nowait(message)

        channel.on("message", on_message)
        channel.on("close", lambda: self.end(None))
        if channel.readyState == "open":
            self.is_open.set()
        channel.on("open", self.is_open.set)

    def end(self, code: int | None) -> None:
        self._incoming.put_nowait(PipeClosed(code))

    async def receive(self) -> str | bytes | PipeClosed:
        return await self._incoming.get()

    async def send_text(self, text: str) -> None:
        if self._channel is None or self._channel.readyState != "open":
            raise PipeGone("the call's data channel is closed")
        self._channel.send(text)

    async def close(self, code: int, reason: str) -> None:
        log.info("closing a call: %s (%d)", reason, code)
        self.end(code)


def _ice_servers(config: WebRtcConfig) -> list[RTCIceServer]:
    servers = []
    for url in config.ice_servers:
        scheme, _, rest = url.partition(":")
        credentials, _, host = rest.rpartition("@")
        username, _, password = credentials.partition(":")
        servers.append(
            RTCIceServer(
                urls=f"{scheme}:{host}", username=username or None, credential=password or None
            )
        )
    return servers


def offer_host_addresses(config: WebRtcConfig, bind_host: str) -> None:
    """Offer callers only the configured addresses (by default the one the server binds) as
    ICE host candidates. aioice gathers every interface's address except loopback, and has no
    setting for it, so its gathering function is replaced for this process."""
    every_interface = aioice.ice.get_host_addresses
    if getattr(every_interface, "is_parley_choice", False):
        every_interface = every_interface.every_interface  # type: ignore[attr-defined]
    configured = list(config.host_addresses)

    def chosen(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if configured:
            return configured
        if bind_host in ("0.0.0.0", "::", ""):
            return ["127.0.0.1", *every_interface(use_ipv4=use_ipv4, use_ipv6=use_ipv6)]
        return ["127.0.0.1" if bind_host == "localhost" else bind_host]

    chosen.is_parley_choice = True  # type: ignore[attr-defined]
    chosen.every_interface = every_interface  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = chosen


class RtcCall:
    """One caller: its peer connection, its session slot and its ``RealtimeConnection``."""

    def __init__(
        self,
        state: ServerState,
        *,
        conversation_id: str | None,
        on_end: Callable[[RtcCall], None],
    ) -> None:
        self.call_id = new_id("rtc")
        self._state = state
        self._on_end = on_end
        self._conversation_id = conversation_id
        config = state.settings.server.webrtc
        self._connect_timeout_s = config.connect_timeout_s
        self._jitter_frames = config.jitter_buffer_frames
        self._peer = RTCPeerConnection(RTCConfiguration(iceServers=_ice_servers(config)))
        self.pipe = DataChannelPipe()
        self._is_connected = asyncio.Event()
        self._peer.on("datachannel", self._on_channel)
        self._peer.on("track", self._on_track)
        self._peer.on("connectionstatechange", self._on_state)
        self.media = CallMedia(pipeline_rate_hz=state.settings.audio.output_sample_rate_hz)
        self.task: asyncio.Task[None] | None = None
        self.is_released = False

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label == EVENTS_CHANNEL and not self.pipe.is_attached:
            self.pipe.attach(channel)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self.media.microphone is None:
            self.media.microphone = track
            for transceiver in self._peer.getTransceivers():
                if transceiver.receiver.track is track:
                    shorten_jitter_buffer(transceiver.receiver, self._jitter_frames)

    async def _on_state(self) -> None:
        match self._peer.connectionState:
            case "connected":
                self._is_connected.set()
            case "failed" | "closed":
                self.pipe.end(None)

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer to the caller's offer, every local candidate gathered."""
        try:
            await self._peer.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except (ValueError, KeyError, IndexError) as error:
            raise HTTPException(400, f"The SDP offer could not be read ({error}).") from None
        self._peer.addTrack(self.media.sink.track)
        answer = await self._peer.createAnswer()
        await self._peer.setLocalDescription(answer)
        return self._peer.localDescription.sdp

    async def run(self) -> None:
        """Until the caller hangs up: the call connects within its limit, then the session."""
        state = self._state
        try:
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await self._is_connected.wait()
                    await self.pipe.is_open.wait()
            except TimeoutError:
                log.warning(
                    "call %s did not connect within %g s (its media or the %r data channel); "
                    "dropped",
                    self.call_id,
                    self._connect_timeout_s,
                    EVENTS_CHANNEL,
                )
                return
            connection = RealtimeConnection(
                self.pipe,
                runtime=state.running,
                metrics=state.metrics,
                conversation_id=self._conversation_id,
                call=self.media,
            )
            await connection.run()
        finally:
            await self.close_media()
            self._on_end(self)

    async def close_media(self) -> None:
        self.media.sink.close()
        with contextlib.suppress(Exception):
            await self._peer.close()

    def hang_up(self, *, is_server_stopping: bool = False) -> None:
        self.pipe.end(SERVICE_RESTART if is_server_stopping else None)
        if not self._is_connected.is_set():
            self._is_connected.set()  # a call still connecting ends at once
            self.pipe.is_open.set()


class RtcCalls:
    """The server's calls, by id, each holding one of the realtime session slots."""

    def __init__(self) -> None:
        self.by_id: dict[str, RtcCall] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def open(self, request: Request, state: ServerState) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/sdp":
            raise HTTPException(
                415, "Send the SDP offer as the body with Content-Type: application/sdp."
            )
        resumed = state.resumed_conversation(request.query_params.get("conversation"))
        if not state.take_session_slot():
            raise HTTPException(503, "too many sessions; try again later")
        call = RtcCall(
            state, conversation_id=resumed, on_end=lambda ended: self._release(ended, state)
        )
        try:
            try:
                offer = (await request.body()).decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(400, "The SDP offer is not UTF-8 text.") from None
            if "m=audio" not in offer:
                raise HTTPException(
                    400, "The SDP offer has no audio (m=audio): add the microphone's track."
                )
            answer = await call.answer(offer)
        except BaseException:
            self._release(call, state)
            raise
        self.by_id[call.call_id] = call
        call.task = asyncio.create_task(call.run(), name=f"call-{call.call_id}")
        return Response(
            answer,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": f"/v1/realtime/calls/{call.call_id}"},
        )

    def hang_up(self, call_id: str) -> None:
        call = self.by_id.get(call_id)
        if call is None:
            raise HTTPException(404, f"No call {call_id!r}: it has ended, or never began.")
        call.hang_up()

    def _release(self, call: RtcCall, state: ServerState) -> None:
        if call.is_released:
            return
        call.is_released = True
        self.by_id.pop(call.call_id, None)
        state.release_session_slot()
        if call.task is None:  # refused before it ran: its peer connection goes too
            self._closing.add(task := asyncio.create_task(call.close_media()))
            task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        """The server is stopping: every call ends as if its caller had heard the last word."""
        calls = list(self.by_id.values())
        for call in calls:
            call.hang_up(is_server_stopping=True)
        tasks = [call.task for call in calls if call.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=15)
