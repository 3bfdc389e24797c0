"""The conversation as the client sees it: item ids, what each stands for, the order they were
added in, the responses by turn and the function calls awaiting the client's output."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from parley.server.realtime.protocol import ResponseRef

# "message": a stored message (number = its row id); "turn": an assistant reply (number = turn
# id); "user_turn": the user's spoken turn.
ItemKind = Literal["message", "turn", "user_turn"]


@dataclass
class ItemRegistry:
    last_item_id: str | None = None
    responses: dict[int, ResponseRef] = field(default_factory=dict)
    # Function calls awaiting the client's output: call id -> (name, arguments JSON).
    calls_by_id: dict[str, tuple[str, str]] = field(default_factory=dict)
    _items: dict[str, tuple[ItemKind, int]] = field(default_factory=dict)
    _json_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)  # as last sent

    def add(self, item_id: str, kind: ItemKind, number: int) -> None:
        self._items[item_id] = (kind, number)

    def observe(self, event: dict[str, Any]) -> None:
        """Keep each item as the client was last told of it, for conversation.item.retrieve."""
        item = event.get("item")
        is_item_event = event.get("type", "").endswith(("item.added", "item.done"))
        if is_item_event and isinstance(item, dict) and isinstance(item_id := item.get("id"), str):
            self._json_by_id[item_id] = copy.deepcopy(item)

    def item_json(self, item_id: str) -> dict[str, Any] | None:
        item = self._json_by_id.get(item_id)
        return None if item is None else copy.deepcopy(item)

    def set_transcript(self, item_id: str, heard: str) -> None:
        """A truncated reply's item says what the client heard of it."""
        for part in self._json_by_id.get(item_id, {}).get("content", []):
            if part.get("type") == "output_audio":
                part["transcript"] = heard

    def find(self, item_id: str) -> tuple[ItemKind, int] | None:
        return self._items.get(item_id)

    def remove(self, item_id: str) -> tuple[ItemKind, int] | None:
        self._json_by_id.pop(item_id, None)
        return self._items.pop(item_id, None)

    def live_response(self, turn_id: int) -> ResponseRef | None:
        response = self.responses.get(turn_id)
        return response if response is not None and not response.is_finished else None

    @property
    def has_live_response(self) -> bool:
        return any(not response.is_finished for response in self.responses.values())
