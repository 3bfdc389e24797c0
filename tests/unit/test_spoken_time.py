"""Times, dates and conversions as people say them."""

import datetime
import json

from parley.tools.speakable import NOTHING_REMEMBERED, spoken_answer
from parley.tools.spoken_time import clock, conversion_sentence, moment_sentence, ordinal


def test_days_are_ordinal_words() -> None:
    assert [ordinal(d) for d in (1, 2, 3, 11, 20, 21, 22, 23, 30, 31)] == [
        "first",
        "second",
        "third",
        "eleventh",
        "twentieth",
        "twenty-first",
        "twenty-second",
        "twenty-third",
        "thirtieth",
        "thirty-first",
    ]


def test_hours_say_the_part_of_the_day() -> None:
    at = lambda h, m=0: clock(datetime.time(h, m))  # noqa: E731
    assert [at(0), at(12), at(8, 15), at(15), at(19, 5), at(23, 30), at(2)] == [
        "midnight",
        "noon",
        "8:15 in the morning",
        "3 in the afternoon",
        "7:05 in the evening",
        "11:30 at night",
        "2 at night",
    ]


def test_a_time_server_result_is_one_sentence_without_its_fields() -> None:
    result = {
        "timezone": "America/New_York",
        "datetime": "2026-12-05T08:15:36-05:00",
        "day_of_week": "Saturday",
        "is_dst": False,
    }
    said = spoken_answer("get_current_time", json.dumps(result), is_builtin=False)
    assert said == "It's 8:15 in the morning in New York, Saturday the fifth of December."
    conversion = {
        "source": {"timezone": "Asia/Tokyo", "datetime": "2026-12-05T23:00:00+09:00"},
        "target": {"timezone": "Europe/London", "datetime": "2026-12-05T14:00:00+00:00"},
        "time_difference": "-9.0h",
    }
    assert (
        spoken_answer("convert_time", json.dumps(conversion), is_builtin=False)
        == "When it's 11 at night in Tokyo, it's 2 in the afternoon in London."
    )
    # Another shape is left to the model to phrase.
    assert spoken_answer("get_weather", '{"temperature_c": 18}', is_builtin=False) is None


def test_a_conversion_that_crosses_midnight_names_the_day() -> None:
    source = datetime.datetime(2026, 12, 5, 20, 0)
    target = datetime.datetime(2026, 12, 6, 7, 0)
    assert conversion_sentence(source, "Europe/London", target, "Australia/Sydney") == (
        "When it's 8 in the evening in London, it's 7 in the morning in Sydney, "
        "Sunday the sixth of December."
    )
    assert moment_sentence(source, None) == "It's 8 in the evening, Saturday the fifth of December."


def test_one_fact_that_answers_a_question_to_memory_is_said_to_the_user_as_it_is() -> None:
    said = spoken_answer("search_memory", "The user's sister is called Ana", is_builtin=True)
    assert said == "Your sister is called Ana."
    assert (
        spoken_answer("search_memory", "The user lives in Madrid.", is_builtin=True)
        == "You live in Madrid."
    )
    # Several facts are the model's to phrase; none is said as "not told yet".
    two = "The user's dog is called Rex\nThe user's sister is called Ana"
    assert spoken_answer("search_memory", two, is_builtin=True) is None
    assert spoken_answer("search_memory", NOTHING_REMEMBERED, is_builtin=True) == (
        "You haven't told me that yet."
    )
