"""Conversations out and in (JSONL with a schema version, or Markdown to read), and backups:
SQLite's online backup API for the file store, pg_dump for PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from parley.errors import StorageError
from parley.memory.database import SCHEMA_VERSION, hold_in_use, sqlite3
from parley.memory.store import ConversationStore

EXPORT_FORMAT = "parley-conversations"
_BACKUP_SUFFIXES = (".sqlite3", ".pgdump")


def export_jsonl(store: ConversationStore, path: Path, *, user_id: str) -> int:
    conversations = store.export_conversations(user_id)
    with path.open("w", encoding="utf-8") as out:
        header = {
            "format": EXPORT_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "exported_at": time.time(),
        }
        out.write(json.dumps(header) + "\n")
        for conversation in conversations:
            out.write(json.dumps(conversation) + "\n")
    return len(conversations)


def export_markdown(store: ConversationStore, path: Path, *, user_id: str) -> int:
    conversations = store.export_conversations(user_id)
    lines = ["# Parley conversations", ""]
    for conversation in conversations:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation["created_at"]))
        lines += [f"## {when} · {conversation['id']}", ""]
        for message in conversation["messages"]:
            speaker = "You" if message["role"] == "user" else "Parley"
            cut = " *(interrupted)*" if message["is_interrupted"] else ""
            lines += [f"**{speaker}:** {message['content']}{cut}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(conversations)


def read_export(path: Path) -> list[dict[str, Any]]:
    """Every conversation in an export, or a StorageError that says what is wrong with it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise StorageError(f"Cannot read {path}: {error}.") from None
    if not lines:
        raise StorageError(f"{path} is empty: it is not a Parley export.")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise StorageError(
            f"{path} is not a Parley export (its first line is not an export header)."
        )
    if int(header.get("schema_version", 0)) > SCHEMA_VERSION:
        raise StorageError(
            f"{path} comes from a newer Parley (schema {header['schema_version']}); upgrade first."
        )
    conversations = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            conversation = json.loads(line)
            if not isinstance(conversation.get("id"), str) or not isinstance(
                conversation.get("messages"), list
            ):
                raise ValueError("missing id or messages")
        except (json.JSONDecodeError, ValueError, AttributeError) as error:
            raise StorageError(
                f"{path} is damaged or cut short at line {number} ({error}); nothing was imported."
            ) from None
        conversations.append(conversation)
    return conversations


def import_jsonl(store: ConversationStore, path: Path, *, user_id: str) -> tuple[int, int]:
    """(imported, skipped as already present): importing twice never duplicates."""
    return store.import_conversations(read_export(path), user_id=user_id)


def backups_in(backups_dir: Path) -> list[Path]:
    """The backups in ``backups_dir``, oldest first (their names sort by time)."""
    return sorted(
        path for suffix in _BACKUP_SUFFIXES for path in backups_dir.glob(f"parley-*{suffix}")
    )


def _stamp(millis: int) -> str:
    seconds = time.localtime(millis // 1000)
    return time.strftime("%Y%m%d-%H%M%S", seconds) + f"-{millis % 1000:03d}"


def backup(store: ConversationStore, backups_dir: Path, *, keep: int) -> Path:
    backups_dir.mkdir(parents=True, exist_ok=True)
    # Milliseconds in the name keep their order chronological; two backups in one millisecond
    # (a fast machine) take the next free one, so neither overwrites the other.
    millis = int(time.time() * 1000)
    while (target := backups_dir / f"parley-{_stamp(millis)}{store.backup_suffix}").exists():
        millis += 1
    store.backup_to(target)
    backups = backups_in(backups_dir)
    for old in backups[: max(0, len(backups) - keep)]:
        old.unlink()
    return target


def _copy_database(source: Path, target: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reader,
        contextlib.closing(sqlite3.connect(target)) as writer,
    ):
        reader.backup(writer)


def restore(backup_file: Path, database_path: Path) -> Path | None:
    """Replace the database with a checked backup; the current one is kept beside it."""
    try:
        connection = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        has_table = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'conversations'"
        ).fetchone()
        connection.close()
    except sqlite3.DatabaseError as error:
        raise StorageError(f"{backup_file} is not a usable SQLite database ({error}).") from None
    if check != "ok" or not has_table:
        raise StorageError(f"{backup_file} is not a healthy Parley database ({check}).")
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{backup_file} comes from a newer Parley (schema {version}); upgrade first."
        )
    in_use = hold_in_use(database_path, exclusive=True)  # refuses while anything has it open
    try:
        kept: Path | None = None
        if database_path.exists():
            kept = database_path.with_name(
                database_path.name + time.strftime(".before-restore-%Y%m%d-%H%M%S")
            )
            # Through SQLite's backup API, so the copy holds what is still only in the WAL.
            _copy_database(database_path, kept)
        # Written into the database by SQLite itself: its WAL and shared memory stay coherent.
        _copy_database(backup_file, database_path)
    finally:
        in_use()
    return kept
