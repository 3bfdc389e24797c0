"""Speculative replies: work begun on a pause that may be the end of the user's turn.

On a short pause the session transcribes and starts the reply at once, but holds it: its
events are buffered and its audio waits behind a gate. When the end of the turn is confirmed
the reply is released (events flushed in order, gate opened); if the user goes on, it is
discarded and leaves no trace. Cancellation does the discarding, as for any barge-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.backends import Transcript
from parley.turn import TurnScope

Observer = Callable[[Any], None]


class HeldReply:
    """A reply started on a likely end of turn: it is written and synthesised, but its events
    and audio wait for the end of the turn to be confirmed, and vanish if the user goes on."""

    def __init__(self, observer: Observer) -> None:
        self.gate = asyncio.Event()
        self.is_released = False
        self.is_discarded = False
        self.scope: TurnScope | None = None
        self._observer = observer
        self._buffered: list[Any] = []

    def observe(self, event: Any) -> None:
        if self.is_discarded:
            return
        if self.is_released:
            self._observer(event)
        else:
            self._buffered.append(event)

    def release(self) -> None:
        self.is_released = True
        for event in self._buffered:
            self._observer(event)
        self._buffered.clear()
        self.gate.set()

    def discard(self) -> None:
        self.is_discarded = True
        self._buffered.clear()
        if self.scope is not None:
            self.scope.cancel()
        self.gate.set()  # let the cancelled turn unwind


@dataclass
class Speculation:
    """Work begun on a pause that may be the end of the turn."""

    last_voiced_sample: int
    transcript: asyncio.Task[Transcript]
    held: HeldReply | None = None
