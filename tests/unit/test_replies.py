"""``Replies``, one reply at a time, driven by fakes of the model Protocols (named so) and a
real SQLite file: what supersedes a reply still being written, what waits behind it, and what
is stored as heard.

The LLM fake writes its words only when the test lets it, so "still being written" is a state
the test holds, not a moment it races for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from parley.audio.virtual_devices import CollectingSink
from parley.config.settings import load_settings
from parley.memory.sqlite_store import SqliteStore
from parley.models.loaded import Backends
from parley.pipeline.events import ListenerEvent, ReplyInterrupted, TurnDone, TurnEvent, TurnStarted
from parley.pipeline.internal_words import ASK_AGAIN
from parley.pipeline.replies import Replies
from parley.pipeline.session_options import SessionOptions
from tests.unit.fakes import FakeDeafStt, FakeHeldLlm, FakeToneVoice


def replies_over(
    llm: FakeHeldLlm, store: SqliteStore, tmp_path: Path, events: list[ListenerEvent | TurnEvent]
) -> tuple[Replies, str]:
    settings = load_settings(profile="testing", data_dir=tmp_path / "data")
    backends = Backends(settings=settings, stt=FakeDeafStt(), llm=llm, tts=FakeToneVoice())
    conversation_id = store.create_conversation("local")
    replies = Replies(
        backends,
        store=store,
        sink=CollectingSink(),
        conversation_id=conversation_id,
        user_id="local",
        observer=events.append,
        toolbox=None,
        options=SessionOptions,
    )
    return replies, conversation_id


async def test_a_timer_that_goes_off_while_a_reply_is_written_waits_for_it_and_cuts_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    llm = FakeHeldLlm("OK, a timer is set for three seconds.")
    events: list[ListenerEvent | TurnEvent] = []
    replies, conversation_id = replies_over(llm, store, tmp_path, events)
    asked = replies.respond("Set a timer for three seconds.")
    await llm.asked.wait()  # the reply is being written
    announced = replies.respond(None, said="The timer you set for 3 seconds is done.")
    await asyncio.sleep(0)
    llm.go.set()
    first, second = await asked, await announced
    assert not first.was_cancelled and first.heard_text == "OK, a timer is set for three seconds."
    assert not second.was_cancelled
    assert second.heard_text == "The timer you set for 3 seconds is done."
    assert not [e for e in events if isinstance(e, ReplyInterrupted)]
    order = [(type(e).__name__, e.turn_id) for e in events if isinstance(e, TurnStarted | TurnDone)]
    assert order == [("TurnStarted", 1), ("TurnDone", 1), ("TurnStarted", 2), ("TurnDone", 2)]
    stored = [(m.role, m.content) for m in store.messages(conversation_id)]
    assert stored[-2:] == [("assistant", first.heard_text), ("assistant", second.heard_text)]


async def test_a_newer_reply_the_user_asked_for_supersedes_one_still_being_written(
    store: SqliteStore, tmp_path: Path
) -> None:
    llm = FakeHeldLlm("A very long story about a lighthouse keeper and his cat.")
    events: list[ListenerEvent | TurnEvent] = []
    replies, conversation_id = replies_over(llm, store, tmp_path, events)
    story = replies.respond("Tell me a long story.")
    await llm.asked.wait()
    llm.go = asyncio.Event()  # the next reply is held too
    newer = replies.respond("Actually, what time is it?")
    first = await story  # cut, without a word written
    assert first.was_cancelled and first.heard_text == ""
    llm.go.set()
    assert not (await newer).was_cancelled
    # The cut reply's row comes before the words that cut it, as the user lived it.
    stored = [(m.role, m.content, m.is_interrupted) for m in store.messages(conversation_id)]
    assert stored[:3] == [
        ("user", "Tell me a long story.", False),
        ("assistant", "", True),
        ("user", "Actually, what time is it?", False),
    ]


async def test_words_not_made_out_are_asked_again_and_nothing_in_them_is_remembered(
    store: SqliteStore, tmp_path: Path
) -> None:
    llm = FakeHeldLlm("Clagot is not Asthma Red Clagot.")
    llm.go.set()
    events: list[ListenerEvent | TurnEvent] = []
    replies, conversation_id = replies_over(llm, store, tmp_path, events)
    heard = "Remember that clagot is no asthma red clagot."
    result = await replies.respond(heard, is_unclear=True)
    assert result.heard_text == ASK_AGAIN
    assert not llm.asked.is_set()  # the model was not asked to answer another question
    assert [(m.role, m.content) for m in store.messages(conversation_id)] == [
        ("user", heard),
        ("assistant", ASK_AGAIN),
    ]
    assert store.memories("local") == []


async def test_a_reply_is_one_handle_from_the_moment_it_is_asked_for(
    store: SqliteStore, tmp_path: Path
) -> None:
    llm = FakeHeldLlm("Paris is the capital of France.")
    events: list[ListenerEvent | TurnEvent] = []
    replies, conversation_id = replies_over(llm, store, tmp_path, events)
    handle = replies.respond("What is the capital of France?")
    # Its identity is known before a word is written: no placeholder to patch later.
    assert handle.turn_id == 1 and handle.is_audible
    await llm.asked.wait()
    assert replies.message_id_for_turn(handle.turn_id) is None  # not stored yet
    llm.go.set()
    result = await handle
    assert result.turn_id == handle.turn_id and not result.was_cancelled
    assert handle.status.value == "done"
    assert [e.turn_id for e in events if isinstance(e, TurnStarted | TurnDone)] == [1, 1]
    assert replies.message_id_for_turn(handle.turn_id) is not None
    stored = [(m.role, m.content) for m in store.messages(conversation_id)]
    assert stored[-1] == ("assistant", "Paris is the capital of France.")


async def test_cancelling_a_reply_s_task_stops_it_and_settles_its_handle(
    store: SqliteStore, tmp_path: Path
) -> None:
    llm = FakeHeldLlm("A very long story about a lighthouse keeper and his cat.")
    events: list[ListenerEvent | TurnEvent] = []
    replies, conversation_id = replies_over(llm, store, tmp_path, events)
    handle = replies.respond("Tell me a long story.")
    await llm.asked.wait()
    handle.task.cancel()  # a caller that gives up on it
    await asyncio.wait({handle.task})
    assert handle.task.cancelled()
    assert handle.stored.is_set()  # nobody waiting on its row waits forever
    done = [e for e in events if isinstance(e, TurnDone)]
    assert [(e.turn_id, e.was_cancelled) for e in done] == [(1, True)]
    assert [m.role for m in store.messages(conversation_id)] == ["user"]  # nothing was heard
