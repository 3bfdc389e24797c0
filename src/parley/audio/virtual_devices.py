"""Audio sources and sinks: a file fed as a microphone would feed it, a WAV-collecting sink, and a
sink that plays at loudspeaker pace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, AudioReady, Int16Array
from parley.audio.sink import PlaybackTracks


async def frames_from_samples(
    samples: Int16Array,
    *,
    frame_ms: int,
    is_realtime: bool,
    trailing_silence_ms: int,
    keep_going: Callable[[], bool] = lambda: False,
    start_sample: int = 0,
    max_trailing_ms: int = 120_000,
) -> AsyncIterator[AudioFrame]:
    """Yield ``samples`` as microphone frames, then silence.

    Paced against an absolute schedule in real time (so the clock does not drift), or as fast as
    the consumer takes them. After the audio, at least ``trailing_silence_ms`` of silence follows,
    and more while ``keep_going()`` says the pipeline is still busy, as a live microphone would.
    """
    frame_samples = INPUT_SAMPLE_RATE_HZ * frame_ms // 1000
    silence = np.zeros(frame_samples, dtype=np.int16)
    schedule_start_ns = time.perf_counter_ns()
    frame_ns = frame_ms * 1_000_000
    sent = 0
    position = start_sample
    silence_after_ms = 0
    while True:
        offset = sent * frame_samples
        if offset < samples.size:
            frame = samples[offset : offset + frame_samples]
            if frame.size < frame_samples:
                frame = np.concatenate([frame, silence[: frame_samples - frame.size]])
        else:
            if silence_after_ms >= max_trailing_ms or (
                silence_after_ms >= trailing_silence_ms and not keep_going()
            ):
                return
            frame = silence
            silence_after_ms += frame_ms
        sent += 1
        if is_realtime:
            # A microphone delivers a frame once its last sample has been captured.
            due_ns = schedule_start_ns + sent * frame_ns
            delay_s = (due_ns - time.perf_counter_ns()) / 1e9
            if delay_s > 0:
                await asyncio.sleep(delay_s)
        else:
            await asyncio.sleep(0)
        yield AudioFrame(samples=frame, start_sample=position, t_ns=time.perf_counter_ns())
        position += frame_samples


async def frames_then_over_the_reply(
    first: Int16Array,
    over_reply: Int16Array,
    *,
    is_reply_heard: Callable[[], bool],
    keep_going: Callable[[], bool],
    max_wait_ms: int = 120_000,
) -> AsyncIterator[AudioFrame]:
    """A person speaking again once they hear the answer begin, in real time: ``first``, then
    the room's silence until ``is_reply_heard()`` (however long the machine takes to begin it,
    at most ``max_wait_ms``), then ``over_reply`` and silence while ``keep_going()``."""
    sent = 0
    async for frame in frames_from_samples(
        first,
        frame_ms=20,
        is_realtime=True,
        trailing_silence_ms=0,
        keep_going=lambda: not is_reply_heard(),
        max_trailing_ms=max_wait_ms,
    ):
        sent += frame.samples.size
        yield frame
    async for frame in frames_from_samples(
        over_reply,
        frame_ms=20,
        is_realtime=True,
        trailing_silence_ms=800,
        keep_going=keep_going,
        start_sample=sent,
    ):
        yield frame


class CollectingSink:
    """Collects reply audio (for a WAV file or an HTTP response); it 'plays' instantly."""

    def __init__(self) -> None:
        self.tracks = PlaybackTracks()
        self.can_resume_held_playback = False
        self._chunks: dict[int, list[Int16Array]] = {}
        self._played: dict[int, int] = {}

    async def play(self, chunk: AudioReady) -> None:
        if not self.tracks.admits(chunk.turn_id):
            return  # stale audio from a cancelled turn
        self._chunks.setdefault(chunk.turn_id, []).append(chunk.samples)
        self._played[chunk.turn_id] = self._played.get(chunk.turn_id, 0) + chunk.samples.size

    def clear(self, turn_id: int) -> None:
        # Nothing is queued (every chunk was 'played' as it arrived); later chunks are dropped.
        self.tracks.clear(turn_id, played_samples=self.played_samples(turn_id))

    def duck(self, is_ducked: bool) -> None:
        del is_ducked  # a file has no moment at which it is heard

    def played_samples(self, turn_id: int) -> int:
        return self._played.get(turn_id, 0)

    def audio(self, turn_id: int | None = None) -> Int16Array:
        if turn_id is None:
            parts = [c for turn in sorted(self._chunks) for c in self._chunks[turn]]
        else:
            parts = self._chunks.get(turn_id, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class RealtimePlaybackSink:
    """Plays at the pace of a loudspeaker: samples count as played as real time passes.

    Used where a person would hear the reply (and by tests that interrupt it): ``clear`` drops the
    unplayed rest at once, and the count of played samples is what the heard-text ledger uses.
    """

    def __init__(self, sample_rate_hz: int) -> None:
        self.tracks = PlaybackTracks()
        self.can_resume_held_playback = True
        self._sample_rate_hz = sample_rate_hz
        self._queued_samples = 0
        self._playing_turn_id = 0  # the reply sounding (or last to sound)
        self._clock_start_ns: int | None = None
        self._ducked_at_ns: int | None = None  # playback held silent since then
        self.last_silenced_t_ns: int | None = None  # when sound last stopped for a barge-in
        # When playback was last held for voice over it, sounding or not: a reply caught
        # between two pieces (the speaker ran dry) makes no sound from then on either.
        self.last_ducked_t_ns: int | None = None

    def _played_now(self) -> int:
        if self._clock_start_ns is None:
            return 0
        now_ns = self._ducked_at_ns if self._ducked_at_ns is not None else time.perf_counter_ns()
        elapsed_samples = (now_ns - self._clock_start_ns) * self._sample_rate_hz // 1_000_000_000
        return min(self._queued_samples, int(elapsed_samples))

    def duck(self, is_ducked: bool) -> None:
        now_ns = time.perf_counter_ns()
        if is_ducked and self._ducked_at_ns is None:
            if self._clock_start_ns is not None and self._played_now() < self._queued_samples:
                self.last_silenced_t_ns = now_ns  # something was sounding: it stops now
            self._ducked_at_ns = self.last_ducked_t_ns = now_ns
        elif not is_ducked and self._ducked_at_ns is not None:
            if self._clock_start_ns is not None:  # the paused time does not count as played
                self._clock_start_ns += now_ns - self._ducked_at_ns
            self._ducked_at_ns = None

    async def play(self, chunk: AudioReady) -> None:
        if not self.tracks.admits(chunk.turn_id):
            return
        if chunk.turn_id != self._playing_turn_id or self._clock_start_ns is None:
            self._playing_turn_id = chunk.turn_id
            self._queued_samples = 0
            self._clock_start_ns = time.perf_counter_ns()
            self._ducked_at_ns = None  # a new reply is not held by an earlier one's duck
        elif self._played_now() >= self._queued_samples:
            # The speaker ran dry (an underrun): playback resumes from now.
            self._clock_start_ns = (
                time.perf_counter_ns()
                - self._queued_samples * 1_000_000_000 // self._sample_rate_hz
            )
        self._queued_samples += chunk.samples.size
        # Keep at most half a second queued ahead of the speaker, like a device buffer.
        ahead_s = (self._queued_samples - self._played_now()) / self._sample_rate_hz - 0.5
        if ahead_s > 0:
            await asyncio.sleep(ahead_s)

    def clear(self, turn_id: int) -> None:
        if turn_id != self._playing_turn_id:
            self.tracks.clear(turn_id, played_samples=0)  # never played; the playing one plays on
            return
        played = self._played_now()
        if not self.tracks.clear(turn_id, played_samples=played):
            return
        if self._ducked_at_ns is None:
            self.last_silenced_t_ns = time.perf_counter_ns()
        self._queued_samples = played
        self.duck(False)

    def played_samples(self, turn_id: int) -> int:
        if (cleared_at := self.tracks.cleared_at(turn_id)) is not None:
            return cleared_at
        if turn_id == self._playing_turn_id:
            return self._played_now()
        return 0

    async def drain(self) -> None:
        remaining = self._queued_samples - self._played_now()
        if remaining > 0:
            await asyncio.sleep(remaining / self._sample_rate_hz)
