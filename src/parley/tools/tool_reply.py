"""A reply that may call tools: the router decides, the chosen calls run in parallel, and their
answers are spoken in words, never as the calls or JSON they came back as."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from parley.memory.fact_voice import second_person, without_recalled_facts
from parley.models.contracts import ChatMessage, tool_exchange
from parley.tools.arguments import calls_for
from parley.tools.hub import BUILTIN_SERVER, ToolHub, ToolResult, ToolSpec
from parley.tools.router import ToolRouter
from parley.tools.speakable import NOTHING_REMEMBERED, speakable_result, spoken_answer

log = logging.getLogger(__name__)


class PlainReply:
    """The model's plain reply, read ahead freely while a tool is being chosen, then (``pace``)
    one token when one is asked for: a model left to read ahead would go on writing beside the
    voice's first piece, which then waits for the cores (a first piece voiced in 60-80 ms
    instead of 35)."""

    def __init__(self, stream: AsyncIterator[str]) -> None:
        self._deltas: asyncio.Queue[str | None] = asyncio.Queue()
        self._is_paced = False
        self._is_waiting = False  # paced, and no token is being written
        self._asked = asyncio.Event()
        self._pump = asyncio.create_task(self._read(stream))

    async def _read(self, stream: AsyncIterator[str]) -> None:
        try:
            async for delta in stream:
                self._deltas.put_nowait(delta)
                if self._is_paced:
                    self._is_waiting = True
                    await self._asked.wait()
                    self._asked.clear()
                    self._is_waiting = False
        finally:
            self._deltas.put_nowait(None)

    def pace(self) -> None:
        self._is_paced = True

    async def deltas(self) -> AsyncIterator[str]:
        while True:
            if self._deltas.empty() and self._is_waiting:
                self._asked.set()  # the next token is written now that it is wanted
            if (delta := await self._deltas.get()) is None:
                await self._pump  # its error, if it had one
                return
            yield delta

    async def stop(self) -> None:
        if not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


class ToolAwareReply:
    """The LLM for one turn, with a tool call first when the request needs one.

    If the tool has not answered within ``filler_after_ms`` the filler is spoken, so the user is
    not left in silence. Cancelling the stream (barge-in) cancels the tool call in flight.
    """

    def __init__(
        self,
        llm: Any,
        router: ToolRouter,
        hub: ToolHub,
        *,
        request: str,
        filler_text: str,
        filler_after_ms: int,
    ) -> None:
        self._llm = llm
        self._router = router
        self._hub = hub
        self._request = request
        self._filler_text = filler_text
        self._filler_after_s = filler_after_ms / 1000
        self.calls: list[ToolResult] = []
        # Choosing the tool and writing its arguments, before the call itself.
        self.decision_ms: float | None = None

    async def _call_chosen(
        self, tool: ToolSpec, similarity: float, started: float
    ) -> list[ToolResult]:
        import time

        arguments = await self._router.write_arguments(tool, self._request)
        self.decision_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("tool %s chosen (similarity %.2f) with %s", tool.name, similarity, arguments)
        # Independent calls run in parallel: one per value named ("in Tokyo and in Paris").
        calls = calls_for(tool, arguments, self._request)
        return list(await asyncio.gather(*(self._hub.call(tool.name, args) for args in calls)))

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        import time

        started = time.perf_counter()
        # The plain reply starts while the request is compared with the tools: most turns need
        # none, and they should not wait for the comparison. A tool turn stops it (within a
        # token) before the tool's arguments are written.
        plain = PlainReply(self._llm.stream(messages))
        try:
            chosen = await asyncio.to_thread(self._router.choose_tool, self._request)
            if chosen is None:
                plain.pace()
                async for delta in plain.deltas():
                    yield delta
                return
        finally:
            await plain.stop()
        work = asyncio.create_task(self._call_chosen(*chosen, started))
        try:
            done, _ = await asyncio.wait({work}, timeout=self._filler_after_s)
            if not done:
                # Choosing is quick; a slow start means a tool is running.
                yield self._filler_text + " "
            results = await work
        finally:
            if not work.done():
                work.cancel()
        self.calls.extend(results)
        is_builtin = chosen[0].server == BUILTIN_SERVER
        if is_builtin and _memory_was_empty(results) and _has_earlier_turns(messages):
            # Memory keeps only what the user asked it to; what they said in this conversation
            # ("My name is Alice." a turn ago) is in the prompt: the model answers from it.
            async for delta in self._llm.stream(messages):
                yield delta
            return
        said = [spoken_answer(r.name, r.text, is_builtin=is_builtin) for r in results]
        if results and not any(r.is_error for r in results) and all(said):
            # A time, a conversion, a fact kept, a goodbye: said as people say it, without the
            # model, which reads field names out or echoes the call.
            yield " ".join(s for s in said if s)
            return
        # The chat format's own record of a tool call: the assistant's call, then the tool's
        # answer with the tool role (a tool's text never speaks with the system's authority).
        exchange = tool_exchange(
            [
                (
                    result.name,
                    json.dumps(result.arguments),
                    ("Failed: " if result.is_error else "") + speakable_result(result.text),
                )
                for result in results
            ]
        )
        augmented = [*messages[:-1], without_recalled_facts(messages[-1]), *exchange]
        answers = [speakable_result(r.text) for r in results if not r.is_error]
        # Said as it is when the model echoes JSON: memory keeps facts about "the user".
        instead = " ".join(second_person(answer) for answer in answers)
        async for delta in unless_json(self._llm.stream(augmented), instead):
            yield delta


def _memory_was_empty(results: Sequence[ToolResult]) -> bool:
    return bool(results) and all(
        r.name == "search_memory" and r.text == NOTHING_REMEMBERED for r in results
    )


def _has_earlier_turns(messages: Sequence[ChatMessage]) -> bool:
    return any(m.role == "assistant" for m in messages)


async def unless_json(deltas: AsyncIterator[str], instead: str) -> AsyncIterator[str]:
    """The reply as it streams, unless it opens as JSON or code: after a tool's answer a small
    model often echoes the call (``{"name": "current_date_and_time", ...}``) instead of saying
    the answer, and JSON read aloud is noise. The tool's answer, made plain, is said instead."""
    opening = ""
    is_speech = False
    async for delta in deltas:
        if is_speech:
            yield delta
            continue
        opening += delta
        stripped = opening.lstrip()
        if not stripped:
            continue
        if stripped.startswith(("{", "[", "`")) and instead:
            log.info("the reply after the tool opened as JSON; the tool's answer is said instead")
            yield instead
            if (close := getattr(deltas, "aclose", None)) is not None:
                await close()  # stops the LLM
            return
        is_speech = True
        yield opening
