"""The one streaming abstraction: bounded channels between asyncio tasks, and the bridge to
blocking model code.

A ``Channel`` is a bounded queue that can be closed, so consumers simply ``async for`` over it
and stop when the producer is done. Each channel declares what happens when it is full:
``block`` applies back-pressure, ``drop_oldest`` keeps real-time input flowing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
from collections import deque
from collections.abc import AsyncIterator, Iterator
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


_EXHAUSTED = object()


def _next_or_exhausted(iterator: Iterator[T]) -> T | object:
    # StopIteration cannot cross a Future boundary, so it is turned into a sentinel here.
    try:
        return next(iterator)
    except StopIteration:
        return _EXHAUSTED


def _settle_then_close(
    in_flight: concurrent.futures.Future[object] | None, iterator: object
) -> None:
    # A generator cannot be closed while another thread is inside next(); wait for that item.
    if in_flight is not None:
        with contextlib.suppress(BaseException):
            in_flight.result()
    close = getattr(iterator, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


async def iterate_in_thread(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Pull a blocking iterator one item per thread hop.

    When the consumer is cancelled, no further ``next()`` is issued, so a model generator stops
    within one item; the generator is then closed (its ``finally`` runs) off the event loop.
    """
    in_flight: concurrent.futures.Future[object] | None = None
    try:
        while True:
            # In the caller's context, so that the model's log lines name its session.
            context = contextvars.copy_context()
            in_flight = _bridge_pool.submit(context.run, _next_or_exhausted, iterator)
            item = await asyncio.wrap_future(in_flight)
            in_flight = None
            if item is _EXHAUSTED:
                return
            yield item  # type: ignore[misc]
    finally:
        # Shielded so that a second cancellation cannot skip releasing the model's resources.
        await asyncio.shield(asyncio.to_thread(_settle_then_close, in_flight, iterator))


# Model streams get their own pool so that a few long generations cannot starve asyncio.to_thread.
_bridge_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=16, thread_name_prefix="parley-stream"
)
