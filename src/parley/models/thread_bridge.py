"""The one bridge from asyncio to blocking model code: a blocking iterator pulled one item per
thread hop, so that a cancelled consumer stops a model within one item."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
from collections.abc import AsyncGenerator, Iterator
from typing import TypeVar

T = TypeVar("T")

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


async def iterate_in_thread(
    iterator: Iterator[T], *, executor: concurrent.futures.Executor | None = None
) -> AsyncGenerator[T, None]:
    """Pull a blocking iterator one item per thread hop (on ``executor`` when given: a model
    that must always be called from one thread).

    When the consumer is cancelled, no further ``next()`` is issued, so a model generator stops
    within one item; the generator is then closed (its ``finally`` runs) off the event loop.
    """
    pool = executor or _bridge_pool
    in_flight: concurrent.futures.Future[object] | None = None
    try:
        while True:
            # In the caller's context, so that the model's log lines name its session.
            context = contextvars.copy_context()
            in_flight = pool.submit(context.run, _next_or_exhausted, iterator)
            item = await asyncio.wrap_future(in_flight)
            in_flight = None
            if item is _EXHAUSTED:
                return
            yield item  # type: ignore[misc]
    finally:
        # Shielded so that a second cancellation cannot skip releasing the model's resources.
        closing = pool.submit(_settle_then_close, in_flight, iterator)
        await asyncio.shield(asyncio.wrap_future(closing))


# Model streams get their own pool so that a few long generations cannot starve asyncio.to_thread.
_bridge_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=16, thread_name_prefix="parley-stream"
)
