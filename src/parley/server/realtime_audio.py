"""Reply audio onto the realtime socket, and the estimate of how much of it was heard."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING

import soxr

from parley.events import AudioReady

if TYPE_CHECKING:
    from parley.server.realtime import RealtimeConnection


class WebSocketAudioSink:
    """Sends reply audio as ``response.output_audio.delta``; estimates what has been played."""

    def __init__(self, connection: RealtimeConnection) -> None:
        self.current_turn_id = 0
        self._connection = connection
        self._sent_samples: dict[int, int] = {}
        self._first_sent_ns: dict[int, int] = {}
        self._cleared: dict[int, int] = {}

    async def play(self, chunk: AudioReady) -> None:
        if chunk.turn_id != self.current_turn_id or chunk.turn_id in self._cleared:
            return
        rate_hz = self._connection.options.output_rate_hz
        samples = chunk.samples
        if rate_hz != chunk.sample_rate_hz:
            samples = soxr.resample(samples, chunk.sample_rate_hz, rate_hz, quality="HQ")
        response = self._connection.response_for_turn(chunk.turn_id)
        if response is None:
            return
        self._first_sent_ns.setdefault(chunk.turn_id, time.perf_counter_ns())
        # Counted at the pipeline's output rate, the unit of the heard-text ledger.
        self._sent_samples[chunk.turn_id] = (
            self._sent_samples.get(chunk.turn_id, 0) + chunk.samples.size
        )
        await self._connection.send_audio(
            chunk.turn_id,
            {
                "type": "response.output_audio.delta",
                "response_id": response.response_id,
                "item_id": response.item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii"),
            },
        )

    def clear(self) -> None:
        turn_id = self.current_turn_id
        self._cleared[turn_id] = self.played_samples(turn_id)

    def duck(self, is_ducked: bool) -> None:
        # Audio already sent plays on the client; a client stops it on speech_started.
        del is_ducked

    def played_samples(self, turn_id: int) -> int:
        """Without a truncate from the client, assume it plays what it got in real time."""
        if turn_id in self._cleared:
            return self._cleared[turn_id]
        first_ns = self._first_sent_ns.get(turn_id)
        if first_ns is None:
            return 0
        elapsed_samples = (
            (time.perf_counter_ns() - first_ns)
            * self._connection.output_sample_rate_hz
            // 1_000_000_000
        )
        return min(self._sent_samples.get(turn_id, 0), int(elapsed_samples))

    def sent_samples(self, turn_id: int) -> int:
        return self._sent_samples.get(turn_id, 0)

    def set_heard(self, turn_id: int, played_samples: int) -> None:
        """The client's own account of how much it played (conversation.item.truncate)."""
        self._cleared[turn_id] = played_samples

    def is_cleared(self, turn_id: int) -> bool:
        return turn_id in self._cleared
