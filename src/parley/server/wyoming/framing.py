"""Wyoming's wire format, read with limits: a JSON header line, then ``data_length`` bytes of
more JSON data, then ``payload_length`` bytes of payload (audio).

The ``wyoming`` package's own reader trusts every length a client sends (a header claiming a
10 GB payload is read into memory) and turns a malformed header into a silent disconnect. Here
each part is capped and every fault is a ``FrameError`` saying what was wrong, which the
connection sends back as an ``error`` event before it closes: after a bad header the stream
cannot be resynchronised. Writing uses the package's own ``async_write_event``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event


class FrameError(Exception):
    """The client's bytes are not a Wyoming event within the limits; ``code`` names the fault."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def read_event(reader: asyncio.StreamReader, *, max_bytes: int) -> Event | None:
    """The next event, or None at the end of the stream. The reader's own line limit
    (``asyncio.start_server(limit=…)``) bounds the header line."""
    try:
        line = await reader.readline()
    except ValueError as error:  # the header line ran past the reader's limit
        raise FrameError("header_too_long", f"An event header is too long: {error}") from None
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise FrameError("truncated", "The connection ended inside an event header.")
    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise FrameError("missing_type", 'An event header has no "type" string.')
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise FrameError("bad_data", f'The {event_type!r} event\'s "data" is not an object.')
    data_length = _length(header, "data_length", max_bytes)
    if data_length:
        data = {**data, **_json_object(await _read_exactly(reader, data_length), "data")}
    payload_length = _length(header, "payload_length", max_bytes)
    payload = await _read_exactly(reader, payload_length) if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


def _json_object(raw: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FrameError("bad_json", f"An event {part} is not JSON: {error}.") from None
    if not isinstance(value, dict):
        raise FrameError("bad_json", f"An event {part} is not a JSON object.")
    return value


def _length(header: dict[str, Any], key: str, max_bytes: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError("bad_length", f"{key} is {value!r}, not a byte count.")
    if value > max_bytes:
        raise FrameError(
            "too_large",
            f"{key} is {value} bytes; Parley takes at most {max_bytes} "
            "(wyoming.max_event_bytes). Send audio in smaller chunks.",
        )
    return value


async def _read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise FrameError(
            "truncated", f"The connection ended {size} bytes early, inside an event."
        ) from None
