"""Tool results as a small model reads them right: plain words, not JSON and ISO stamps."""

from __future__ import annotations

from typing import Any


def speakable_result(text: str) -> str:
    """A tool's JSON made plain: ISO times as clock times, booleans as words, keys as words.

    A 0.5B model misreads "2026-11-26T00:53:23+09:00"; it reads "12:53 AM on Thursday" right.
    """
    import datetime
    import json

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
