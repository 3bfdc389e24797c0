"""One object per reply, from the moment it is begun until it is forgotten: its turn id, its
scope, the gate it may wait behind, how much of it was played, what was heard, its stored row,
and one status. Everything that asks "is this reply still going, and what did the user hear of
it?" asks its handle."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Coroutine, Generator
from typing import Any

from parley.audio.sink import AudioSink
from parley.pipeline.speculation import HeldReply
from parley.pipeline.turn import TurnResult, TurnScope


class ReplyStatus(enum.Enum):
    HELD = "held"  # begun on a pause: written and spoken ahead, its audio behind the gate
    LIVE = "live"  # being written and spoken
    PLAYING = "playing"  # written whole; its audio still sounding
    DONE = "done"  # played out, or a reply with nothing to play
    CUT = "cut"  # stopped while the user heard it; stored as far as heard
    DISCARDED = "discarded"  # a held reply the user went on past: it leaves no trace


class ReplyHandle:
    def __init__(self, turn_id: int, sink: AudioSink, *, held: HeldReply | None = None) -> None:
        self.turn_id = turn_id
        self.held = held
        self.scope: TurnScope | None = None
        self.message_id: int | None = None  # its stored row, once written
        self.stored = asyncio.Event()  # set once it is stored, or known to leave no row
        self._sink = sink
        self._is_cut = False
        self._task: asyncio.Task[TurnResult] | None = None

    def begin(self, work: Coroutine[Any, Any, TurnResult]) -> None:
        """Run the reply (``Replies`` does, once): awaiting the handle awaits it."""
        self._task = asyncio.create_task(work, name=f"reply-{self.turn_id}")

    @property
    def task(self) -> asyncio.Task[TurnResult]:
        """The reply running: cancelling it cancels the reply; its result is the reply's."""
        assert self._task is not None, "a handle is begun by Replies.respond"
        return self._task

    def __await__(self) -> Generator[Any, None, TurnResult]:
        return self.task.__await__()

    @property
    def status(self) -> ReplyStatus:
        held, scope = self.held, self.scope
        if held is not None and held.is_discarded:
            return ReplyStatus.DISCARDED
        if self._is_cut or (scope is not None and scope.is_cancelled):
            return ReplyStatus.CUT
        if held is not None and not held.is_released:
            return ReplyStatus.HELD
        if scope is None:
            # Being prepared, or a turn that only asked the client to run a function (no
            # scope, nothing to hear), which is done once its row is.
            return ReplyStatus.DONE if self.stored.is_set() else ReplyStatus.LIVE
        if not scope.is_finished:
            return ReplyStatus.LIVE
        if scope.ledger.total_samples > self.played_samples:
            return ReplyStatus.PLAYING
        return ReplyStatus.DONE

    @property
    def is_audible(self) -> bool:
        """Whether the user may be hearing it: being written, or written and still playing."""
        return self.status in (ReplyStatus.LIVE, ReplyStatus.PLAYING)

    @property
    def played_samples(self) -> int:
        return self._sink.played_samples(self.turn_id)

    def heard_text(self, played_samples: int | None = None) -> str:
        """The words the user heard: all of them unless it was cut (at ``played_samples``, or
        where the sink says it stopped)."""
        scope = self.scope
        if scope is None:
            return ""
        if played_samples is not None:
            return scope.ledger.heard_text(played_samples)
        if self._is_cut:
            return scope.ledger.heard_text(self.played_samples)
        return scope.heard_text()

    def played_text(self, *, ahead_samples: int) -> str:
        """The words played so far and those of the next ``ahead_samples``."""
        if self.scope is None:
            return ""
        return self.scope.ledger.heard_text(self.played_samples + ahead_samples)

    def cut(self) -> bool:
        """Stop it where the user is: cancel what is being written, or silence what plays.
        False when there was nothing to stop."""
        status = self.status
        if status is ReplyStatus.LIVE and self.scope is not None:
            self.scope.cancel()
            return True
        if status is ReplyStatus.PLAYING:
            self._is_cut = True
            self._sink.clear(self.turn_id)
            return True
        return False

    def mark_stored(self, message_id: int | None) -> None:
        """Its row is written (``message_id``), or it leaves none (None)."""
        self.message_id = message_id
        self.stored.set()
