"""The store in PostgreSQL, for many workers sharing one database (config: store.url).

Recall's vector half is pgvector's cosine distance, its keyword half PostgreSQL's full-text
search. Connections come from a pool (psycopg_pool), so the threads the workers' turns write
from never queue behind one another's round trips. The migrations mirror SQLite's step for step
and are recorded in ``parley_schema``; a transaction-scoped advisory lock lets workers that
start together migrate once, not race.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from parley.errors import StorageError
from parley.memory.store import ConversationStore, Rows, Transaction

__all__ = ["POSTGRES_MIGRATIONS", "POSTGRES_SCHEMA_VERSION", "PostgresStore", "redacted_url"]

# The MiniLM encoder's width; a vector of another width is refused by the column.
EMBEDDING_DIMENSIONS = 384
# Any constant: the key of the advisory lock migrations hold ("PARLEY" in ASCII).
_MIGRATION_LOCK = 0x5041524C4559

# Each migration runs in one transaction. Never edit a released one: add the next.
POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: conversations and messages
    (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE messages (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            is_interrupted INTEGER NOT NULL DEFAULT 0,
            metrics_json TEXT,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
    ),
    # 2: preferences per user as JSON
    (
        """CREATE TABLE preferences (
            user_id TEXT PRIMARY KEY,
            preferences_json TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
    ),
    # 3: users own conversations; memory items with embeddings and a keyword index. Recall
    # ranks one user's items exactly (no approximate index): a user's facts are hundreds, and
    # an approximate index filtered by user can miss the nearest.
    (
        "CREATE EXTENSION IF NOT EXISTS vector",
        "ALTER TABLE conversations ADD COLUMN user_id TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX conversations_by_user ON conversations(user_id, created_at)",
        f"""CREATE TABLE memory_items (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('explicit', 'automatic', 'manual')),
            embedding vector({EMBEDDING_DIMENSIONS}),
            text_search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX memory_by_user ON memory_items(user_id, created_at)",
        "CREATE INDEX memory_text_search ON memory_items USING GIN (text_search)",
    ),
    # 4: the tool calls made for a reply
    ("ALTER TABLE messages ADD COLUMN tool_calls_json TEXT",),
    # 5: timers, alarms and reminders
    (
        """CREATE TABLE timers (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('timer', 'reminder')),
            label TEXT NOT NULL,
            due_at DOUBLE PRECISION NOT NULL,
            duration_s DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            fired_at DOUBLE PRECISION,
            told_at DOUBLE PRECISION
        )""",
        "CREATE INDEX timers_due ON timers(fired_at, due_at)",
    ),
)
POSTGRES_SCHEMA_VERSION = len(POSTGRES_MIGRATIONS)

# What may stand in a keyword query: words, never tsquery operators.
_WORD = re.compile(r"[^\W_]+")


def redacted_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def _postgres_errors(location: str) -> Iterator[None]:
    try:
        yield
    except psycopg.errors.DiskFull:
        raise StorageError(
            f"PostgreSQL at {location} cannot grow: its disk is full. Nothing already stored "
            "is lost; free some space and Parley carries on."
        ) from None
    except (psycopg.OperationalError, psycopg.errors.ConnectionTimeout) as error:
        raise StorageError(
            f"Cannot reach PostgreSQL at {location} ({str(error).strip()}). Check that it is "
            "running and that store.url is right."
        ) from None
    except psycopg.Error as error:
        raise StorageError(f"PostgreSQL at {location} refused a statement: {error}") from None


class _Placeholders:
    """A connection that takes the shared SQL's ``?`` placeholders (psycopg's are ``%s``)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> Rows:
        return self._connection.execute(sql.replace("?", "%s"), parameters)


def _migrate(connection: psycopg.Connection[Any], location: str) -> None:
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS parley_schema (version INTEGER NOT NULL)")
        row = connection.execute("SELECT version FROM parley_schema").fetchone()
        if row is None:
            connection.execute("INSERT INTO parley_schema (version) VALUES (0)")
        version = int(row[0]) if row else 0
        if version > POSTGRES_SCHEMA_VERSION:
            raise StorageError(
                f"The database at {location} was written by a newer Parley (schema {version}, "
                f"this one knows {POSTGRES_SCHEMA_VERSION}). Upgrade Parley on every worker."
            )
        # All in the one transaction: a failed step leaves the schema as it was.
        for number in range(version, POSTGRES_SCHEMA_VERSION):
            for statement in POSTGRES_MIGRATIONS[number]:
                connection.execute(statement)
            connection.execute("UPDATE parley_schema SET version = %s", (number + 1,))


class PostgresStore(ConversationStore):
    has_vector_search = True
    backup_suffix = ".pgdump"

    def __init__(self, url: str, *, pool_size: int = 4, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self.location = redacted_url(url)
        with _postgres_errors(self.location):
            with psycopg.connect(url, connect_timeout=int(connect_timeout_s)) as connection:
                _migrate(connection, self.location)
            self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True},
                configure=register_vector,
                timeout=connect_timeout_s,
                open=False,
            )
            self._pool.open(wait=True, timeout=connect_timeout_s)

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with (
            _postgres_errors(self.location),
            self._pool.connection() as connection,
            connection.transaction(),
        ):
            yield _Placeholders(connection)

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with _postgres_errors(self.location), self._pool.connection() as connection:
            cursor = connection.execute(sql.replace("?", "%s"), parameters)
            return cursor.fetchall() if cursor.description is not None else []

    def _embedding_parameter(self, embedding: bytes | None) -> Any:
        return None if embedding is None else np.frombuffer(embedding, dtype=np.float32)

    def _embedding_bytes(self, stored: Any) -> bytes:
        # pgvector's adapter reads a column as its Vector type; to_numpy() is float32.
        vector = stored.to_numpy() if hasattr(stored, "to_numpy") else stored
        return np.asarray(vector, dtype=np.float32).tobytes()

    def backup_to(self, target: Path) -> None:
        """pg_dump's custom format (restore with pg_restore), by the first pg_dump on PATH,
        which must be no older than the server."""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise StorageError(
                "Backing up PostgreSQL needs pg_dump: install the PostgreSQL client "
                "(Debian: postgresql-client), or back up with your own pg_dump schedule."
            )
        finished = subprocess.run(
            [pg_dump, "--format=custom", f"--file={target}", self.url],
            capture_output=True,
            text=True,
            check=False,
        )
        if finished.returncode != 0:
            raise StorageError(
                f"pg_dump of {self.location} failed: {finished.stderr.strip()[-500:]}"
            )

    def nearest_memories(
        self, user_id: str, query: bytes, *, limit: int
    ) -> list[tuple[int, float]]:
        """pgvector's cosine distance (``<=>``)."""
        vector = np.frombuffer(query, dtype=np.float32)
        rows = self._execute(
            "SELECT id, embedding <=> ? AS distance FROM memory_items "
            "WHERE user_id = ? AND embedding IS NOT NULL ORDER BY distance LIMIT ?",
            (vector, user_id, limit),
        )
        return [(int(item_id), float(distance)) for item_id, distance in rows]

    def keyword_memories(self, user_id: str, words: list[str], *, limit: int) -> list[int]:
        """Full-text search with English stemming, ranked by ts_rank."""
        kept = [w for word in words for w in _WORD.findall(word)]
        if not kept:
            return []
        rows = self._execute(
            "SELECT id FROM memory_items, websearch_to_tsquery('english', ?) AS query "
            "WHERE user_id = ? AND text_search @@ query "
            "ORDER BY ts_rank(text_search, query) DESC, id DESC LIMIT ?",
            (" or ".join(kept), user_id, limit),
        )
        return [int(row[0]) for row in rows]
