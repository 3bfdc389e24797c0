"""The SQLite file itself: the binding in use, the schema's migrations, the lock that says the
file is open, and storage errors said plainly."""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley.errors import StorageError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "hold_in_use",
    "load_sqlite_vec",
    "sqlite3",  # the SQLite binding in use; callers must share it (two in one process break locks)
    "storage_errors",
]

if TYPE_CHECKING:
    import sqlite3
else:
    try:  # pysqlite3 bundles a current SQLite that can load extensions (sqlite-vec)
        import pysqlite3.dbapi2 as sqlite3
    except ImportError:  # the standard library's build, which may not
        import sqlite3

# Each migration is a list of statements run in one transaction. Never edit a released one:
# add the next.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: conversations and messages
    (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            is_interrupted INTEGER NOT NULL DEFAULT 0,
            metrics_json TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
    ),
    # 2: preferences per user (voice, speed, turn detection, persona) as JSON
    (
        """CREATE TABLE preferences (
            user_id TEXT PRIMARY KEY,
            preferences_json TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ),
    # 3: users own conversations; memory items with embeddings and a keyword index
    (
        "ALTER TABLE conversations ADD COLUMN user_id TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX conversations_by_user ON conversations(user_id, created_at)",
        """CREATE TABLE memory_items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('explicit', 'automatic', 'manual')),
            embedding BLOB,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX memory_by_user ON memory_items(user_id, created_at)",
        "CREATE VIRTUAL TABLE memory_fts USING fts5(text, content='memory_items', content_rowid='id')",
        """CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_items BEGIN
            INSERT INTO memory_fts(rowid, text) VALUES (new.id, new.text);
        END""",
        """CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_items BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
    ),
    # 4: the tool calls made for a reply (name, arguments, result, duration)
    ("ALTER TABLE messages ADD COLUMN tool_calls_json TEXT",),
    # 5: timers, alarms and reminders (memory.timer_table)
    (
        """CREATE TABLE timers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('timer', 'reminder')),
            label TEXT NOT NULL,
            due_at REAL NOT NULL,
            duration_s REAL,
            created_at REAL NOT NULL,
            fired_at REAL,
            told_at REAL
        )""",
        "CREATE INDEX timers_due ON timers(fired_at, due_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@contextlib.contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as error:
        if "full" in str(error):
            raise StorageError(
                f"The conversation database {path} cannot grow: the disk (or its quota) is full. "
                "Nothing already stored is lost; free some space and Parley carries on."
            ) from None
        raise StorageError(
            f"Cannot use the conversation database {path}: {error}. Check free disk space and "
            "that no other program holds it locked."
        ) from None


def load_sqlite_vec(connection: Any) -> bool:
    """sqlite-vec gives cosine distance in SQL; without it recall ranks vectors in numpy."""
    try:
        import sqlite_vec

        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
        connection.enable_load_extension(False)
    except (ImportError, AttributeError, sqlite3.OperationalError):
        return False
    return True


def hold_in_use(database_path: Path, *, exclusive: bool) -> Callable[[], None]:
    """An advisory lock beside the database: shared by every open store, exclusive for a
    restore. Returns the call that lets go of it."""
    descriptor = os.open(
        database_path.with_name(database_path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600
    )
    try:
        fcntl.flock(descriptor, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
    except BlockingIOError:
        os.close(descriptor)
        raise StorageError(
            f"The database {database_path} is in use (a `parley serve` or another Parley "
            "command has it open). Stop it first, then run the command again."
        ) from None
    return _Release(descriptor)


class _Release:
    """Closes the lock's descriptor once, whether called or garbage-collected."""

    def __init__(self, descriptor: int) -> None:
        self._finalizer = weakref.finalize(self, os.close, descriptor)

    def __call__(self) -> None:
        self._finalizer()
