"""Timers and reminders read from the user's words: lengths, times of day, names and errands,
and the sentences said about them."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from parley.memory.timer_table import StoredTimer
from parley.tools.timer_words import announcement, errand, timer_name, timer_title
from parley.tools.when import WhenError, due_time, duration_in

# Saturday 5 December 2026, two in the afternoon, in Paris.
NOW = datetime.datetime(2026, 12, 5, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("said", "seconds"),
    [
        ("set a timer for ten minutes", 600),
        ("a timer for an hour and a half", 5400),
        ("timer for five and a half minutes", 330),
        ("half an hour", 1800),
        ("a timer for 90 seconds", 90),
        ("set a timer for 1 hour and 20 minutes", 4800),
        ("twenty five minutes", 1500),
        ("a quarter of an hour", 900),
    ],
)
def test_a_length_of_time_is_read_as_people_say_it(said: str, seconds: int) -> None:
    assert duration_in(said) == datetime.timedelta(seconds=seconds)


def test_a_timer_without_a_length_has_none_and_a_negative_one_is_refused() -> None:
    assert duration_in("set a timer") is None
    with pytest.raises(WhenError, match="count forward"):
        duration_in("a timer for minus five minutes")


@pytest.mark.parametrize(
    ("said", "due"),
    [
        ("remind me at half past six to call my sister", (5, 18, 30)),
        ("remind me tomorrow at noon to buy milk", (6, 12, 0)),
        ("remind me in 20 minutes to check the oven", (5, 14, 20)),
        ("remind me at 7 to call mum", (5, 19, 0)),  # seven this evening, not this morning
        ("remind me at quarter to seven", (5, 18, 45)),
        ("remind me on friday at 5 pm to pay the rent", (11, 17, 0)),
        ("remind me tonight at 8 to watch the match", (5, 20, 0)),
        ("remind me at 7 in the morning", (6, 7, 0)),
        ("wake me up at 6", (6, 6, 0)),
        ("remind me on december 24 at 8 am", (24, 8, 0)),
        ("remind me in an hour and a half to stretch", (5, 15, 30)),
        ("remind me at 2 pm", (6, 14, 0)),  # two this afternoon is now: tomorrow's
    ],
)
def test_a_due_time_is_the_next_one_the_words_can_mean(
    said: str, due: tuple[int, int, int]
) -> None:
    day, hour, minute = due
    assert due_time(said, NOW) == datetime.datetime(2026, 12, day, hour, minute, tzinfo=NOW.tzinfo)


def test_a_time_in_the_past_is_refused_and_no_time_is_none() -> None:
    with pytest.raises(WhenError, match="passed"):
        due_time("remind me yesterday to buy milk", NOW)
    assert due_time("remind me to call my sister", NOW) is None


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("set a pasta timer for 10 minutes", "pasta"),
        ("a timer for the eggs for 5 minutes", "eggs"),
        ("set a timer called bread for 40 minutes", "bread"),
        ("timer for 10 minutes for the rice", "rice"),
        ("set a timer for ten minutes", ""),
        ("start a 10 minute timer", ""),
    ],
)
def test_a_timer_is_named_by_what_it_is_for(said: str, name: str) -> None:
    assert timer_name(said) == name


@pytest.mark.parametrize(
    ("said", "what"),
    [
        ("remind me at half past six to call my sister", "to call your sister"),
        ("remind me to call my sister at 6:30 pm", "to call your sister"),
        ("remind me that I have a meeting at 3 pm", "that you have a meeting"),
        ("remind me about the dentist on friday at 5 pm", "about the dentist"),
        ("remind me to water the plants in an hour", "to water the plants"),
        ("remind me at 7", ""),
    ],
)
def test_a_reminder_keeps_its_errand_in_the_users_person_without_its_time(
    said: str, what: str
) -> None:
    assert errand(said) == what


def test_what_parley_says_when_a_timer_goes_off() -> None:
    def timer(kind: str, label: str, duration_s: float | None = None) -> StoredTimer:
        return StoredTimer(1, "local", kind, label, 0.0, duration_s, 0.0, None, None)  # type: ignore[arg-type]

    at_six = NOW.replace(hour=18, minute=30)
    assert announcement(timer("timer", "pasta", 600), at_six) == "Your pasta timer is done."
    assert announcement(timer("timer", "", 90), at_six) == (
        "The timer you set for 1 minute and 30 seconds is done."
    )
    assert announcement(timer("reminder", "to call your sister"), at_six) == (
        "It's 6:30 in the evening. This is your reminder to call your sister."
    )
    assert announcement(timer("reminder", ""), at_six).endswith("This is your alarm.")
    assert timer_title(timer("timer", "", 600)) == "the timer you set for 10 minutes"
