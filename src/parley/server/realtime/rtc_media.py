"""A WebRTC call's audio: the caller's microphone track into the session's input, and the reply
onto a paced 20 ms track that plays silence when idle, is held silent while a barge-in is
judged, and is cleared at once.

The track, unlike a socket, knows exactly what has been played: every 20 ms frame it hands to
the call is counted, so the heard-text ledger reads what left the server, not an estimate.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import soxr
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from parley.audio.frames import AudioReady, Int16Array
from parley.audio.sink import PlaybackTracks
from parley.server.realtime.audio_in import InputAudio
from parley.server.realtime.protocol import ClientEventError

log = logging.getLogger(__name__)

CALL_RATE_HZ = 48_000  # Opus's clock, both ways
_FRAME_SAMPLES = CALL_RATE_HZ // 50  # 20 ms
_TIME_BASE = fractions.Fraction(1, CALL_RATE_HZ)
# Reply audio queued on the track beyond this waits (back-pressure on the reply): enough to
# ride over a slow piece of synthesis, little enough that a barge-in drops nothing heard.
_AHEAD_S = 0.5

PlaybackChange = Literal["started", "stopped", "cleared"]


class PacedTrack(MediaStreamTrack):
    """Audio at 48 kHz, 20 ms at a time, at the pace of a clock (aiortc sends each frame as
    soon as ``recv`` returns it): the samples ``take`` gives for each frame."""

    kind = "audio"

    def __init__(self, take: Callable[[int], Int16Array]) -> None:
        super().__init__()
        self._take = take
        self.started_s: float | None = None  # when its first frame went out (perf_counter)
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.started_s is None:
            self.started_s = time.perf_counter()
        else:
            self._pts += _FRAME_SAMPLES
            wait_s = self.started_s + self._pts / CALL_RATE_HZ - time.perf_counter()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
        samples = self._take(_FRAME_SAMPLES)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = CALL_RATE_HZ
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        return frame


class TrackAudioSink:
    """Reply audio onto a call's outgoing track (the pipeline's ``AudioSink``)."""

    def __init__(
        self,
        *,
        pipeline_rate_hz: int,
        on_change: Callable[[PlaybackChange, int], None],
    ) -> None:
        self.tracks = PlaybackTracks()
        # The server holds the track silent itself, so a reply that was only acknowledged
        # ("mm-hm") plays on from where it was.
        self.can_resume_held_playback = True
        self._pipeline_rate_hz = pipeline_rate_hz
        self._on_change = on_change
        self.track = PacedTrack(take=self.next_frame)
        self._queue: deque[tuple[int, Int16Array]] = deque()  # (turn id, samples at 48 kHz)
        self._queued_samples = 0
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._played_call_samples: dict[int, int] = {}
        self._finished: set[int] = set()  # turns whose audio is all queued
        self._sounding_turn: int | None = None
        self._is_ducked = False
        self._frame_taken = asyncio.Event()

    async def play(self, chunk: AudioReady) -> None:
        turn_id = chunk.turn_id
        if not self.tracks.admits(turn_id):
            return
        resampler = self._resamplers.get(turn_id)
        if resampler is None:
            resampler = soxr.ResampleStream(
                chunk.sample_rate_hz, CALL_RATE_HZ, 1, dtype="int16", quality="HQ"
            )
            self._resamplers[turn_id] = resampler
        self._enqueue(turn_id, resampler.resample_chunk(chunk.samples))
        while self._queued_samples > _AHEAD_S * CALL_RATE_HZ and self.tracks.admits(turn_id):
            self._frame_taken.clear()
            await self._frame_taken.wait()

    def end_of_audio(self, turn_id: int) -> None:
        """The turn's audio is all here: the resampler's tail is queued, and the track reports
        ``stopped`` once it has played it."""
        resampler = self._resamplers.pop(turn_id, None)
        if resampler is not None and not self.tracks.is_cleared(turn_id):
            self._enqueue(turn_id, resampler.resample_chunk(np.zeros(0, np.int16), last=True))
        self._finished.add(turn_id)
        if self._sounding_turn == turn_id:
            self._stop_if_played(turn_id)

    def clear(self, turn_id: int) -> None:
        if self.tracks.is_cleared(turn_id):
            return
        was_heard = self._sounding_turn == turn_id or self._has_audio_of(turn_id)
        self.tracks.clear(turn_id, played_samples=self.played_samples(turn_id))
        self._queue = deque(entry for entry in self._queue if entry[0] != turn_id)
        self._queued_samples = sum(samples.size for _turn, samples in self._queue)
        self._resamplers.pop(turn_id, None)
        if self.tracks.has_floor(turn_id):
            self._is_ducked = False
        self._frame_taken.set()  # a play() waiting for room returns
        if self._sounding_turn == turn_id:
            self._sounding_turn = None
        if was_heard:  # a reply discarded before it played was never in the buffer
            self._on_change("cleared", turn_id)

    def duck(self, is_ducked: bool) -> None:
        self._is_ducked = is_ducked

    def played_samples(self, turn_id: int) -> int:
        if (cleared_at := self.tracks.cleared_at(turn_id)) is not None:
            return cleared_at
        played = self._played_call_samples.get(turn_id, 0)
        return played * self._pipeline_rate_hz // CALL_RATE_HZ

    def set_heard(self, turn_id: int, played_samples: int) -> None:
        """The client's own account (conversation.item.truncate) wins over the track's."""
        self.tracks.hear(turn_id, min(played_samples, self.played_samples(turn_id)))

    def close(self) -> None:
        self.track.stop()
        self._frame_taken.set()

    # ---- the track's side ------------------------------------------------------------------

    def _enqueue(self, turn_id: int, samples: Int16Array) -> None:
        if samples.size:
            self._queue.append((turn_id, samples))
            self._queued_samples += samples.size

    def _has_audio_of(self, turn_id: int) -> bool:
        return any(entry[0] == turn_id for entry in self._queue)

    def _stop_if_played(self, turn_id: int) -> None:
        """``stopped``, once a turn whose audio is all here has played it all."""
        if turn_id in self._finished and not self._has_audio_of(turn_id):
            self._sounding_turn = None
            self._on_change("stopped", turn_id)

    def next_frame(self, count: int) -> Int16Array:
        """The next ``count`` samples the track sends: the reply's, or silence."""
        frame = np.zeros(count, np.int16)
        filled = 0
        while not self._is_ducked and filled < count and self._queue:
            turn_id, samples = self._queue[0]
            if self._sounding_turn != turn_id:
                self._sounding_turn = turn_id
                self._on_change("started", turn_id)
            taken = min(count - filled, samples.size)
            frame[filled : filled + taken] = samples[:taken]
            filled += taken
            self._queued_samples -= taken
            self._played_call_samples[turn_id] = self._played_call_samples.get(turn_id, 0) + taken
            if taken == samples.size:
                self._queue.popleft()
                self._stop_if_played(turn_id)
            else:
                self._queue[0] = (turn_id, samples[taken:])
        self._frame_taken.set()  # a play() waiting for room may go on
        return frame


class CallMedia:
    """A call's two audio tracks as its ``RealtimeConnection`` uses them."""

    def __init__(self, *, pipeline_rate_hz: int) -> None:
        self.sink = TrackAudioSink(pipeline_rate_hz=pipeline_rate_hz, on_change=self._changed)
        self.microphone: MediaStreamTrack | None = None  # the caller's, once negotiated
        self.on_playback: Callable[[PlaybackChange, int], None] = lambda _change, _turn: None

    def _changed(self, change: PlaybackChange, turn_id: int) -> None:
        self.on_playback(change, turn_id)

    async def feed(
        self,
        audio_in: InputAudio,
        *,
        is_held: Callable[[], bool],
        on_error: Callable[[ClientEventError], None],
    ) -> None:
        """The caller's audio into the session until the track ends. ``audio_in`` takes it at
        the call's 48 kHz and resamples it, once and statefully, to the pipeline's rate."""
        if self.microphone is None:
            return
        is_buffer_full = False
        while True:
            try:
                frame = await self.microphone.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            if frame.sample_rate != CALL_RATE_HZ:
                audio_in.set_client_rate(frame.sample_rate)
            try:
                await audio_in.append(mono_samples(frame), is_held=is_held())
                is_buffer_full = False
            except ClientEventError as error:
                if not is_buffer_full:  # said once, not every 20 ms
                    on_error(error)
                is_buffer_full = True


def shorten_jitter_buffer(receiver: Any, prefetch_frames: int) -> None:
    """Hold ``prefetch_frames`` of 20 ms before decoding a call's incoming audio, where aiortc
    holds 4 (80 ms, on every call, however clean the network). On loopback or a LAN the
    packets come in order; a lost one is concealed by Opus. aiortc has no setting for it, so
    its receiver's buffer is replaced (aiortc is pinned; the call tests cover it)."""
    from aiortc.jitterbuffer import JitterBuffer

    attribute = "_RTCRtpReceiver__jitter_buffer"
    if not hasattr(receiver, attribute):
        log.warning("aiortc's receiver has no jitter buffer where expected: left as it is")
        return
    setattr(receiver, attribute, JitterBuffer(capacity=16, prefetch=prefetch_frames))


def mono_samples(frame: AudioFrame) -> Int16Array:
    """One channel of int16 samples from a decoded frame (Opus decodes to interleaved stereo)."""
    samples = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        samples = samples[0]
    elif channels > 1:
        samples = samples.reshape(-1, channels).astype(np.int32).mean(axis=1)
    if frame.format.name.startswith("flt"):
        samples = np.clip(samples * 32768.0, -32768, 32767)
    return np.asarray(samples, dtype=np.int16).reshape(-1)
