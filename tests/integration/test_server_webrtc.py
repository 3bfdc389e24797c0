"""``POST /v1/realtime/calls``: the Realtime protocol over WebRTC, with aiortc as the caller (a
real peer connection over loopback: ICE, DTLS, SRTP, Opus and the ``oai-events`` channel)."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import psutil
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from parley.audio.pcm import decode_file, resample
from parley.bench.rtc_client import CallerMicrophone
from parley.config.service_sections import ServerConfig, WebRtcConfig
from parley.server.realtime.rtc_media import mono_samples
from tests.conftest import RunningServer, running_server
from tests.integration.test_server_realtime import stored_messages

RATE_HZ = 48_000


class Caller:
    """One WebRTC caller: its events as they arrive, the reply audio it heard."""

    def __init__(self) -> None:
        self.peer = RTCPeerConnection()
        self.channel = self.peer.createDataChannel("oai-events")
        self.microphone = CallerMicrophone()
        self.peer.addTrack(self.microphone)
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.heard: list[np.ndarray] = []
        self.opened = asyncio.Event()
        self.channel.on("open", self.opened.set)
        self.channel.on("message", self._on_message)
        self.peer.on("track", self._on_track)
        self._listening: asyncio.Task[None] | None = None
        self.location = ""

    def _on_message(self, message: str) -> None:
        self.events.append(json.loads(message))
        self._arrived.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._listening = asyncio.ensure_future(self._listen(track))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                self.heard.append(mono_samples(frame))

    async def offer(self) -> str:
        await self.peer.setLocalDescription(await self.peer.createOffer())
        return self.peer.localDescription.sdp

    async def call(self, server: RunningServer) -> None:
        answer = await post_offer(server, await self.offer())
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/sdp")
        self.location = answer.headers["location"]
        await self.peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        await asyncio.wait_for(self.opened.wait(), timeout=10)

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    def type_message(self, text: str) -> None:
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        self.send({"type": "conversation.item.create", "item": item})

    async def until(
        self, is_wanted: Callable[[dict[str, Any]], bool], within_s: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        seen = 0
        while True:
            for event in self.events[seen:]:
                if is_wanted(event):
                    return event
            seen = len(self.events)
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen; events: {[e['type'] for e in self.events]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=left)

    def heard_audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)

    async def close(self) -> None:
        await self.peer.close()
        if self._listening is not None:
            self._listening.cancel()


def _headers(server: RunningServer, content_type: str, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key or server.api_key}", "Content-Type": content_type}


async def post_offer(server: RunningServer, offer_sdp: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{server.base_url}/realtime/calls",
            content=offer_sdp,
            headers=_headers(server, "application/sdp"),
        )


@contextlib.asynccontextmanager
async def calling(server: RunningServer) -> AsyncIterator[Caller]:
    caller = Caller()
    try:
        await caller.call(server)
        await caller.until(lambda e: e["type"] == "session.created")
        yield caller
    finally:
        await caller.close()


def spoken_at_48k(path: Path) -> np.ndarray:
    return resample(decode_file(path), 16_000, RATE_HZ)


def open_sessions(server: RunningServer) -> int:
    text = httpx.get(
        f"http://127.0.0.1:{server.port}/metrics",
        headers={"Authorization": f"Bearer {server.api_key}"},
    ).text
    line = next(line for line in text.splitlines() if line.startswith("parley_realtime_sessions "))
    return int(float(line.split()[1]))


async def wait_for_sessions(server: RunningServer, count: int, within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while (now := await asyncio.to_thread(open_sessions, server)) != count:
        assert time.monotonic() < deadline, f"{now} sessions open, {count} expected"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_spoken_question_over_a_call_gets_a_spoken_answer(
    piper_speech: Callable[..., Path],
    server: RunningServer,
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    async with calling(server) as caller:
        caller.microphone.say(spoken_at_48k(piper_speech("What is the capital of France?")))
        heard = await caller.until(
            lambda e: e["type"] == "conversation.item.input_audio_transcription.completed"
        )
        # Whisper tiny.en sometimes hears Piper's "France" as "friends" (see test_web_client).
        assert "what is the capital of" in heard["transcript"].lower()
        done = await caller.until(lambda e: e["type"] == "response.done")
        await caller.until(lambda e: e["type"] == "output_audio_buffer.stopped")
        types = [event["type"] for event in caller.events]
        assert "response.output_audio.delta" not in types  # audio is on the track
        assert types.index("output_audio_buffer.started") < types.index(
            "output_audio_buffer.stopped"
        )
        spoken = done["response"]["output"][0]["content"][0]["transcript"]
        assert "paris" in spoken.lower()
        # What the caller's track played, transcribed back.
        reply_audio = caller.heard_audio()
        assert "paris" in whisper_check(reply_audio, RATE_HZ).lower()
        # The SDK asks for each transcribed item again (conversation.item.retrieve).
        caller.send({"type": "conversation.item.retrieve", "item_id": heard["item_id"]})
        retrieved = await caller.until(lambda e: e["type"] == "conversation.item.retrieved")
        assert retrieved["item"]["content"][0]["transcript"] == heard["transcript"]
    rows = stored_messages(server, done["response"]["conversation_id"])
    assert rows[-2][0] == "user" and "capital of" in rows[-2][1].lower()
    assert rows[-1][0] == "assistant" and "paris" in rows[-1][1].lower()
    await wait_for_sessions(server, 0)


@pytest.mark.slow
async def test_output_audio_buffer_clear_stops_the_reply_where_the_track_was(
    server: RunningServer,
) -> None:
    async with calling(server) as caller:
        caller.type_message("Tell me a long story about a lighthouse keeper and the sea.")
        caller.send({"type": "response.create"})
        await caller.until(lambda e: e["type"] == "output_audio_buffer.started")
        await asyncio.sleep(1.5)
        caller.send({"type": "response.cancel"})
        caller.send({"type": "output_audio_buffer.clear"})
        await caller.until(lambda e: e["type"] == "output_audio_buffer.cleared")
        done = await caller.until(lambda e: e["type"] == "response.done")
        assert done["response"]["status"] == "cancelled"
        heard_samples = caller.heard_audio()
        await asyncio.sleep(0.5)
        # The track is silent from the clear on: past what was in flight (the packets on
        # their way and the caller's jitter buffer, ~90 ms here), nothing more of it arrives.
        after = caller.heard_audio()[heard_samples.size :]
        loud = np.flatnonzero(np.abs(after) > 500)
        assert loud.size == 0 or loud[-1] < RATE_HZ // 5, f"sound {loud[-1] / RATE_HZ:.2f} s on"
        spoken = done["response"]["output"][0]["content"][0]["transcript"]
        assert spoken, "the part of the reply that played is kept"
    rows = stored_messages(server, done["response"]["conversation_id"])
    assert rows[-1][0] == "assistant" and rows[-1][2] == 1  # stored as interrupted
    assert rows[-1][1] == spoken
    await wait_for_sessions(server, 0)


async def test_a_call_is_refused_before_its_offer_is_read(server: RunningServer) -> None:
    caller = Caller()
    offer = await caller.offer()
    url = f"{server.base_url}/realtime/calls"
    async with httpx.AsyncClient() as http:
        wrong_type = await http.post(url, content=offer, headers=_headers(server, "text/plain"))
        assert wrong_type.status_code == 415
        assert "application/sdp" in wrong_type.json()["error"]["message"]
        no_key = await http.post(url, content=offer, headers={"Content-Type": "application/sdp"})
        assert no_key.status_code == 401
        wrong_key = await http.post(
            url,
            content=offer,
            headers=_headers(server, "application/sdp", key="pk-wrong-" + "y" * 20),
        )
        assert wrong_key.status_code == 401
        malformed = await http.post(
            url, content="v=0\r\nthis is no SDP\r\n", headers=_headers(server, "application/sdp")
        )
        assert malformed.status_code == 400
        data_only = RTCPeerConnection()
        data_only.createDataChannel("oai-events")
        await data_only.setLocalDescription(await data_only.createOffer())
        no_audio = await http.post(
            url, content=data_only.localDescription.sdp, headers=_headers(server, "application/sdp")
        )
        assert no_audio.status_code == 400
        assert "m=audio" in no_audio.json()["error"]["message"]
        await data_only.close()
        unknown = await http.delete(f"{url}/rtc_nobody", headers=_headers(server, "text/plain"))
        assert unknown.status_code == 404
    await caller.close()
    await wait_for_sessions(server, 0)


async def test_calls_beyond_the_limit_are_refused_and_hang_ups_free_their_slots(
    backends: Any, tmp_path: Path
) -> None:
    limited = ServerConfig(max_sessions=8, webrtc=WebRtcConfig(connect_timeout_s=2))
    with running_server(backends, tmp_path / "data", server=limited) as server:
        udp_ports_before = udp_ports()
        callers = [Caller() for _ in range(9)]
        try:
            for caller in callers[:8]:
                await caller.call(server)
            refused = await post_offer(server, await callers[8].offer())
            assert refused.status_code == 503
            await wait_for_sessions(server, 8)
            assert udp_ports() >= udp_ports_before + 16  # each call: the server's, the caller's
            async with httpx.AsyncClient() as http:
                hung_up = await http.delete(
                    f"http://127.0.0.1:{server.port}{callers[0].location}",
                    headers=_headers(server, "text/plain"),
                )
                assert hung_up.status_code == 200
            await wait_for_sessions(server, 7)
            # A call whose caller never answers back (no media, no channel) is dropped.
            silent = await post_offer(server, await callers[8].offer())
            assert silent.status_code == 201
            await wait_for_sessions(server, 8)
            await wait_for_sessions(server, 7, within_s=10)
        finally:
            for caller in callers:
                await caller.close()
        await wait_for_sessions(server, 0)
        # Every call's ports are closed again, the server's and the callers' (one process).
        deadline = time.monotonic() + 10
        while udp_ports() > udp_ports_before:
            assert time.monotonic() < deadline, f"{udp_ports() - udp_ports_before} UDP ports left"
            await asyncio.sleep(0.2)


def udp_ports() -> int:
    return len(psutil.Process().net_connections(kind="udp"))


@pytest.mark.slow
async def test_response_create_options_apply_to_that_response_alone(
    server: RunningServer,
) -> None:
    async with calling(server) as caller:
        caller.send({"type": "response.create", "response": {"conversation": "none"}})
        refused = await caller.until(lambda e: e["type"] == "error")
        assert refused["error"]["code"] == "unsupported_response"
        caller.send({"type": "conversation.item.retrieve", "item_id": "item_nobody"})
        missing = await caller.until(
            lambda e: e["type"] == "error" and e["error"]["code"] == "item_not_found"
        )
        assert "item_nobody" in missing["error"]["message"]
        caller.type_message("What is the capital of France?")
        caller.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = await caller.until(lambda e: e["type"] == "response.done")
        types = [event["type"] for event in caller.events]
        assert "response.output_text.delta" in types
        assert "output_audio_buffer.started" not in types  # this response was text alone
        assert "paris" in done["response"]["output"][0]["content"][0]["text"].lower()
        # The session's own options are back for the next response: it is spoken.
        caller.type_message("And of Spain?")
        caller.send({"type": "response.create"})
        await caller.until(lambda e: e["type"] == "output_audio_buffer.started")
        await caller.until(lambda e: e["type"] == "response.done" and e is not done)
    await wait_for_sessions(server, 0)
