"""The client events that change or read the conversation's items: ``conversation.item.create``
(messages and function outputs), ``.truncate``, ``.delete`` and ``.retrieve``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from parley.config.settings import Settings
from parley.pipeline.session import Session
from parley.server.realtime import inbound
from parley.server.realtime.items import ItemRegistry
from parley.server.realtime.outbound import Event, Outbound
from parley.server.realtime.protocol import ClientEventError


class ItemEvents:
    def __init__(
        self,
        *,
        session: Session,
        items: ItemRegistry,
        outbound: Outbound,
        settings: Settings,
        set_heard: Callable[[int, int], None],
        send: Callable[[Event], None],
    ) -> None:
        self._session = session
        self._items = items
        self._outbound = outbound
        self._settings = settings
        self._limits = settings.server
        self._set_heard = set_heard
        self._send = send

    async def create(self, item: Any) -> None:
        # Items are appended in order; previous_item_id (insertion elsewhere) is not supported.
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            self._add_function_output(item)
            return
        item_id, role, text = inbound.message_item(item, self._limits)
        session = self._session
        if role == "system":
            session.options = dataclasses.replace(session.options, instructions=text)
        elif role == "user":
            self._items.add(item_id, "message", await session.add_user_text(text))
        else:
            self._items.add(item_id, "message", await session.add_assistant_text(text))
        stored = {**item, "id": item_id, "object": "realtime.item", "status": "completed"}
        self._send_all(self._outbound.client_item(item_id, stored))

    def _add_function_output(self, item: dict[str, Any]) -> None:
        call_id, output = inbound.function_output(item, self._limits)
        if call_id not in self._items.calls_by_id:
            raise ClientEventError(
                "invalid_item", f"No function call {call_id!r} is waiting for output."
            )
        name, arguments = self._items.calls_by_id.pop(call_id)
        self._session.add_function_output(name, output, arguments=arguments)
        item_id = inbound.client_item_id(item)
        stored = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call_output",
            "call_id": call_id,
            "output": output,
        }
        self._send_all(self._outbound.client_item(item_id, stored))

    async def truncate(self, event: dict[str, Any]) -> None:
        item_id, audio_end_ms = inbound.truncation(event)
        kind, turn_id = self._items.find(item_id) or ("", 0)
        if kind != "turn":
            raise ClientEventError("item_not_found", f"No assistant audio item {item_id!r}.")
        heard = await self._session.truncate_reply(turn_id, audio_end_ms=audio_end_ms)
        if heard is None:
            # The reply is still being written: remember the client's figure for when it ends.
            rate_hz = self._settings.audio.output_sample_rate_hz
            self._set_heard(turn_id, audio_end_ms * rate_hz // 1000)
        else:
            self._items.set_transcript(item_id, heard)
        content_index = event.get("content_index", 0)
        self._send(self._outbound.truncated(item_id, audio_end_ms, content_index))

    async def delete(self, item_id: Any) -> None:
        found = self._items.remove(item_id) if isinstance(item_id, str) else None
        if found is None:
            raise ClientEventError("item_not_found", f"No conversation item {item_id!r}.")
        kind, number = found
        session = self._session
        message_id = number if kind == "message" else session.message_id_for_turn(number)
        if message_id is not None:
            await session.delete_message(message_id)
        self._send({"type": "conversation.item.deleted", "item_id": item_id})

    def retrieve(self, item_id: Any) -> None:
        item = self._items.item_json(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ClientEventError(
                "item_not_found",
                f"No conversation item {item_id!r} in this session (items from before a "
                "reconnect, and deleted ones, cannot be retrieved).",
            )
        self._send({"type": "conversation.item.retrieved", "item": item})

    def _send_all(self, events: list[Event]) -> None:
        for event in events:
            self._send(event)
