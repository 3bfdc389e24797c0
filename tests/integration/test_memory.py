"""Memory with the real embedding model and a real SQLite file."""

import json
from pathlib import Path

import numpy as np
import pytest

from parley.errors import StorageError
from parley.memory.archive import backup, export_jsonl, import_jsonl, restore
from parley.memory.recall import MemoryRecall
from parley.memory.sqlite_store import SqliteStore
from parley.models.embedding import MiniLmEmbedder

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder()


def test_the_numpy_encoder_matches_sentence_transformers(embedder: MiniLmEmbedder) -> None:
    reference = json.loads(REFERENCE.read_text())
    vectors = [embedder.embed(sentence) for sentence in reference["sentences"]]
    for i, j, cosine in reference["cosines"]:
        assert float(vectors[i] @ vectors[j]) == pytest.approx(cosine, abs=1e-4)
    assert np.allclose(vectors[0][:8], reference["first_vector_head"], atol=1e-4)
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-5 for v in vectors)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: MiniLmEmbedder) -> None:
    colour, question, market = (
        embedder.embed(t)
        for t in (
            "My favourite colour is teal.",
            "Which colour do I like best?",
            "Shares fell on the stock market.",
        )
    )
    assert float(colour @ question) > float(colour @ market) + 0.3


def test_recall_by_meaning_by_keyword_and_without_the_embedder(
    tmp_path: Path, embedder: MiniLmEmbedder
) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    recall = MemoryRecall(store, embedder)
    for fact in (
        "The user's favourite colour is teal",
        "The user is vegetarian",
        "The user's name is Alice",
    ):
        recall.remember("local", fact)
    assert recall.remember("local", "The user's favourite colour is teal") is None, "no duplicates"
    assert (
        recall.search("local", "What colour do I like?")[0].item.text
        == "The user's favourite colour is teal"
    )
    assert recall.search("local", "teal")[0].item.text == "The user's favourite colour is teal"
    assert "The user is vegetarian" in recall.recall_for_prompt(
        "local", "Any ideas for dinner?", budget_chars=600
    )
    # If the embedding model cannot load, memory keeps working by keyword.
    keyword_only = MemoryRecall(store, None)
    assert keyword_only.search("local", "vegetarian")[0].item.text == "The user is vegetarian"
    assert recall.forget("local", "my favourite colour") is not None
    assert [m.text for m in store.memories("local")] == [
        "The user's name is Alice",
        "The user is vegetarian",
    ]


def test_export_then_import_elsewhere_and_again_never_duplicates(tmp_path: Path) -> None:
    source = SqliteStore(tmp_path / "a.sqlite3")
    conversation = source.create_conversation()
    source.add_message(conversation, "user", "What is the capital of France?")
    source.add_message(conversation, "assistant", "Paris.", metrics={"voice_to_voice_ms": 800.0})
    export = tmp_path / "export.jsonl"
    assert export_jsonl(source, export, user_id="local") == 1
    target = SqliteStore(tmp_path / "b.sqlite3")
    assert import_jsonl(target, export, user_id="local") == (1, 0)
    assert import_jsonl(target, export, user_id="local") == (0, 1)
    assert [m.content for m in target.messages(conversation)] == [
        "What is the capital of France?",
        "Paris.",
    ]
    assert target.messages(conversation)[1].metrics == {"voice_to_voice_ms": 800.0}


def test_a_foreign_or_truncated_import_is_refused_and_imports_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"hello": "world"}\n')
    with pytest.raises(StorageError, match="not a Parley export"):
        import_jsonl(store, foreign, user_id="local")
    source = SqliteStore(tmp_path / "s.sqlite3")
    for _ in range(3):
        conversation = source.create_conversation()
        source.add_message(conversation, "user", "hello there")
    export = tmp_path / "export.jsonl"
    export_jsonl(source, export, user_id="local")
    text = export.read_text()
    (tmp_path / "cut.jsonl").write_text(text[: len(text) - 25])
    with pytest.raises(StorageError, match="cut short at line 4"):
        import_jsonl(store, tmp_path / "cut.jsonl", user_id="local")
    assert store.conversations("local") == []


def test_backup_keeps_the_newest_and_restore_brings_a_database_back(tmp_path: Path) -> None:
    database = tmp_path / "parley.sqlite3"
    store = SqliteStore(database)
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "keep me")
    made = [backup(store, tmp_path / "backups", keep=2) for _ in range(3)]
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == sorted(
        p.name for p in made[-2:]
    )
    store.add_message(conversation, "user", "added after the backup")
    store.close()
    kept = restore(made[-1], database)
    assert kept is not None and kept.exists()
    assert [m.content for m in SqliteStore(database).messages(conversation)] == ["keep me"]
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database|not a healthy"):
        restore(junk, database)


def test_restore_refuses_while_the_database_is_open_and_keeps_what_only_the_wal_holds(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    database = tmp_path / "parley.sqlite3"
    store = SqliteStore(database)
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "in the backup")
    made = backup(store, tmp_path / "backups", keep=1)
    with pytest.raises(StorageError, match="in use"):
        restore(made, database)  # a server (this open store) still has it
    store.close()
    # A process that dies without closing leaves its last turn in the WAL only.
    script = (
        "import os, sys; from pathlib import Path; from parley.memory.sqlite_store import SqliteStore; "
        "s = SqliteStore(Path(sys.argv[1])); "
        "s.add_message(sys.argv[2], 'user', 'only in the wal'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(database), conversation], check=True)
    assert (tmp_path / "parley.sqlite3-wal").stat().st_size > 0
    kept = restore(made, database)
    assert kept is not None
    contents = [m.content for m in SqliteStore(kept).messages(conversation)]
    assert contents == ["in the backup", "only in the wal"]
    restored = SqliteStore(database)
    assert [m.content for m in restored.messages(conversation)] == ["in the backup"]
    assert restored._connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_one_fact_longer_than_the_budget_does_not_hide_the_others(
    tmp_path: Path, embedder: MiniLmEmbedder
) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    recall = MemoryRecall(store, embedder)
    recall.remember("local", "The user's favourite colour is teal")
    recall.remember("local", "The user's favourite colours are " + "teal and green, " * 60)
    facts = recall.recall_for_prompt("local", "What is my favourite colour?", budget_chars=600)
    assert facts == ["The user's favourite colour is teal"]
    store.close()


def test_facts_enter_the_prompt_only_for_turns_they_bear_on(
    tmp_path: Path, embedder: MiniLmEmbedder
) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    recall = MemoryRecall(store, embedder)
    recall.remember("local", "The user's name is Alice and the user's favourite colour is teal")
    recall.remember("local", "The user is vegetarian")
    recall.remember("local", "The user lives in Lyon")
    assert recall.recall_for_prompt("local", "What time is it right now?", budget_chars=600) == []
    assert (
        recall.recall_for_prompt("local", "What is the capital of France?", budget_chars=600) == []
    )
    assert recall.recall_for_prompt("local", "What is my favorite color?", budget_chars=600) == [
        "The user's name is Alice and the user's favourite colour is teal"
    ]
    assert "The user is vegetarian" in recall.recall_for_prompt(
        "local", "What should I cook tonight?", budget_chars=600
    )
    # A fact stored without a vector (the embedder was missing then) is found by its words.
    store.add_memory("local", "The user's dog is called Rex", "manual", None)
    assert "The user's dog is called Rex" in recall.recall_for_prompt(
        "local", "What is my dog called?", budget_chars=600
    )
    store.close()


def test_a_question_put_to_memory_gets_only_the_facts_that_answer_it(
    tmp_path: Path, embedder: MiniLmEmbedder
) -> None:
    store = SqliteStore(tmp_path / "p.sqlite3")
    recall = MemoryRecall(store, embedder)
    for fact in (
        "The user's dog is called Rex",
        "The user's sister is called Ana",
        "The user is allergic to peanuts",
        "The user's favourite colour is green",
    ):
        recall.remember("local", fact)
    assert recall.answering("local", "what is my dog's name") == ["The user's dog is called Rex"]
    assert recall.answering("local", "what am I allergic to") == ["The user is allergic to peanuts"]
    # A misheard sum given to memory finds nothing: no fact is read out in its place.
    assert recall.answering("local", "What is 5 times I?") == []
    assert len(recall.answering("local", "what do you remember about me")) == 4
    assert len(recall.answering("local", "What have I told you about myself?")) == 4
    # Asked in words of remembering, for one thing: that thing, not all four.
    assert recall.answering("local", "Do you remember my sister's name?") == [
        "The user's sister is called Ana"
    ]
    assert recall.answering("local", "Do you know what I'm allergic to?") == [
        "The user is allergic to peanuts"
    ]
    # Asked in the first person, of facts kept about "the user".
    recall.remember("local", "The user lives in Lisbon")
    assert recall.answering("local", "Where do I live?") == ["The user lives in Lisbon"]
    assert recall.answering("local", "Do you remember where I live?") == [
        "The user lives in Lisbon"
    ]
    store.close()
