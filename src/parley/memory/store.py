"""Conversations, their messages and the user's remembered facts: what every store engine
holds and the SQL they share.

``ConversationStore`` is written once, in SQL both engines speak (``?`` placeholders, ``RETURNING``,
``ON CONFLICT``); an engine (memory/sqlite_store.py, memory/postgres_store.py) supplies the
connection, its migrations, its errors said plainly, and the two searches that differ: nearest
vectors and keywords. Each message is committed as its turn completes, so any worker sharing the
store sees it at once.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from parley.errors import StorageError
from parley.memory.timer_table import TimerTable
from parley.models.contracts import ChatMessage

__all__ = [
    "LOCAL_USER",
    "ConversationStore",
    "MemoryItem",
    "StoredMessage",
]

LOCAL_USER = "local"


@dataclass(frozen=True, slots=True)
class MemoryItem:
    id: int
    text: str
    source: str
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredMessage:
    role: str
    content: str
    is_interrupted: bool
    metrics: dict[str, Any] | None
    created_at: float
    tool_calls: list[dict[str, Any]] | None = None


# What an imported conversation id may be: ids end up in URLs and file names.
_CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Rows(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """What a multi-statement write runs its statements on."""

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> Rows: ...


class ConversationStore(TimerTable, abc.ABC):
    """A thread-safe handle on the store; async methods keep I/O off the event loop."""

    # Where the store is, for messages (a file, or a URL without its password).
    location: str
    # Whether nearest_memories ranks vectors in SQL (else recall ranks memory_vectors in numpy).
    has_vector_search: bool
    # What a backup file of this engine ends with (backup_to writes one).
    backup_suffix: str

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        """One multi-statement write: all of it is committed, or none of it."""

    @abc.abstractmethod
    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement in a transaction of its own; its rows (RETURNING's, for a write)."""

    @abc.abstractmethod
    def backup_to(self, target: Any) -> None:
        """A consistent copy while Parley runs."""

    @abc.abstractmethod
    def nearest_memories(
        self, user_id: str, query: bytes, *, limit: int
    ) -> list[tuple[int, float]]:
        """(id, cosine distance) of the user's items nearest a float32 vector, nearest first."""

    @abc.abstractmethod
    def keyword_memories(self, user_id: str, words: list[str], *, limit: int) -> list[int]:
        """Ids of the user's items matching any of the words, best match first."""

    def _embedding_parameter(self, embedding: bytes | None) -> Any:
        """A float32 vector as the engine stores it."""
        return embedding

    def _embedding_bytes(self, stored: Any) -> bytes:
        return bytes(stored)

    def create_conversation(self, user_id: str = LOCAL_USER) -> str:
        conversation_id = uuid.uuid4().hex
        self._execute(
            "INSERT INTO conversations (id, user_id, created_at) VALUES (?, ?, ?)",
            (conversation_id, user_id, time.time()),
        )
        return conversation_id

    def has_conversation(self, conversation_id: str, user_id: str | None = None) -> bool:
        if user_id is None:
            return bool(
                self._execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
            )
        return bool(
            self._execute(
                "SELECT 1 FROM conversations WHERE id = ? AND user_id = ?",
                (conversation_id, user_id),
            )
        )

    # ---- export, import, backup ---------------------------------------------------------

    def export_conversations(self, user_id: str) -> list[dict[str, Any]]:
        exported = []
        for conversation_id, created_at in self._execute(
            "SELECT id, created_at FROM conversations WHERE user_id = ? ORDER BY created_at",
            (user_id,),
        ):
            messages = [
                {
                    "role": m.role,
                    "content": m.content,
                    "is_interrupted": m.is_interrupted,
                    "metrics": m.metrics,
                    "created_at": m.created_at,
                }
                for m in self.messages(conversation_id)
            ]
            if messages:
                exported.append(
                    {"id": conversation_id, "created_at": created_at, "messages": messages}
                )
        return exported

    def import_conversations(
        self, conversations: list[dict[str, Any]], *, user_id: str
    ) -> tuple[int, int]:
        """Import a whole file in one transaction: a bad conversation imports nothing."""
        imported = skipped = 0
        with self._transaction() as connection:
            for conversation in conversations:
                conversation_id = conversation.get("id")
                if not isinstance(conversation_id, str) or not _CONVERSATION_ID.fullmatch(
                    conversation_id
                ):
                    raise StorageError(
                        f"A conversation id must be 1-64 letters, digits, '-' or '_'; "
                        f"got {str(conversation_id)[:80]!r}. Nothing was imported."
                    )
                exists = connection.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone()
                if exists:
                    skipped += 1
                    continue
                connection.execute(
                    "INSERT INTO conversations (id, user_id, created_at) VALUES (?, ?, ?)",
                    (conversation_id, user_id, float(conversation.get("created_at", time.time()))),
                )
                for message in conversation["messages"]:
                    if message.get("role") not in ("user", "assistant"):
                        raise StorageError(
                            f"Conversation {conversation_id} has a message with no valid role."
                        )
                    connection.execute(
                        "INSERT INTO messages (conversation_id, role, content, is_interrupted, "
                        "metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            conversation_id,
                            message["role"],
                            str(message.get("content", "")),
                            int(bool(message.get("is_interrupted"))),
                            json.dumps(message["metrics"]) if message.get("metrics") else None,
                            float(message.get("created_at", time.time())),
                        ),
                    )
                imported += 1
        return imported, skipped

    # ---- memory items ----------------------------------------------------------------------

    def add_memory(self, user_id: str, text: str, source: str, embedding: bytes | None) -> int:
        rows = self._execute(
            "INSERT INTO memory_items (user_id, text, source, embedding, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (user_id, text, source, self._embedding_parameter(embedding), time.time()),
        )
        return int(rows[0][0])

    def memories(self, user_id: str, *, limit: int = 1000) -> list[MemoryItem]:
        rows = self._execute(
            "SELECT id, text, source, created_at FROM memory_items WHERE user_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [MemoryItem(i, text, source, created) for i, text, source, created in rows]

    def delete_memory(self, user_id: str, memory_id: int) -> bool:
        return bool(
            self._execute(
                "DELETE FROM memory_items WHERE id = ? AND user_id = ? RETURNING id",
                (memory_id, user_id),
            )
        )

    def memory_vectors(self, user_id: str) -> list[tuple[int, bytes]]:
        rows = self._execute(
            "SELECT id, embedding FROM memory_items WHERE user_id = ? AND embedding IS NOT NULL",
            (user_id,),
        )
        return [(int(item_id), self._embedding_bytes(stored)) for item_id, stored in rows]

    def memories_by_id(self, user_id: str, ids: list[int]) -> list[MemoryItem]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._execute(
            f"SELECT id, text, source, created_at FROM memory_items WHERE user_id = ? AND id IN ({marks})",
            (user_id, *ids),
        )
        return [MemoryItem(i, text, source, created) for i, text, source, created in rows]

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        is_interrupted: bool = False,
        metrics: dict[str, Any] | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> int:
        rows = self._execute(
            "INSERT INTO messages (conversation_id, role, content, is_interrupted, metrics_json, "
            "tool_calls_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                conversation_id,
                role,
                content,
                int(is_interrupted),
                json.dumps(metrics) if metrics is not None else None,
                json.dumps(tool_calls) if tool_calls else None,
                time.time(),
            ),
        )
        return int(rows[0][0])

    async def add_message_async(
        self, conversation_id: str, role: str, content: str, **kwargs: Any
    ) -> int:
        return await asyncio.to_thread(self.add_message, conversation_id, role, content, **kwargs)

    def update_message(self, message_id: int, content: str, *, is_interrupted: bool) -> None:
        self._execute(
            "UPDATE messages SET content = ?, is_interrupted = ? WHERE id = ?",
            (content, int(is_interrupted), message_id),
        )

    def delete_message(self, message_id: int) -> bool:
        return bool(self._execute("DELETE FROM messages WHERE id = ? RETURNING id", (message_id,)))

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        rows = self._execute(
            "SELECT role, content, is_interrupted, metrics_json, created_at, tool_calls_json "
            "FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [
            StoredMessage(
                role,
                content,
                bool(flag),
                json.loads(metrics) if metrics else None,
                created,
                json.loads(calls) if calls else None,
            )
            for role, content, flag, metrics, created, calls in rows
        ]

    def conversations(self, user_id: str = LOCAL_USER, *, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent conversations that hold messages, with their first user words."""
        rows = self._execute(
            "SELECT c.id, c.created_at, "
            "(SELECT content FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user' "
            " ORDER BY m.id LIMIT 1), "
            "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) "
            "FROM conversations c WHERE c.user_id = ? "
            "AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) "
            "ORDER BY c.created_at DESC LIMIT ?",
            (user_id, limit),
        )
        return [
            {"id": cid, "created_at": created, "title": title or "", "message_count": count}
            for cid, created, title, count in rows
        ]

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._transaction() as connection:
            connection.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            deleted = connection.execute(
                "DELETE FROM conversations WHERE id = ? RETURNING id", (conversation_id,)
            ).fetchall()
        return bool(deleted)

    def preferences(self, user_id: str) -> dict[str, Any]:
        rows = self._execute(
            "SELECT preferences_json FROM preferences WHERE user_id = ?", (user_id,)
        )
        return json.loads(rows[0][0]) if rows else {}

    def save_preferences(self, user_id: str, preferences: dict[str, Any]) -> None:
        self._execute(
            "INSERT INTO preferences (user_id, preferences_json, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET preferences_json = excluded.preferences_json, "
            "updated_at = excluded.updated_at",
            (user_id, json.dumps(preferences), time.time()),
        )

    def history(self, conversation_id: str, *, max_turns: int) -> list[ChatMessage]:
        """The most recent exchanges, oldest first, as chat messages for the LLM prompt."""
        if max_turns == 0:
            return []
        rows = self._execute(
            "SELECT role, content FROM messages WHERE conversation_id = ? AND content != '' "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, max_turns * 2),
        )
        return [ChatMessage(role, content) for role, content in reversed(rows)]
