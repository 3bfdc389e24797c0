"""What a timer or reminder is called and what it is for, from the user's words, and the
sentences Parley says about them: "Your pasta timer is set for 10 minutes.", "I'll remind you at
6:30 in the evening to call your sister.", "Your pasta timer is done."."""

from __future__ import annotations

import contextlib
import datetime
import re

from parley.memory.timer_table import StoredTimer
from parley.tools.spoken_time import clock, day
from parley.tools.when import WhenError, duration_in

_NOT_A_NAME = {
    "a", "an", "the", "my", "set", "start", "new", "that", "this", "kitchen", "one", "another",
    "second", "minute", "minutes", "hour", "hours", "seconds", "your", "kitchen's",
}  # fmt: skip
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# Where the time in a reminder's words begins: "… at 6", "… in an hour", "… on friday", "… tomorrow".
_TIME_PHRASE = re.compile(
    rf"\s+(?:(?:at|in|on|by|after|for|around)\s+(?:\d|a\b|an\b|half|quarter|noon|midnight|one|two|"
    rf"three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|{_DAYS}|"
    rf"{_MONTHS}|the (?:morning|afternoon|evening))|tomorrow|tonight|today|this (?:morning|"
    rf"afternoon|evening)|next (?:week|{_DAYS}))\b",
    re.IGNORECASE,
)
_SWAPS = {
    "my": "your", "me": "you", "i": "you", "i'm": "you're", "mine": "yours",
    "myself": "yourself", "am": "are", "our": "your", "we": "you", "us": "you",
}  # fmt: skip


def timer_name(request: str) -> str:
    """The name a timer is given ("pasta" in "a pasta timer", "a timer for the eggs", "a timer
    called bread"), or ""."""
    text = request.lower()
    if called := re.search(
        r"\b(?:called|named)\s+(?:the\s+)?([a-z][a-z ]{0,30}?)(?:\s+for\b|[.,!?]|$)", text
    ):
        return called.group(1).strip()
    if for_the := re.search(r"\btimer\b.*?\bfor (?:the|my)\s+([a-z]+)\b", text):
        return for_the.group(1)
    if (before := re.search(r"\b([a-z]+)\s+timer\b", text)) and before.group(1) not in _NOT_A_NAME:
        return before.group(1)
    return ""


def timer_named(timers: list[StoredTimer], request: str) -> list[StoredTimer]:
    """The timers a request is about: those it names ("the pasta timer", "the egg timer" for
    the eggs one), narrowed by a length it gives ("the 10 minute pasta timer"); all of them when
    it names none; and none when it names a timer that is not among them, so that "cancel the
    pasta timer" after the pasta one went off touches no other."""
    lowered = request.lower()
    said_name = timer_name(request)
    named = [
        t
        for t in timers
        if t.label
        and (re.search(rf"\b{re.escape(t.label)}\b", lowered) or _same_name(t.label, said_name))
    ]
    if not named and said_name:
        return []
    chosen = named or timers
    with contextlib.suppress(WhenError):
        if (length := duration_in(request)) is not None:
            of_length = [t for t in chosen if t.duration_s == length.total_seconds()]
            return of_length or chosen
    return chosen


def _same_name(label: str, said: str) -> bool:
    """ "egg" and "eggs" name one timer."""
    return bool(said) and label.removesuffix("s") == said.removesuffix("s")


def means_every_one(request: str) -> bool:
    """Whether a request is about all the timers it names ("cancel both", "all my timers")."""
    return re.search(r"\b(?:all|every|everything|both)\b", request.lower()) is not None


def errand(request: str) -> str:
    """What a reminder is for, said back to the user ("remind me at 6 to call my sister" → "to
    call your sister", "that you have a meeting"), without its time; "" for an alarm."""
    text = request.strip().rstrip(".!?")
    found = re.search(r"\b(to|that|about)\s+(.+)$", text, re.IGNORECASE)
    if found is None:
        return ""
    what = found.group(1).lower() + " " + _TIME_PHRASE.split(" " + found.group(2))[0].strip()
    return " ".join(_SWAPS.get(word.lower(), word) for word in what.split()).strip(" ,")


def length_words(seconds: float) -> str:
    """ "10 minutes", "1 hour and 30 minutes", "45 seconds"."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{value} {unit}{'' if value == 1 else 's'}"
        for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if value
    ]
    if not parts:
        return "less than a second"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def when_words(due: datetime.datetime, now: datetime.datetime) -> str:
    """ "at 6:30 in the evening", "tomorrow at noon", "on Friday the eleventh of December at 5 in
    the afternoon"."""
    at = f"at {clock(due)}"
    if due.date() == now.date():
        return at
    if due.date() == now.date() + datetime.timedelta(days=1):
        return f"tomorrow {at}"
    return f"on {day(due.date())} {at}"


def timer_title(timer: StoredTimer) -> str:
    """ "your pasta timer", "the timer you set for 10 minutes", "your reminder to call your
    sister", "your alarm"."""
    if timer.kind == "timer":
        if timer.label:
            return f"your {timer.label} timer"
        return f"the timer you set for {length_words(timer.duration_s or 0)}"
    return f"your reminder {timer.label}" if timer.label else "your alarm"


def capitalized(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def announcement(timer: StoredTimer, now: datetime.datetime) -> str:
    """What Parley says, unprompted, when a timer is due."""
    if timer.kind == "timer":
        return f"{capitalized(timer_title(timer))} is done."
    if timer.label:
        return f"It's {clock(now)}. This is your reminder {timer.label}."
    return f"It's {clock(now)}. This is your alarm."
