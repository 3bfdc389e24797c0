"""What every store engine promises, run against both: the SQLite file and a real PostgreSQL 16
with pgvector (pgserver's). Engine-only matters (SQLite's WAL and full disk) are in
tests/unit/test_store.py."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from parley.errors import StorageError
from parley.memory.archive import backup, backups_in
from parley.memory.database import SCHEMA_VERSION
from parley.memory.postgres_store import (
    POSTGRES_MIGRATIONS,
    POSTGRES_SCHEMA_VERSION,
    PostgresStore,
    redacted_url,
)
from parley.memory.sqlite_store import SqliteStore
from parley.memory.store import ConversationStore
from tests.conftest import PostgresForTests

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Opens handles on one fresh store of the engine: two handles are two workers."""
    if request.param == "sqlite":
        path = tmp_path / "p.sqlite3"
        yield lambda: SqliteStore(path)
    else:
        postgres: PostgresForTests = request.getfixturevalue("postgres")
        url = postgres.new_database_url()
        yield lambda: PostgresStore(url, pool_size=3)


@pytest.fixture
def store(opener) -> Iterator[ConversationStore]:  # type: ignore[no-untyped-def]
    opened = opener()
    yield opened
    opened.close()


def _unit(*values: float) -> bytes:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return (vector / np.linalg.norm(vector)).astype(np.float32).tobytes()


def test_messages_are_stored_in_order_and_history_is_the_latest_turns(
    store: ConversationStore,
) -> None:
    conversation = store.create_conversation()
    for number in range(4):
        store.add_message(conversation, "user", f"question {number}")
        store.add_message(
            conversation,
            "assistant",
            f"answer {number}",
            metrics={"voice_to_voice_ms": 512.5},
            tool_calls=[{"name": "get_time", "arguments": {}}] if number == 3 else None,
        )
    history = store.history(conversation, max_turns=2)
    assert [(m.role, m.content) for m in history] == [
        ("user", "question 2"),
        ("assistant", "answer 2"),
        ("user", "question 3"),
        ("assistant", "answer 3"),
    ]
    messages = store.messages(conversation)
    assert len(messages) == 8
    assert messages[1].metrics == {"voice_to_voice_ms": 512.5}
    assert messages[-1].tool_calls == [{"name": "get_time", "arguments": {}}]
    listed = store.conversations()
    assert [(c["id"], c["title"], c["message_count"]) for c in listed] == [
        (conversation, "question 0", 8)
    ]


def test_an_interrupted_reply_is_updated_to_what_was_heard(store: ConversationStore) -> None:
    conversation = store.create_conversation()
    message_id = store.add_message(conversation, "assistant", "Paris is the capital and")
    store.update_message(message_id, "Paris is", is_interrupted=True)
    [message] = store.messages(conversation)
    assert (message.content, message.is_interrupted) == ("Paris is", True)
    assert store.delete_message(message_id)
    assert not store.delete_message(message_id)
    assert store.messages(conversation) == []


def test_a_second_worker_sees_every_committed_turn_at_once(opener) -> None:  # type: ignore[no-untyped-def]
    first, second = opener(), opener()
    try:
        conversation = first.create_conversation("alice")
        first.add_message(conversation, "user", "My sister is called Ada.")
        assert second.has_conversation(conversation, user_id="alice")
        second.add_message(conversation, "assistant", "Nice to know.")
        assert [m.content for m in first.messages(conversation)] == [
            "My sister is called Ada.",
            "Nice to know.",
        ]
        first.add_memory("alice", "The user's sister is called Ada.", "explicit", _unit(1, 0))
        assert [m.text for m in second.memories("alice")] == ["The user's sister is called Ada."]
    finally:
        first.close()
        second.close()


def test_writers_on_many_threads_lose_no_message(opener) -> None:  # type: ignore[no-untyped-def]
    first, second = opener(), opener()
    conversation = first.create_conversation()

    def write(store: ConversationStore, name: str) -> None:
        for number in range(25):
            store.add_message(conversation, "user", f"{name} {number}")

    threads = [
        threading.Thread(target=write, args=(handle, f"{handle_name}-{thread}"))
        for handle, handle_name in ((first, "a"), (second, "b"))
        for thread in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = [m.content for m in first.messages(conversation)]
    first.close()
    second.close()
    assert len(contents) == 100 and len(set(contents)) == 100
    # Each writer's own messages keep their order.
    for writer in ("a-0", "a-1", "b-0", "b-1"):
        mine = [c for c in contents if c.startswith(writer + " ")]
        assert mine == [f"{writer} {n}" for n in range(25)]


def test_users_never_see_each_others_conversations_or_memories(store: ConversationStore) -> None:
    alice = store.create_conversation("alice")
    store.add_message(alice, "user", "secret")
    store.add_memory("alice", "The user's pin is 1234", "explicit", _unit(1, 0))
    assert store.conversations("bob") == []
    assert store.memories("bob") == []
    assert not store.has_conversation(alice, user_id="bob")
    assert store.keyword_memories("bob", ["pin"], limit=5) == []
    assert store.nearest_memories("bob", _unit(1, 0), limit=5) == []
    assert store.memories_by_id("bob", [m.id for m in store.memories("alice")]) == []
    assert store.keyword_memories("alice", ["pin"], limit=5) != []


def test_recall_searches_rank_the_nearest_vector_and_the_matching_words_first(
    store: ConversationStore,
) -> None:
    tea = store.add_memory(
        "local", "The user drinks green tea every morning", "explicit", _unit(1, 0)
    )
    dog = store.add_memory("local", "The user has a dog called Rex", "automatic", _unit(0, 1))
    bike = store.add_memory("local", "The user rides a bike to work", "manual", _unit(0.2, 1))
    store.add_memory("local", "A fact stored while the encoder was missing", "manual", None)

    nearest = store.nearest_memories("local", _unit(0.1, 1), limit=3)
    assert [item_id for item_id, _ in nearest] == [bike, dog, tea]
    distances = [distance for _, distance in nearest]
    assert distances == sorted(distances) and 0 <= distances[0] < 0.01
    assert {item_id for item_id, _ in store.memory_vectors("local")} == {tea, dog, bike}
    [(_, stored)] = [row for row in store.memory_vectors("local") if row[0] == tea]
    assert stored == _unit(1, 0)

    assert store.keyword_memories("local", ["dog"], limit=5) == [dog]
    assert set(store.keyword_memories("local", ["tea", "bike"], limit=5)) == {tea, bike}
    # Words never act as query syntax in either engine.
    assert store.keyword_memories("local", ['"tea" OR', "(bike"], limit=5) != []
    assert store.keyword_memories("local", ["violin"], limit=5) == []
    assert [m.text for m in store.memories_by_id("local", [dog])] == [
        "The user has a dog called Rex"
    ]
    assert store.delete_memory("local", dog)
    assert store.keyword_memories("local", ["dog"], limit=5) == []


def test_preferences_are_replaced_whole(store: ConversationStore) -> None:
    assert store.preferences("alice") == {}
    store.save_preferences("alice", {"voice": "flite-slt", "speed": 1.1})
    store.save_preferences("alice", {"voice": "joe"})
    assert store.preferences("alice") == {"voice": "joe"}
    assert store.preferences("bob") == {}


def test_deleting_a_conversation_deletes_its_messages(store: ConversationStore) -> None:
    kept = store.create_conversation()
    gone = store.create_conversation()
    store.add_message(kept, "user", "keep me")
    store.add_message(gone, "user", "forget me")
    assert store.delete_conversation(gone)
    assert not store.delete_conversation(gone)
    assert not store.has_conversation(gone)
    assert store.messages(gone) == []
    assert [m.content for m in store.messages(kept)] == ["keep me"]


def test_export_imports_into_the_other_engine_once(
    tmp_path: Path, postgres: PostgresForTests
) -> None:
    source = SqliteStore(tmp_path / "one-box.sqlite3")
    conversation = source.create_conversation("alice")
    source.add_message(conversation, "user", "What is the capital of France?")
    source.add_message(conversation, "assistant", "Paris.", metrics={"voice_to_voice_ms": 480.0})
    exported = source.export_conversations("alice")
    source.close()

    target = PostgresStore(postgres.new_database_url())
    try:
        assert target.import_conversations(exported, user_id="alice") == (1, 0)
        assert target.import_conversations(exported, user_id="alice") == (0, 1)
        assert target.export_conversations("alice") == exported
    finally:
        target.close()


def test_a_bad_import_imports_nothing(store: ConversationStore) -> None:
    good = {"id": "good-one", "messages": [{"role": "user", "content": "hi"}]}
    bad_id = {"id": "../../etc?x=1", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(StorageError, match="conversation id"):
        store.import_conversations([good, bad_id], user_id="local")
    bad_role = {"id": "bad-role", "messages": [{"role": "system", "content": "obey"}]}
    with pytest.raises(StorageError, match="valid role"):
        store.import_conversations([good, bad_role], user_id="local")
    assert store.conversations("local") == []
    assert not store.has_conversation("good-one")
    # The handle is still good for the next turn after the rolled-back transaction.
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "still here")
    assert [m.content for m in store.messages(conversation)] == ["still here"]


def test_a_backup_is_a_file_the_engine_can_restore(
    store: ConversationStore, tmp_path: Path, postgres: PostgresForTests
) -> None:
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "back me up")
    # pg_dump must be no older than the server: pgserver's own comes first on PATH.
    path = f"{postgres.bin_dir}{os.pathsep}{os.environ['PATH']}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", path)
        for _ in range(3):
            written = backup(store, tmp_path / "backups", keep=2)
    assert backups_in(tmp_path / "backups")[-1] == written  # the newest two are kept
    assert len(backups_in(tmp_path / "backups")) == 2
    assert written.suffix == store.backup_suffix
    if isinstance(store, SqliteStore):
        restored = SqliteStore(written)
    else:
        url = postgres.new_database_url()
        subprocess.run(
            [str(postgres.bin_dir / "pg_restore"), "--dbname", url, str(written)], check=True
        )
        restored = PostgresStore(url)
    try:
        assert [m.content for m in restored.messages(conversation)] == ["back me up"]
    finally:
        restored.close()


# ---- PostgreSQL's own migrations and errors ------------------------------------------------


def test_the_engines_schemas_keep_in_step() -> None:
    # Exports carry one schema version; both engines must mean the same by it.
    assert POSTGRES_SCHEMA_VERSION == SCHEMA_VERSION


def test_every_postgres_migration_upgrades_in_place_keeping_its_data(
    postgres: PostgresForTests,
) -> None:
    for start_version in range(1, POSTGRES_SCHEMA_VERSION):
        url = postgres.new_database_url()
        with psycopg.connect(url, autocommit=True) as connection:
            for migration in POSTGRES_MIGRATIONS[:start_version]:
                for statement in migration:
                    connection.execute(statement)
            connection.execute("CREATE TABLE parley_schema (version INTEGER NOT NULL)")
            connection.execute("INSERT INTO parley_schema VALUES (%s)", (start_version,))
            connection.execute("INSERT INTO conversations (id, created_at) VALUES ('c1', 1.0)")
            connection.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) "
                "VALUES ('c1', 'user', 'hello', 1.0)"
            )
        store = PostgresStore(url)
        try:
            assert [m.content for m in store.messages("c1")] == ["hello"]
            assert store.has_conversation("c1", user_id="local")
            store.add_memory("local", "The user likes tea", "manual", _unit(1))
            assert store.keyword_memories("local", ["tea"], limit=1) != []
        finally:
            store.close()
        with psycopg.connect(url) as connection:
            [(version,)] = connection.execute("SELECT version FROM parley_schema").fetchall()
        assert version == POSTGRES_SCHEMA_VERSION


def test_workers_starting_together_migrate_a_new_database_once(
    postgres: PostgresForTests,
) -> None:
    url = postgres.new_database_url()
    opened: list[ConversationStore] = []
    failures: list[BaseException] = []

    def start_worker() -> None:
        try:
            opened.append(PostgresStore(url, pool_size=1))
        except BaseException as error:  # reported below
            failures.append(error)

    workers = [threading.Thread(target=start_worker) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    conversation = opened[0].create_conversation()
    opened[3].add_message(conversation, "user", "hello")
    assert [m.content for m in opened[1].messages(conversation)] == ["hello"]
    for store in opened:
        store.close()


def test_a_database_from_a_newer_parley_is_refused(postgres: PostgresForTests) -> None:
    url = postgres.new_database_url()
    PostgresStore(url).close()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE parley_schema SET version = version + 1")
    with pytest.raises(StorageError, match="newer Parley"):
        PostgresStore(url)


def test_an_unreachable_server_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://parley:hunter2-secret@/parley?host={tmp_path}"
    with pytest.raises(StorageError, match="Cannot reach PostgreSQL") as raised:
        PostgresStore(url, connect_timeout_s=2)
    assert "hunter2" not in str(raised.value)
    assert redacted_url(url) == f"postgresql://parley:***@/parley?host={tmp_path}"


def test_timers_are_kept_until_told_and_found_by_a_second_handle(opener) -> None:  # type: ignore[no-untyped-def]
    first, second = opener(), opener()
    try:
        pasta = first.add_timer("local", "timer", "pasta", 2_000.0, 600.0)
        call = first.add_timer("local", "reminder", "to call your sister", 1_000.0, None)
        first.add_timer("someone-else", "timer", "", 500.0, 60.0)
        assert [t.label for t in second.running_timers("local")] == ["to call your sister", "pasta"]
        assert second.next_due_timer() is not None and second.next_due_timer().due_at == 500.0  # type: ignore[union-attr]
        second.mark_timer_fired(call.id, 1_000.5)
        assert [t.id for t in first.running_timers("local")] == [pasta.id]
        assert [t.id for t in first.untold_timers("local")] == [call.id]
        first.mark_timer_told(call.id, 1_001.0)
        assert first.untold_timers("local") == []
        assert first.delete_timer("local", pasta.id)
        assert not first.delete_timer("someone-else", pasta.id)
        assert second.running_timers("local") == []
    finally:
        first.close()
        second.close()
