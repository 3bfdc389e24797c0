"""The store in one SQLite file: the single-box default.

The schema's migrations (memory/database.py) run once each, in order, inside a transaction; a
database written by a newer Parley is refused rather than damaged. WAL mode lets readers work
while a turn is written. One connection is shared behind a lock: SQLite writes one at a time
anyway, and a turn's statements are small.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parley.errors import StorageError
from parley.memory.database import (
    MIGRATIONS,
    SCHEMA_VERSION,
    hold_in_use,
    load_sqlite_vec,
    sqlite3,
    storage_errors,
)
from parley.memory.store import ConversationStore, Transaction

__all__ = ["SqliteStore"]


class SqliteStore(ConversationStore):
    backup_suffix = ".sqlite3"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Held (shared) while this handle is open, so `parley restore` can tell that a
            # server or another command is using the database and refuse.
            self._in_use = hold_in_use(path, exclusive=False)
            self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self.has_vector_search = load_sqlite_vec(self._connection)
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StorageError(
                f"The conversation database {path} cannot be opened ({error}). If it is damaged, "
                "move it aside and Parley will start a new one."
            ) from None
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        version = int(self._connection.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"The database {self.path} was written by a newer Parley (schema {version}, this "
                f"one knows {SCHEMA_VERSION}). Upgrade Parley, or point it at another data directory."
            )
        for number in range(version, SCHEMA_VERSION):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number]:
                    self._connection.execute(statement)
                self._connection.execute(f"PRAGMA user_version = {number + 1}")
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._connection.close()
        self._in_use()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        # Rolled back on any error, so the shared connection never stays inside a failed
        # transaction.
        with self._lock, storage_errors(self.path):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
                self._connection.execute("COMMIT")
            except BaseException:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, storage_errors(self.path):
            return self._connection.execute(sql, parameters).fetchall()

    def backup_to(self, target: Path) -> None:
        """SQLite's online backup API: consistent, and readers and writers carry on."""
        destination = sqlite3.connect(target)
        try:
            with self._lock, storage_errors(self.path):
                self._connection.backup(destination)
        finally:
            destination.close()

    def nearest_memories(
        self, user_id: str, query: bytes, *, limit: int
    ) -> list[tuple[int, float]]:
        """By sqlite-vec (only called where it loaded: has_vector_search)."""
        return self._execute(
            "SELECT id, vec_distance_cosine(embedding, ?) AS distance FROM memory_items "
            "WHERE user_id = ? AND embedding IS NOT NULL ORDER BY distance LIMIT ?",
            (query, user_id, limit),
        )

    def keyword_memories(self, user_id: str, words: list[str], *, limit: int) -> list[int]:
        """FTS5, ranked by bm25."""
        if not words:
            return []
        match = " OR ".join('"' + word.replace('"', "") + '"' for word in words)
        rows = self._execute(
            "SELECT m.id FROM memory_fts JOIN memory_items m ON m.id = memory_fts.rowid "
            "WHERE memory_fts MATCH ? AND m.user_id = ? ORDER BY bm25(memory_fts) LIMIT ?",
            (match, user_id, limit),
        )
        return [row[0] for row in rows]
