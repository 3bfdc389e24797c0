"""Which timer a request means, set, read and cancelled through ``TimerClock`` with a real
SQLite file and a clock the test moves: a named timer that is running, one that went off, one
already cancelled, two of one name, and requests that name none."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from parley.memory.sqlite_store import SqliteStore
from parley.memory.timer_table import StoredTimer
from parley.tools.timer_words import means_every_one
from parley.tools.timers import TimerClock


class Clock:
    """Unix time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timers(store: SqliteStore, clock: Clock) -> TimerClock:
    return TimerClock(store, clock=clock)


def running_labels(store: SqliteStore) -> list[str]:
    return [timer.label for timer in store.running_timers("local")]


def test_a_running_named_timer_is_the_one_cancelled(timers: TimerClock, store: SqliteStore) -> None:
    timers.set_timer("Set a pasta timer for ten minutes.")
    timers.set_timer("Set a timer for the eggs for one hour.")
    assert timers.cancel("Cancel the pasta timer.") == "OK, I've cancelled your pasta timer."
    assert running_labels(store) == ["eggs"]


def test_a_named_timer_that_went_off_cancels_nothing_and_says_so(
    timers: TimerClock, store: SqliteStore
) -> None:
    timers.set_timer("Set a pasta timer for two seconds.")
    timers.set_timer("Set a timer for the eggs for one hour.")
    pasta = store.running_timers("local")[0]
    store.mark_timer_fired(pasta.id, pasta.due_at)
    assert timers.cancel("Cancel the pasta timer.") == (
        "You have no pasta timer running, so I've cancelled nothing; your eggs timer is still on."
    )
    assert running_labels(store) == ["eggs"]
    assert timers.time_left("How long is left on the pasta timer?") == (
        "You have no pasta timer running. Your eggs timer has 1 hour left."
    )


def test_a_named_timer_cancelled_twice_cancels_nothing_the_second_time(
    timers: TimerClock, store: SqliteStore
) -> None:
    timers.set_timer("Set a pasta timer for ten minutes.")
    timers.set_timer("Set a bread timer for forty minutes.")
    assert timers.cancel("Cancel the pasta timer.") == "OK, I've cancelled your pasta timer."
    assert timers.cancel("Cancel the pasta timer.").startswith("You have no pasta timer running")
    assert running_labels(store) == ["bread"]


def test_two_timers_of_one_name_are_told_apart_by_their_time_left(
    timers: TimerClock, store: SqliteStore, clock: Clock
) -> None:
    timers.set_timer("Set a pasta timer for ten minutes.")
    timers.set_timer("Set a pasta timer for one hour.")
    clock.now_s += 60
    assert timers.cancel("Cancel the pasta timer.") == (
        "Which one? You have your pasta timer with 9 minutes left "
        "and your pasta timer with 59 minutes left."
    )
    assert len(store.running_timers("local")) == 2
    assert timers.cancel("Cancel the one hour pasta timer.") == (
        "OK, I've cancelled your pasta timer."
    )
    assert [t.duration_s for t in store.running_timers("local")] == [600.0]


def test_both_timers_of_one_name_go_when_asked_for_both(
    timers: TimerClock, store: SqliteStore
) -> None:
    timers.set_timer("Set a pasta timer for ten minutes.")
    timers.set_timer("Set a pasta timer for one hour.")
    assert timers.cancel("Cancel both pasta timers.") == (
        "OK, I've cancelled your pasta timer and your pasta timer."
    )
    assert store.running_timers("local") == []


def test_a_request_naming_no_timer_cancels_the_only_one_and_asks_among_several(
    timers: TimerClock, store: SqliteStore
) -> None:
    assert timers.cancel("Cancel the timer.") == (
        "There is nothing to cancel: no timers or reminders are running."
    )
    timers.set_timer("Set a timer for ten minutes.")
    assert timers.cancel("Cancel my timer.") == (
        "OK, I've cancelled the timer you set for 10 minutes."
    )
    timers.set_timer("Set a timer for ten minutes.")
    timers.set_reminder("Remind me in an hour to call mum.")
    assert timers.cancel("Cancel it.") == (
        "Which one? You have the timer you set for 10 minutes and your reminder to call mum."
    )
    assert timers.cancel("Cancel all my timers.").startswith("OK, I've cancelled ")
    assert store.running_timers("local") == []


def test_a_name_said_in_the_singular_finds_its_plural_and_call_is_not_all(
    timers: TimerClock, store: SqliteStore
) -> None:
    timers.set_timer("Set a timer for the eggs for one hour.")
    timers.set_timer("Set a bread timer for forty minutes.")
    assert timers.cancel("Cancel the egg timer.") == "OK, I've cancelled your eggs timer."
    timers.set_reminder("Remind me in an hour to call mum.")
    assert timers.cancel("Cancel the reminder to call mum.") == (
        "OK, I've cancelled your reminder to call mum."
    )
    assert running_labels(store) == ["bread"]
    # "call" holds "all", which would have cancelled every timer a request means.
    assert not means_every_one("I'll call her later, cancel it.")
    assert means_every_one("Cancel all of them.")


async def test_a_cancelled_timer_never_goes_off_and_the_next_one_does(
    timers: TimerClock, clock: Clock
) -> None:
    told: asyncio.Queue[str] = asyncio.Queue()

    async def teller(_timer: StoredTimer, words: str) -> bool:
        told.put_nowait(words)
        return True

    await timers.subscribe("local", teller)
    timers.set_timer("Set a pasta timer for ten minutes.")
    timers.set_timer("Set a bread timer for eleven minutes.")
    timers.cancel("Cancel the pasta timer.")
    clock.now_s += 11 * 60  # both are due now: only the bread timer is left to go off
    running = asyncio.create_task(timers.run())
    try:
        assert await told.get() == "Your bread timer is done."
        assert told.empty()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
