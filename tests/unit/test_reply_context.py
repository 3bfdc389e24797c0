"""What a reply reads (pipeline/reply_context.py), on a real SQLite file with fakes of the model
Protocols and no embedder (recall by keyword): the stored history, the session's instructions,
the facts recalled beside the user's words, and memory changed only as the user asks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from parley.config.settings import load_settings
from parley.errors import BackendError
from parley.memory.sqlite_store import SqliteStore
from parley.models.contracts import ChatMessage
from parley.models.loaded import Backends
from parley.pipeline.reply_context import ReplyContext
from parley.pipeline.session_options import SessionOptions
from tests.unit.fakes import FakeDeafStt, FakeToneVoice


class FakeSilentLlm:
    """Never asked here: the context is built, not replied to."""

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        raise AssertionError("no reply is written in these tests")
        yield ""  # pragma: no cover


def context_over(
    store: SqliteStore,
    tmp_path: Path,
    options: SessionOptions | None = None,
    *,
    is_extracting: bool = False,
    conversation_id: str | None = None,
) -> ReplyContext:
    settings = load_settings(profile="testing", data_dir=tmp_path / "data")
    settings = settings.model_copy(
        update={"memory": settings.memory.model_copy(update={"is_extracting": is_extracting})}
    )
    backends = Backends(
        settings=settings, stt=FakeDeafStt(), llm=FakeSilentLlm(), tts=FakeToneVoice()
    )
    return ReplyContext(
        backends,
        store=store,
        conversation_id=conversation_id or store.create_conversation("local"),
        user_id="local",
        options=lambda: options or SessionOptions(),
    )


async def test_the_prompt_is_the_instructions_the_history_and_the_new_words(
    store: SqliteStore, tmp_path: Path
) -> None:
    conversation_id = store.create_conversation("local")
    context = context_over(
        store,
        tmp_path,
        SessionOptions(instructions="Answer as a pirate."),
        conversation_id=conversation_id,
    )
    await context.add_user_text("What is the capital of France?")
    await context.add_assistant_text("Paris, matey.")
    history, messages = await context.build("And of Spain?")
    assert [m.role for m in history] == ["user", "assistant", "user"]
    assert messages[0] == ChatMessage("system", "Answer as a pirate.")
    assert [m.content for m in messages[1:]] == [
        "What is the capital of France?",
        "Paris, matey.",
        "And of Spain?",
    ]
    # Speculation reads the same prompt before the words are stored: nothing was stored.
    assert [m.content for m in store.messages(conversation_id)][-1] == "Paris, matey."


async def test_a_fact_asked_to_be_kept_is_stored_and_recalled_beside_a_question_about_it(
    store: SqliteStore, tmp_path: Path
) -> None:
    context = context_over(store, tmp_path)
    assert context.asks_to_change_memory("Remember that my sister is called Ana.")
    await context.add_user_text("Remember that my sister is called Ana.")
    changes = context.take_memory_changes()
    assert changes.confirmations == ["Okay, I'll remember that your sister is called Ana."]
    _history, messages = await context.build("What is my sister called?")
    assert "sister is called Ana" in messages[-1].content
    assert messages[-1].content.endswith("What is my sister called?")


async def test_words_said_unasked_or_not_made_out_store_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    context = context_over(store, tmp_path)
    assert not context.asks_to_change_memory("My favourite colour is teal.")
    await context.add_user_text("My favourite colour is teal.")
    await context.add_user_text("Remember that clagot is red clagot.", is_unclear=True)
    assert store.memories("local") == []
    assert context.take_memory_changes().confirmations == []
    # Turned on by the user (memory.is_extracting), facts said unasked are kept.
    extracting = context_over(store, tmp_path, is_extracting=True)
    await extracting.add_user_text("I live in Lyon.")
    assert [m.text for m in store.memories("local")] == ["The user lives in Lyon"]


async def test_a_prompt_with_no_user_words_to_answer_is_a_clear_error(
    store: SqliteStore, tmp_path: Path
) -> None:
    context = context_over(store, tmp_path)
    with pytest.raises(BackendError, match="no user message"):
        await context.build(None)
