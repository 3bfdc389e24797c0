"""Timers, alarms and reminders, kept in the store so they survive a restart: when each is due,
when it went off, and when the user was told (one that went off with nobody to hear it is told
at the next connection)."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Any, Literal

TimerKind = Literal["timer", "reminder"]


@dataclass(frozen=True, slots=True)
class StoredTimer:
    id: int
    user_id: str
    kind: TimerKind
    label: str  # a timer's name ("pasta"), a reminder's errand in the user's words; may be ""
    due_at: float  # Unix time
    duration_s: float | None  # a timer's length
    created_at: float
    fired_at: float | None
    told_at: float | None


_COLUMNS = "id, user_id, kind, label, due_at, duration_s, created_at, fired_at, told_at"


class TimerTable(abc.ABC):
    """The store's timer rows (a part of ``ConversationStore``)."""

    @abc.abstractmethod
    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    def add_timer(
        self, user_id: str, kind: TimerKind, label: str, due_at: float, duration_s: float | None
    ) -> StoredTimer:
        rows = self._execute(
            "INSERT INTO timers (user_id, kind, label, due_at, duration_s, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (user_id, kind, label, due_at, duration_s, time.time()),
        )
        return StoredTimer(*rows[0])

    def running_timers(self, user_id: str) -> list[StoredTimer]:
        """The user's timers and reminders not yet gone off, soonest first."""
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM timers WHERE user_id = ? AND fired_at IS NULL "
            "ORDER BY due_at, id",
            (user_id,),
        )
        return [StoredTimer(*row) for row in rows]

    def next_due_timer(self) -> StoredTimer | None:
        """Of every user's, the one to go off next."""
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM timers WHERE fired_at IS NULL ORDER BY due_at, id LIMIT 1"
        )
        return StoredTimer(*rows[0]) if rows else None

    def mark_timer_fired(self, timer_id: int, at: float) -> None:
        self._execute("UPDATE timers SET fired_at = ? WHERE id = ?", (at, timer_id))

    def mark_timer_told(self, timer_id: int, at: float) -> None:
        self._execute("UPDATE timers SET told_at = ? WHERE id = ?", (at, timer_id))

    def untold_timers(self, user_id: str) -> list[StoredTimer]:
        """The user's timers that went off with nobody told, oldest first."""
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM timers WHERE user_id = ? AND fired_at IS NOT NULL "
            "AND told_at IS NULL ORDER BY due_at, id",
            (user_id,),
        )
        return [StoredTimer(*row) for row in rows]

    def delete_timer(self, user_id: str, timer_id: int) -> bool:
        return bool(
            self._execute(
                "DELETE FROM timers WHERE id = ? AND user_id = ? RETURNING id", (timer_id, user_id)
            )
        )
