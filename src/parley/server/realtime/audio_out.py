"""Reply audio onto the realtime socket, and the estimate of how much of it was heard."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import soxr

from parley.audio.frames import AudioReady, Int16Array
from parley.audio.sink import PlaybackTracks

# Sends one chunk of a turn's audio at the client's rate; False when the turn has no live
# response to carry it (it was cancelled or finished).
SendAudio = Callable[[int, Int16Array], Awaitable[bool]]


class WebSocketAudioSink:
    """Sends reply audio as ``response.output_audio.delta``; estimates what has been played."""

    def __init__(
        self, send: SendAudio, *, client_rate_hz: Callable[[], int], pipeline_rate_hz: int
    ) -> None:
        self.tracks = PlaybackTracks()
        self.can_resume_held_playback = False
        self._send = send
        self._client_rate_hz = client_rate_hz
        self._pipeline_rate_hz = pipeline_rate_hz
        self._sent_samples: dict[int, int] = {}
        self._first_sent_ns: dict[int, int] = {}

    async def play(self, chunk: AudioReady) -> None:
        if not self.tracks.admits(chunk.turn_id):
            return
        rate_hz = self._client_rate_hz()
        samples = chunk.samples
        if rate_hz != chunk.sample_rate_hz:
            samples = soxr.resample(samples, chunk.sample_rate_hz, rate_hz, quality="HQ")
        turn_id = chunk.turn_id
        first_ns = self._first_sent_ns.setdefault(turn_id, time.perf_counter_ns())
        # Counted at the pipeline's output rate, the unit of the heard-text ledger; counted
        # before the send, which may wait for a slow client, since the client has it then.
        self._sent_samples[turn_id] = self._sent_samples.get(turn_id, 0) + chunk.samples.size
        if not await self._send(turn_id, samples):
            self._sent_samples[turn_id] -= chunk.samples.size
            if self._sent_samples[turn_id] == 0 and self._first_sent_ns.get(turn_id) == first_ns:
                del self._first_sent_ns[turn_id]

    def clear(self, turn_id: int) -> None:
        self.tracks.clear(turn_id, played_samples=self.played_samples(turn_id))

    def duck(self, is_ducked: bool) -> None:
        # Audio already sent plays on the client; a client stops it on speech_started.
        del is_ducked

    def played_samples(self, turn_id: int) -> int:
        """Without a truncate from the client, assume it plays what it got in real time."""
        if (cleared_at := self.tracks.cleared_at(turn_id)) is not None:
            return cleared_at
        first_ns = self._first_sent_ns.get(turn_id)
        if first_ns is None:
            return 0
        elapsed_samples = (
            (time.perf_counter_ns() - first_ns) * self._pipeline_rate_hz // 1_000_000_000
        )
        return min(self._sent_samples.get(turn_id, 0), int(elapsed_samples))

    def set_heard(self, turn_id: int, played_samples: int) -> None:
        """The client's own account of how much it played (conversation.item.truncate)."""
        self.tracks.hear(turn_id, played_samples)
