"""When a timer or reminder is due, from the user's own words as Whisper writes them: "for ten
minutes", "in an hour and a half", "at half past six", "tomorrow at noon", "on Friday at 5 pm".

The small LLM is not trusted with time arithmetic: the words are read here. Spoken forms
that date libraries miss ("half past six", "an hour and a half", "five and a half minutes", a
bare "at 7") are rewritten first; the day ("tomorrow", "on Friday", "December 24") is read by
``dateparser``; the clock time and its morning or evening are decided here, so that "at 7" said
at two in the afternoon means seven this evening. Whatever cannot be a time to come ("minus five
minutes", "yesterday") is a ``WhenError`` whose text is said to the user as it is.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "ninety": 90, "couple": 2, "few": 3,
}  # fmt: skip
_UNIT_S = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400}
_UNIT = r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b"
_AMOUNT = r"(?P<amount>\d+(?:\.\d+)?)"
_DURATION_PART = re.compile(_AMOUNT + r"(?P<half> and a half)?\s*" + _UNIT)
_NEGATIVE = re.compile(r"\b(minus|negative)\b|-\s*\d")
_PAST_DAY = re.compile(
    r"\b(yesterday|ago|last (night|week|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
)
_CLOCK = re.compile(
    r"\b(?:at|by|for)\s+(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s*(?P<meridiem>[ap])?\.?\s*m?\b\.?"
    r"|\b(?P<hour2>\d{1,2})(?:[:.](?P<minute2>\d{2}))?\s*(?P<meridiem2>[ap])\.?\s*m\b\.?"
)
_EVENING = re.compile(r"\b(tonight|evening|afternoon|pm)\b")
_MORNING = re.compile(r"\b(morning|am|wake)\b")
MAX_AHEAD = datetime.timedelta(days=366)


class WhenError(ValueError):
    """A time that cannot be set; the text is the answer to say."""


@dataclass(frozen=True, slots=True)
class Moment:
    due: datetime.datetime  # aware, in the user's time zone


def spoken_numbers(text: str) -> str:
    """Lower case, number words as digits ("twenty five" → "25"), and the spoken shapes of
    time ("half past six" → "6:30", "an hour and a half" → "1.5 hours")."""
    text = " " + text.lower().replace("-", " - ").replace(",", " ") + " "
    text = re.sub(r"\bnoon\b", "12:00 pm", text)
    text = re.sub(r"\bmidnight\b", "12:00 am", text)
    words = text.split()
    out: list[str] = []
    for word in words:
        value = _NUMBERS.get(word)
        if (
            value is not None
            and out
            and out[-1].isdigit()
            and int(out[-1]) % 10 == 0
            and int(out[-1]) >= 20
            and value < 10
        ):
            out[-1] = str(int(out[-1]) + value)  # "twenty five"
        elif value is not None and word not in ("a", "an", "couple", "few"):
            out.append(str(value))
        else:
            out.append(word)
    text = " " + " ".join(out) + " "
    text = re.sub(r"\b(a|an|1) (hour|minute) and a half\b", r"1.5 \2s", text)
    text = re.sub(r"\bhalf an? (hour|minute)\b", r"0.5 \1", text)
    text = re.sub(
        r"\ba quarter of an hour\b|\bquarter of an hour\b|\ba quarter hour\b", "15 minutes", text
    )
    text = re.sub(r"\b(?:a |an )?couple of\b", "2", text)
    text = re.sub(r"\b(?:a )?few\b", "3", text)
    text = re.sub(r"\b(a|an) (second|minute|hour|day)\b", r"1 \2", text)
    text = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", text)
    text = re.sub(r"\bquarter past (\d{1,2})\b", r"\1:15", text)
    text = re.sub(
        r"\b(?:a )?quarter to (\d{1,2})\b", lambda m: f"{(int(m.group(1)) - 1) % 12 or 12}:45", text
    )
    text = re.sub(r"\b(\d{1,2}) o'?clock\b", r"\1:00", text)
    return " ".join(text.split())


def duration_in(text: str) -> datetime.timedelta | None:
    """The length of time the words name ("10 minutes", "an hour and a half"), or None."""
    words = spoken_numbers(text)
    if _NEGATIVE.search(words):
        raise WhenError(
            "A timer can only count forward: tell me how long from now, like ten minutes."
        )
    seconds = 0.0
    for part in _DURATION_PART.finditer(words):
        amount = float(part.group("amount")) + (0.5 if part.group("half") else 0.0)
        unit = part.group("unit").rstrip("s")
        seconds += amount * _UNIT_S[unit if unit in _UNIT_S else unit[:3]]
    if seconds == 0:
        return None
    return datetime.timedelta(seconds=seconds)


def due_time(text: str, now: datetime.datetime) -> datetime.datetime | None:
    """When the words say something is due ("in 20 minutes", "at 6:30 pm", "tomorrow at noon"),
    after ``now`` (aware), or None when they name no time."""
    words = spoken_numbers(text)
    if _PAST_DAY.search(words):
        raise WhenError("That time has already passed; tell me a time still to come.")
    if _NEGATIVE.search(words):
        raise WhenError("I can only remind you of something later than now.")
    if re.search(r"\b(in|after|for)\s+\d", words) and (length := duration_in(words)) is not None:
        return now + length
    clock = _CLOCK.search(words)
    day = _day_named(_CLOCK.sub(" ", words) if clock else words, now)
    if clock is None:
        if day is None:
            return None
        return _at(day, 9, 0, now)  # "tomorrow": in the morning
    hour = int(clock.group("hour") or clock.group("hour2"))
    minute = int(clock.group("minute") or clock.group("minute2") or 0)
    meridiem = clock.group("meridiem") or clock.group("meridiem2")
    if hour > 23 or minute > 59:
        raise WhenError(f"{hour}:{minute:02d} is not a time of day.")
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    base = day or now.date()
    if meridiem is None and 1 <= hour <= 12:
        return _ambiguous_hour(base, hour, minute, now, words, is_day_named=day is not None)
    due = _at(base, hour, minute, now)
    if due <= now and day is None:
        due += datetime.timedelta(days=1)
    return due


def _ambiguous_hour(
    day: datetime.date,
    hour: int,
    minute: int,
    now: datetime.datetime,
    words: str,
    *,
    is_day_named: bool,
) -> datetime.datetime:
    """ "At 7" without a.m. or p.m.: evening words say evening, morning words morning; else the
    next seven o'clock to come (on a named day, 7 to 11 are mornings and 1 to 6 afternoons)."""
    morning, evening = hour % 12, hour % 12 + 12
    if _EVENING.search(words):
        choices = [evening]
    elif _MORNING.search(words):
        choices = [morning]
    elif is_day_named:
        choices = [morning if 7 <= hour <= 11 else evening]
    else:
        choices = [morning, evening]
    for days_ahead in range(2):
        for choice in choices:
            due = _at(day + datetime.timedelta(days=days_ahead), choice, minute, now)
            if due > now:
                return due
    return _at(day + datetime.timedelta(days=1), choices[0], minute, now)


def _at(day: datetime.date, hour: int, minute: int, now: datetime.datetime) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=now.tzinfo)


def _day_named(words: str, now: datetime.datetime) -> datetime.date | None:
    """The day the words name, if any ("today", "tonight", "tomorrow", "on friday", "december
    24"), read by dateparser against ``now``."""
    if re.search(r"\b(today|tonight|this (morning|afternoon|evening))\b", words):
        return now.date()
    if "day after tomorrow" in words:
        return now.date() + datetime.timedelta(days=2)
    if re.search(r"\btomorrow\b", words):
        return now.date() + datetime.timedelta(days=1)
    phrase = re.search(
        r"\b(?:on |next |this )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
        r"|\b(january|february|march|april|may|june|july|august|september|october|november|december)\s+\d{1,2}(?:st|nd|rd|th)?\b"
        r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(january|february|march|april|june|july|august|september|october|november|december)\b",
        words,
    )
    if phrase is None:
        return None
    import dateparser

    found = dateparser.parse(
        phrase.group(0).removeprefix("on ").removeprefix("this "),
        languages=["en"],
        settings={
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if found is None:
        return None
    date: datetime.date = found.date()
    if date <= now.date() and phrase.group(1):  # "on friday" said on a friday: next week's
        date += datetime.timedelta(days=7)
    return date


def check_ahead(due: datetime.datetime, now: datetime.datetime) -> None:
    if due <= now:
        raise WhenError("That time has already passed; tell me a time still to come.")
    if due - now > MAX_AHEAD:
        raise WhenError("I can keep reminders for up to a year ahead.")
