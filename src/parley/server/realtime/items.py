"""The conversation as the client sees it: item ids, what each stands for, the order they were
added in, the responses by turn and the function calls awaiting the client's output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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

    def add(self, item_id: str, kind: ItemKind, number: int) -> None:
        self._items[item_id] = (kind, number)

    def find(self, item_id: str) -> tuple[ItemKind, int] | None:
        return self._items.get(item_id)

    def remove(self, item_id: str) -> tuple[ItemKind, int] | None:
        return self._items.pop(item_id, None)

    def live_response(self, turn_id: int) -> ResponseRef | None:
        response = self.responses.get(turn_id)
        return response if response is not None and not response.is_finished else None

    @property
    def has_live_response(self) -> bool:
        return any(not response.is_finished for response in self.responses.values())
