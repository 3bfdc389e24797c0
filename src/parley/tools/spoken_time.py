"""Times and dates as people say them: "8:15 in the morning in Tokyo, Saturday the fifth of
December", not "2026-12-05T08:15:00+09:00" or "08:15 AM on Saturday 05 December 2026"."""

from __future__ import annotations

import datetime

_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]


def ordinal(day: int) -> str:
    """1 → "first", 23 → "twenty-third", 30 → "thirtieth"."""
    if day <= 20:
        return _ORDINALS[day - 1]
    tens, unit = divmod(day, 10)
    stem = {2: "twenty", 3: "thirty"}[tens]
    return f"{stem}-{_ORDINALS[unit - 1]}" if unit else f"{stem[:-1]}ieth"


def clock(moment: datetime.datetime | datetime.time) -> str:
    """ "8:15 in the morning", "3 in the afternoon", "noon", "midnight"."""
    hour, minute = moment.hour, moment.minute
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    shown = f"{hour % 12 or 12}" + (f":{minute:02d}" if minute else "")
    if 5 <= hour < 12:
        part = "in the morning"
    elif 12 <= hour < 17:
        part = "in the afternoon"
    elif 17 <= hour < 21:
        part = "in the evening"
    else:
        part = "at night"
    return f"{shown} {part}"


def day(moment: datetime.date) -> str:
    """ "Saturday the fifth of December"."""
    return f"{moment.strftime('%A')} the {ordinal(moment.day)} of {moment.strftime('%B')}"


def place(zone: str) -> str:
    """The city of an IANA zone ("America/New_York" → "New York"); "UTC" stays UTC."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def moment_sentence(moment: datetime.datetime, zone: str | None) -> str:
    """ "It's 8:15 in the morning in Tokyo, Saturday the fifth of December." """
    where = f" in {place(zone)}" if zone else ""
    return f"It's {clock(moment)}{where}, {day(moment)}."


def conversion_sentence(
    source: datetime.datetime, source_zone: str, target: datetime.datetime, target_zone: str
) -> str:
    """ "When it's 9 in the morning in London, it's 8 in the evening in Sydney." (with the day
    when the two differ)."""
    later = f", {day(target)}" if target.date() != source.date() else ""
    return (
        f"When it's {clock(source)} in {place(source_zone)}, "
        f"it's {clock(target)} in {place(target_zone)}{later}."
    )
