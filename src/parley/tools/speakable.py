"""Tool results as words: a sentence to say as it is when the result has a known shape (a
time, a conversion, Parley's own tools' answers), else plain words for the model to phrase."""

from __future__ import annotations

import datetime
import json
from typing import Any

from parley.memory.fact_voice import second_person
from parley.tools.spoken_time import conversion_sentence, moment_sentence

# Parley's own tools whose answers are written to be said as they are. search_memory gives
# only the facts that answer the question (MemoryRecall.answering): one fact is said as it is,
# to the user ("Your sister is called Ana."), without the ~0.6 s the model takes to read the
# call and its answer; several are phrased by the model.
SAID_AS_THEY_ARE = frozenset({"current_date_and_time", "remember", "end_conversation"})
NOTHING_REMEMBERED = "Nothing remembered about that."


def spoken_answer(name: str, text: str, *, is_builtin: bool) -> str | None:
    """The sentence that answers with this result, or None when the model must phrase it."""
    if is_builtin:
        if name in SAID_AS_THEY_ARE:
            return text
        if name == "search_memory" and text == NOTHING_REMEMBERED:
            return "You haven't told me that yet."
        fact = text.strip()
        if name == "search_memory" and fact and "\n" not in fact:
            said = second_person(fact)
            return said if said.endswith((".", "!", "?")) else f"{said}."
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(value, dict):
        return None
    if (moment := _moment(value)) is not None:
        return moment_sentence(moment, value.get("timezone"))
    source, target = _moment(value.get("source")), _moment(value.get("target"))
    if source is not None and target is not None:
        return conversion_sentence(
            source, value["source"].get("timezone", ""), target, value["target"].get("timezone", "")
        )
    return None


def _moment(value: Any) -> datetime.datetime | None:
    if not isinstance(value, dict) or not isinstance(value.get("datetime"), str):
        return None
    try:
        return datetime.datetime.fromisoformat(value["datetime"])
    except ValueError:
        return None


def speakable_result(text: str) -> str:
    """A tool's JSON made plain for the model: ISO times as clock times, booleans as words,
    keys as words. A 0.5B model misreads "2026-11-26T00:53:23+09:00"; it reads "12:53 AM on
    Thursday" right."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text

    def plain(item: Any) -> str:
        if isinstance(item, bool):
            return "yes" if item else "no"
        if isinstance(item, str):
            try:
                moment = datetime.datetime.fromisoformat(item)
            except ValueError:
                return item
            if "T" in item or " " in item:
                return moment.strftime("%I:%M %p on %A %d %B %Y").lstrip("0")
            return moment.strftime("%A %d %B %Y")
        if isinstance(item, dict):
            return "; ".join(f"{key.replace('_', ' ')}: {plain(val)}" for key, val in item.items())
        if isinstance(item, list):
            return ", ".join(plain(element) for element in item)
        return str(item)

    return plain(value)
