"""`parley bench --server URL --transport webrtc`: the prompts over a WebRTC call to a running
server (``POST /v1/realtime/calls``), with aiortc as the caller.

Voice to voice is timed at the caller, as over the socket: from the moment the last voiced sample
(the server's ``speech_stopped``) left the caller's microphone track, paced in real time, to the
first sound of the reply coming off its incoming track, after its jitter buffer: what a person
on the call would hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.audio.pcm import decode_file, resample
from parley.bench.client import judged_at_client
from parley.bench.prompts import Prompt
from parley.bench.run import JudgedTurn
from parley.errors import BackendError
from parley.pipeline.piece_joins import QUIET_LEVEL
from parley.server.realtime.rtc_media import (
    CALL_RATE_HZ,
    PacedTrack,
    mono_samples,
    shorten_jitter_buffer,
)


class CallerMicrophone(PacedTrack):
    """A caller's microphone: what it is given to ``say``, in real time, then silence."""

    def __init__(self) -> None:
        super().__init__(take=self._next)
        self._pending = np.zeros(0, np.int16)

    def say(self, samples: Int16Array) -> None:
        self._pending = np.concatenate([self._pending, samples.astype(np.int16)])

    def _next(self, count: int) -> Int16Array:
        frame = np.zeros(count, np.int16)
        taken = min(count, self._pending.size)
        frame[:taken] = self._pending[:taken]
        self._pending = self._pending[taken:]
        return frame


def post_offer(server_url: str, api_key: str, offer_sdp: str) -> tuple[str, str]:
    """The server's SDP answer and the call's address."""
    request = urllib.request.Request(
        server_url.rstrip("/") + "/v1/realtime/calls",
        data=offer_sdp.encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/sdp"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read().decode(), answer.headers["Location"]


class _CallerEar:
    """The caller's loudspeaker: when the reply's first sound came off the incoming track."""

    def __init__(self, peer: RTCPeerConnection) -> None:
        self._peer = peer
        self.first_sound_s: float | None = None
        self.sounded = asyncio.Event()
        self.listening: list[asyncio.Task[None]] = []

    def on_track(self, track: MediaStreamTrack) -> None:
        # A browser's jitter buffer adapts to the network, ~20-40 ms on a clean one; aiortc's
        # is a fixed 80 ms, which would be counted against Parley. Held to one frame, as the
        # server holds its own.
        for transceiver in self._peer.getTransceivers():
            if transceiver.receiver.track is track:
                shorten_jitter_buffer(transceiver.receiver, 1)
        self.listening.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if self.first_sound_s is not None:
                    continue  # the track is silent until the reply: its first sound is it
                if (
                    isinstance(frame, AudioFrame)
                    and np.abs(mono_samples(frame)).max() > QUIET_LEVEL
                ):
                    self.first_sound_s = time.perf_counter()
                    self.sounded.set()


@dataclass
class _CallEvents:
    """What the call's events said of one turn."""

    last_voiced_s: float | None = None
    transcript: str = ""
    reply: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


async def _read_turn(
    events: asyncio.Queue[dict[str, Any]], microphone: CallerMicrophone
) -> _CallEvents:
    """The call's events up to ``response.done``."""
    heard = _CallEvents()
    while True:
        event = await events.get()
        match event["type"]:
            case "input_audio_buffer.speech_stopped" if microphone.started_s is not None:
                end_s = (event["audio_end_ms"] + 20) / 1000
                heard.last_voiced_s = microphone.started_s + end_s
            case "conversation.item.input_audio_transcription.completed":
                heard.transcript = event["transcript"]
            case "response.output_audio_transcript.done":
                heard.reply = event["transcript"]
            case "response.done":
                heard.metadata = dict(event["response"].get("metadata") or {})
                return heard


async def rtc_server_turn(server_url: str, api_key: str, prompt: Prompt) -> JudgedTurn:
    peer = RTCPeerConnection()
    channel = peer.createDataChannel("oai-events")
    microphone = CallerMicrophone()
    peer.addTrack(microphone)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    opened = asyncio.Event()
    channel.on("open", opened.set)
    channel.on("message", lambda message: events.put_nowait(json.loads(message)))
    ear = _CallerEar(peer)
    peer.on("track", ear.on_track)
    await peer.setLocalDescription(await peer.createOffer())
    answer, _location = await asyncio.to_thread(
        post_offer, server_url, api_key, peer.localDescription.sdp
    )
    await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    try:
        async with asyncio.timeout(60):
            await opened.wait()
            microphone.say(resample(decode_file(prompt.path), INPUT_SAMPLE_RATE_HZ, CALL_RATE_HZ))
            heard = await _read_turn(events, microphone)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ear.sounded.wait(), timeout=5)
    except TimeoutError:
        raise BackendError(
            f"The call to {server_url} did not answer {prompt.path.name} within 60 s."
        ) from None
    finally:
        await peer.close()
        for task in ear.listening:
            task.cancel()
    return judged_at_client(
        prompt,
        heard.transcript,
        heard.reply,
        heard.metadata,
        heard.last_voiced_s,
        ear.first_sound_s,
    )
