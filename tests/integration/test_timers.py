"""Timers and reminders through the whole pipeline, with the real models and a real SQLite file:
set by what the user says, read and cancelled, refused when impossible, told on time by Parley
unprompted (over the realtime socket too), and kept across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.audio.virtual_devices import CollectingSink
from parley.config.settings import load_settings
from parley.memory.timer_table import StoredTimer
from parley.pipeline.runtime import Runtime
from tests.conftest import RunningServer, ask_in_text, running_server
from tests.integration.test_server_realtime import realtime


@pytest.fixture
async def runtime(backends, data_dir: Path) -> AsyncIterator[Runtime]:  # type: ignore[no-untyped-def]
    settings = load_settings(profile="testing", data_dir=data_dir)
    async with Runtime.open(settings, backends=backends) as opened:
        yield opened


class Told:
    """A teller that hears what Parley says when a timer goes off."""

    def __init__(self) -> None:
        self.words: asyncio.Queue[str] = asyncio.Queue()

    async def __call__(self, _timer: StoredTimer, words: str) -> bool:
        self.words.put_nowait(words)
        return True


async def say(runtime: Runtime, text: str, conversation_id: str | None = None) -> str:
    session = runtime.session(sink=CollectingSink(), conversation_id=conversation_id)
    return (await session.respond(text)).reply_text


async def test_a_timer_set_in_words_is_told_unprompted_when_it_is_done(runtime: Runtime) -> None:
    told = Told()
    await runtime.timers.subscribe("local", told)
    reply = await say(runtime, "Set a timer for three seconds.")
    assert reply == "OK, a timer is set for 3 seconds."
    # Awaited as it goes off (the bound only keeps a lost timer from hanging the run). How long
    # is left is asked of a timer that runs far longer than the test, so no step races it.
    words = await asyncio.wait_for(told.words.get(), timeout=120)
    assert words == "The timer you set for 3 seconds is done."
    assert await say(runtime, "Set a timer for ten minutes.") == (
        "OK, a timer is set for 10 minutes."
    )
    left = await say(runtime, "How long is left on my timer?")
    assert left.startswith("The timer you set for 10 minutes has ") and left.endswith(" left.")
    assert await say(runtime, "Cancel my timer.") == (
        "OK, I've cancelled the timer you set for 10 minutes."
    )
    assert await say(runtime, "How much time is left on my timer?") == (
        "You have no timers or reminders running."
    )


async def test_a_named_timer_is_cancelled_by_its_name_and_never_goes_off(runtime: Runtime) -> None:
    # Both run far longer than the test, so no step races the clock; that a cancelled timer
    # never goes off is tests/unit/test_timer_clock.py's, on a clock the test moves.
    assert await say(runtime, "Set a pasta timer for ten minutes.") == (
        "OK, your pasta timer is set for 10 minutes."
    )
    assert await say(runtime, "Please set a timer for the eggs for one hour.") == (
        "OK, your eggs timer is set for 1 hour."
    )
    assert await say(runtime, "Cancel the pasta timer.") == "OK, I've cancelled your pasta timer."
    assert [t.label for t in runtime.store.running_timers("local")] == ["eggs"]
    left = await say(runtime, "How long is left on my timers?")
    assert "eggs timer has" in left and "pasta" not in left
    assert await say(runtime, "Cancel the pasta timer.") == (
        "You have no pasta timer running, so I've cancelled nothing; your eggs timer is still on."
    )


async def test_impossible_times_get_a_clear_spoken_answer(runtime: Runtime) -> None:
    assert await say(runtime, "Set a timer for minus five minutes.") == (
        "A timer can only count forward: tell me how long from now, like ten minutes."
    )
    assert await say(runtime, "Remind me yesterday to buy milk.") == (
        "That time has already passed; tell me a time still to come."
    )
    assert runtime.store.running_timers("local") == []


async def test_a_reminder_survives_a_restart_and_one_missed_is_told_at_the_next_start(
    backends, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(profile="testing", data_dir=data_dir)
    async with Runtime.open(settings, backends=backends) as first:
        reply = await say(first, "Remind me in two seconds to stretch.")
        assert reply.startswith("OK, I'll remind you at ") and reply.endswith(" to stretch.")
        assert (await say(first, "Remind me in eight seconds to drink some water.")).endswith(
            "to drink some water."
        )
    await asyncio.sleep(3)  # the first went off while Parley was stopped
    async with Runtime.open(settings, backends=backends) as second:
        told = Told()
        await second.timers.subscribe("local", told)
        first_words = await asyncio.wait_for(told.words.get(), timeout=5)
        assert first_words.endswith("This is your reminder to stretch.")
        later_words = await asyncio.wait_for(told.words.get(), timeout=15)
        assert later_words.endswith("This is your reminder to drink some water.")
        # Marked told once the teller has returned: a moment after the words were said.
        for _ in range(50):
            if not second.store.untold_timers("local"):
                break
            await asyncio.sleep(0.1)
        assert second.store.untold_timers("local") == []


async def test_a_timer_goes_off_as_a_response_of_its_own_over_the_realtime_socket(
    backends, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with running_server(backends, tmp_path / "data") as server:
        await _timer_over_realtime(server)


async def _timer_over_realtime(server: RunningServer) -> None:
    async with realtime(server) as connection:
        await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await ask_in_text(connection, "Set a timer for two seconds.")
        replies: list[tuple[str, dict[str, str] | None]] = []
        text = ""
        async for event in connection:
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.done":
                replies.append((text, event.response.metadata))
                text = ""
                if len(replies) == 2:
                    break
    (asked, asked_metadata), (unprompted, metadata) = replies
    assert asked == "OK, a timer is set for 2 seconds."
    assert (asked_metadata or {}).get("reason") is None
    assert unprompted == "The timer you set for 2 seconds is done."
    assert metadata is not None and metadata["reason"] == "timer"
