"""Parley as a Wyoming conversation agent (the ``handle`` program): a ``transcript`` in, Parley's
own reply out, clause by clause, from the same ``Runtime`` as every other transport (its LLM,
memory, tools and prompt), stored like any other conversation.

The client names its conversation in ``context.conversation_id`` (Home Assistant does). The
first time Parley sees a name it starts a conversation of its own for it; later transcripts with
the same name continue it, in the order they arrive. A name that is already a Parley
conversation id (from `parley conversations list`) continues that one. The names are kept in
memory: after a restart the same name starts a new conversation (what was said before is still
in the store, and its facts are still recalled).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled

from parley.audio.virtual_devices import CollectingSink
from parley.ops.metrics import ServerMetrics
from parley.pipeline.events import ListenerEvent, SentenceReady, TurnDone, TurnEvent
from parley.pipeline.runtime import Runtime
from parley.pipeline.session_options import SessionOptions

log = logging.getLogger(__name__)

MAX_NAMED_CONVERSATIONS = 1024

Write = Callable[[Event], Awaitable[None]]


class Agent:
    """Shared by every Wyoming connection of one server."""

    def __init__(self, runtime: Runtime, metrics: ServerMetrics) -> None:
        self._runtime = runtime
        self._metrics = metrics
        self._conversations: OrderedDict[str, str] = OrderedDict()  # client's name → Parley's id
        self._locks: dict[str, asyncio.Lock] = {}

    async def reply(self, text: str, context: dict[str, Any] | None, write: Write) -> float | None:
        """Answer ``text`` on the client's stream; the milliseconds to the first chunk, or None
        when it could not be answered (the client was told why with ``not-handled``)."""
        name = _conversation_name(context)
        if not text.strip():
            await write(NotHandled("I heard nothing to answer.", context=context).event())
            return None
        conversation_id = self._conversation_for(name)
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:  # one reply at a time per conversation, in arrival order
            return await self._reply(text.strip(), name, conversation_id, write)

    async def _reply(
        self, text: str, name: str | None, conversation_id: str, write: Write
    ) -> float | None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunks: asyncio.Queue[str | None] = asyncio.Queue()

        def observe(event: ListenerEvent | TurnEvent) -> None:
            match event:
                case SentenceReady(text=piece):
                    chunks.put_nowait(piece)
                case TurnDone(figures=figures, was_cancelled=was_cancelled):
                    self._metrics.observe_turn(figures, was_cancelled=was_cancelled)
                case _:
                    pass

        session = self._runtime.session(
            sink=CollectingSink(), conversation_id=conversation_id, observer=observe
        )
        session.options = SessionOptions(is_speaking=False)  # the client speaks it, if it likes
        context = {"conversation_id": name} if name is not None else {}
        await write(HandledStart(context=context).event())
        replying = session.respond(text).task
        replying.add_done_callback(lambda _task: chunks.put_nowait(None))
        first_chunk_ms: float | None = None
        try:
            spoken = 0
            while (piece := await chunks.get()) is not None:
                if first_chunk_ms is None:
                    first_chunk_ms = (loop.time() - started) * 1000
                await write(HandledChunk((" " if spoken else "") + piece).event())
                spoken += 1
            result = await replying
        except BaseException as error:
            replying.cancel()
            if isinstance(error, Exception):
                log.exception("the reply to %r failed", text)
                await write(
                    NotHandled(f"Parley could not answer: {error}", context=context).event()
                )
                return None
            raise
        await write(Handled(result.reply_text.strip(), context=context).event())
        await write(HandledStop().event())
        return first_chunk_ms

    def _conversation_for(self, name: str | None) -> str:
        store = self._runtime.store
        if name is None:
            return store.create_conversation()
        if (known := self._conversations.get(name)) is not None:
            self._conversations.move_to_end(name)
            return known
        conversation_id = name if store.has_conversation(name) else store.create_conversation()
        self._conversations[name] = conversation_id
        while len(self._conversations) > MAX_NAMED_CONVERSATIONS:
            _, forgotten = self._conversations.popitem(last=False)
            self._locks.pop(forgotten, None)
        return conversation_id


def _conversation_name(context: dict[str, Any] | None) -> str | None:
    value = (context or {}).get("conversation_id")
    return str(value)[:200] if value not in (None, "") else None
