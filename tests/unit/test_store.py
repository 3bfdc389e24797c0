"""The SQLite engine's own matters: its file, WAL, migrations by user_version, a full disk.
What every engine promises is in tests/integration/test_store_contract.py."""

from pathlib import Path

import pytest

from parley.errors import StorageError
from parley.memory.database import MIGRATIONS, SCHEMA_VERSION, sqlite3
from parley.memory.sqlite_store import SqliteStore


def test_a_new_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    store.close()
    connection = sqlite3.connect(tmp_path / "p.sqlite3")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_parley_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StorageError, match="newer Parley"):
        SqliteStore(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="move it aside"):
        SqliteStore(path)


def test_every_migration_upgrades_a_database_in_place_keeping_its_data(tmp_path: Path) -> None:
    for start_version in range(1, SCHEMA_VERSION):
        path = tmp_path / f"from-v{start_version}.sqlite3"
        connection = sqlite3.connect(path)
        for migration in MIGRATIONS[:start_version]:
            for statement in migration:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {start_version}")
        connection.execute("INSERT INTO conversations (id, created_at) VALUES ('c1', 1.0)")
        connection.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES ('c1', 'user', 'hello', 1.0)"
        )
        connection.commit()
        connection.close()
        store = SqliteStore(path)
        assert [m.content for m in store.messages("c1")] == ["hello"]
        assert store.has_conversation("c1", user_id="local")
        store.add_memory("local", "The user likes tea", "manual", None)
        assert [m.text for m in store.memories("local")] == ["The user likes tea"]
        store.close()
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION


def test_a_full_disk_is_a_clear_error_loses_nothing_and_passes_when_space_returns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.sqlite3"
    store = SqliteStore(path)
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "what I said before the disk filled")
    # SQLite's own quota: the database may not grow past the pages it has now.
    pages = store._connection.execute("PRAGMA page_count").fetchone()[0]
    store._connection.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError, match="full"):
        for _ in range(50):
            store.add_message(conversation, "user", "x" * 20_000)
    assert not store._connection.in_transaction
    store._connection.execute("PRAGMA max_page_count = 1073741823")  # space is back
    store.add_message(conversation, "assistant", "after the disk was freed")
    store.close()
    reopened = SqliteStore(path)
    contents = [m.content for m in reopened.messages(conversation)]
    assert contents[0] == "what I said before the disk filled"
    assert contents[-1] == "after the disk was freed"


def test_a_failed_delete_rolls_back_and_later_turns_are_still_committed(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    store = SqliteStore(path)
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "keep me")
    # The second statement of the delete fails (as a full disk or an I/O error would).
    store._connection.execute(
        "CREATE TRIGGER refuse BEFORE DELETE ON conversations "
        "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
    )
    with pytest.raises(sqlite3.DatabaseError):
        store.delete_conversation(conversation)
    assert not store._connection.in_transaction
    store._connection.execute("DROP TRIGGER refuse")
    store.add_message(conversation, "assistant", "a later turn")
    # Another connection (another process) sees both: nothing is left uncommitted.
    other = sqlite3.connect(path)
    rows = other.execute(
        "SELECT content FROM messages WHERE conversation_id = ? ORDER BY id", (conversation,)
    ).fetchall()
    other.close()
    assert [r[0] for r in rows] == ["keep me", "a later turn"]
