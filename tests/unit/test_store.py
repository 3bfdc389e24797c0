from pathlib import Path

import pytest

from parley.errors import StorageError
from parley.memory.store import (
    SCHEMA_VERSION,
    ConversationStore,
    sqlite3,  # the same SQLite library as Parley: two in one process corrupt locks
)


def test_a_new_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "p.sqlite3")
    store.close()
    connection = sqlite3.connect(tmp_path / "p.sqlite3")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_messages_are_stored_and_history_is_the_latest_turns_in_order(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "p.sqlite3")
    conversation = store.create_conversation()
    for number in range(5):
        store.add_message(conversation, "user", f"question {number}")
        store.add_message(
            conversation, "assistant", f"answer {number}", metrics={"voice_to_voice_ms": 1.5}
        )
    history = store.history(conversation, max_turns=2)
    assert [(m.role, m.content) for m in history] == [
        ("user", "question 3"),
        ("assistant", "answer 3"),
        ("user", "question 4"),
        ("assistant", "answer 4"),
    ]
    stored = store.messages(conversation)
    assert len(stored) == 10 and stored[1].metrics == {"voice_to_voice_ms": 1.5}
    store.close()
    reopened = ConversationStore(tmp_path / "p.sqlite3")
    assert reopened.has_conversation(conversation)
    assert len(reopened.messages(conversation)) == 10


def test_a_database_from_a_newer_parley_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StorageError, match="newer Parley"):
        ConversationStore(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="move it aside"):
        ConversationStore(path)
