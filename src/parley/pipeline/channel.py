"""The one streaming abstraction: bounded channels between asyncio tasks (the bridge to
blocking model code is ``models.thread_bridge``).

A ``Channel`` is a bounded queue that can be closed, so consumers simply ``async for`` over it
and stop when the producer is done. Each channel declares what happens when it is full:
``block`` applies back-pressure, ``drop_oldest`` keeps real-time input flowing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
OverflowPolicy = Literal["block", "drop_oldest"]


class ChannelClosed(Exception):
    """Raised by ``send`` on a closed channel."""


class Channel(Generic[T]):
    """A bounded, closable, single-loop queue of events."""

    def __init__(self, maxsize: int, *, overflow: OverflowPolicy = "block") -> None:
        if maxsize < 1:
            raise ValueError("a channel needs room for at least one item")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._overflow = overflow
        self._is_closed = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.dropped_count = 0

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    def __len__(self) -> int:
        return len(self._items)

    async def send(self, item: T) -> None:
        while True:
            if self._is_closed:
                raise ChannelClosed("send on a closed channel")
            if len(self._items) < self._maxsize:
                break
            if self._overflow == "drop_oldest":
                self._items.popleft()
                self.dropped_count += 1
                break
            self._writable.clear()
            await self._writable.wait()
        self._items.append(item)
        self._readable.set()

    async def taken(self) -> None:
        """Wait until the consumer has taken every item sent so far (it has then also run on to
        its next ``await``)."""
        while self._items and not self._is_closed:
            self._writable.clear()  # set again by each receive; a sender waits only when full
            await self._writable.wait()

    def close(self) -> None:
        """No more items will be sent; consumers drain what is left, then stop."""
        self._is_closed = True
        self._readable.set()
        self._writable.set()

    async def receive(self) -> T:
        """The next item; raises ``StopAsyncIteration`` once closed and drained."""
        while not self._items:
            if self._is_closed:
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        item = self._items.popleft()
        self._writable.set()
        return item

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        return await self.receive()
