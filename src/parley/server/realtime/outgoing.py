"""The one writer of a realtime session's socket or data channel: server events queued in
order, audio behind back-pressure, and a client that stops reading dropped rather than allowed
to hold its slot, its reply or a model."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable

from parley.audio.sink import PlaybackStopped
from parley.server.realtime.outbound import Event
from parley.server.realtime.pipe import EventPipe, PipeGone

log = logging.getLogger(__name__)

# Audio deltas queued for the socket beyond this wait for the client to read (back-pressure).
_MAX_QUEUED_AUDIO_MESSAGES = 50
# Any more events than this unread, and the client is dropped (a reply is a few hundred).
_MAX_QUEUED_EVENTS = 2_000
_AUDIO_DELTA = "response.output_audio.delta"


class Outgoing:
    def __init__(
        self,
        pipe: EventPipe,
        *,
        session_id: str,
        max_send_stall_s: float,
        is_cleared: Callable[[int], bool],
        on_drop: Callable[[], None],
    ) -> None:
        self._pipe = pipe
        self._session_id = session_id
        self._max_send_stall_s = max_send_stall_s
        self._is_cleared = is_cleared  # whether a turn's audio was cut (never sent after that)
        self._on_drop = on_drop
        self._event_ids = itertools.count(1)
        self._queue: asyncio.Queue[tuple[int | None, Event] | None] = asyncio.Queue()
        self._queued_audio = 0
        self._audio_drained = asyncio.Event()
        self.drop_reason: str | None = None  # set when a client that stopped reading is dropped

    def send(self, event: Event, *, turn_id: int | None = None) -> None:
        if self._queue.qsize() >= _MAX_QUEUED_EVENTS:
            self.drop(f"the client read none of its last {_MAX_QUEUED_EVENTS} events")
            return
        self._queue.put_nowait((turn_id, {"event_id": f"event_{next(self._event_ids)}", **event}))

    async def send_audio(self, turn_id: int, event: Event) -> None:
        """Queue one audio delta, waiting while the client has too many unread."""
        while self._queued_audio >= _MAX_QUEUED_AUDIO_MESSAGES:
            self._audio_drained.clear()
            try:
                await asyncio.wait_for(self._audio_drained.wait(), timeout=self._max_send_stall_s)
            except TimeoutError:
                # The reply waits on nobody: the turn is cancelled and the slot freed.
                reason = f"the client read no audio for {self._max_send_stall_s:g} s"
                self.drop(reason)
                raise PlaybackStopped(reason) from None
        self._queued_audio += 1
        self.send(event, turn_id=turn_id)

    def drop(self, reason: str) -> None:
        if self.drop_reason is not None:
            return
        self.drop_reason = f"{reason}; disconnected"
        log.warning("realtime session %s: %s", self._session_id, self.drop_reason)
        self._on_drop()

    async def write(self) -> None:
        """Until ``finish``: every queued event onto the socket, in order."""
        while (entry := await self._queue.get()) is not None:
            turn_id, event = entry
            if event["type"] == _AUDIO_DELTA:
                self._queued_audio -= 1
                self._audio_drained.set()
                if turn_id is not None and self._is_cleared(turn_id):
                    continue  # the user interrupted: never send audio they should not hear
            try:
                await self._pipe.send_text(json.dumps(event))
            except PipeGone:
                return

    def finish(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put_nowait(None)
