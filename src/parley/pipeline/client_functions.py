"""Functions a realtime client offers and runs itself: when a turn should call one, and the
outputs the client sends back for the next reply.

Parley decides the call the way it decides its own tools (tools.router): by comparing the
request with each function's description, then having the LLM write the arguments under a JSON
grammar. The reply to such a turn is the call itself; the client answers with the output.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from parley.memory.fact_voice import without_recalled_facts
from parley.models.contracts import ChatMessage, LanguageModel, tool_exchange
from parley.models.loaded import Backends
from parley.pipeline.events import FunctionCallRequested, TurnDone, TurnEvent, TurnStarted
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.turn import TurnResult
from parley.pipeline.turn_figures import TurnFigures, TurnMetrics
from parley.tools.router import StaticTools, ToolChoice, ToolRouter
from parley.tools.speakable import speakable_result
from parley.tools.tool_reply import unless_json

# Writes the reply's row: its text, its figures and the calls it made.
StoreReply = Callable[[str, TurnFigures, list[Any]], Awaitable[None]]


class ClientFunctions:
    def __init__(self, backends: Backends) -> None:
        self._offered = StaticTools([])
        # One router for the conversation: each function's description is embedded once, not
        # at every turn.
        self._router = ToolRouter(
            self._offered,
            backends.embedder,
            backends.llm_capabilities.json_writer,
            threshold=backends.settings.mcp.route_threshold,
        )
        self._outputs: list[tuple[str, str, str]] = []  # name, arguments JSON, output

    def add_output(self, name: str, output: str, *, arguments: str = "{}") -> None:
        """A client's result for a function call; used by the next reply."""
        self._outputs.append((name, arguments, output))

    @property
    def has_outputs(self) -> bool:
        return bool(self._outputs)

    def with_outputs(self, messages: Sequence[ChatMessage]) -> tuple[list[ChatMessage], str]:
        """The prompt with the client's outputs after the request that asked for them (each
        output used once), and the outputs made plain. The facts recalled for the request are
        dropped: the output answers it."""
        outputs, self._outputs = self._outputs, []
        plain = [(name, arguments, speakable_result(output)) for name, arguments, output in outputs]
        exchange = tool_exchange(plain)
        answers = " ".join(answer for _name, _arguments, answer in plain)
        return [*messages[:-1], without_recalled_facts(messages[-1]), *exchange], answers

    async def plan(self, request: str, options: SessionOptions) -> ToolChoice | None:
        """The client function this request calls, with its arguments, or None."""
        tools = list(options.client_tools)
        choice = options.client_tool_choice
        if not tools or choice == "none":
            return None
        self._offered.replace(tools)
        if choice == "auto":
            return await self._router.decide(request)
        if choice == "required":
            return await self._router.decide(request, threshold=0.0)
        chosen = next((tool for tool in tools if tool.name == choice), None)
        if chosen is None:
            return None
        return ToolChoice(chosen, await self._router.write_arguments(chosen, request), 1.0)

    async def request_call(
        self,
        turn_id: int,
        request: str,
        call: ToolChoice,
        metrics: TurnMetrics,
        observer: Callable[[TurnEvent], None],
        store_reply: StoreReply,
    ) -> TurnResult:
        """The turn's reply is the call: asked of the client, and stored as the assistant's."""
        now_ns = time.perf_counter_ns()
        observer(TurnStarted(turn_id, request, now_ns, kind="function_call"))
        arguments = json.dumps(call.arguments)
        call_id = "call_" + uuid.uuid4().hex[:20]
        observer(FunctionCallRequested(turn_id, call_id, call.tool.name, arguments, now_ns))
        metrics.done_t_ns = time.perf_counter_ns()
        observer(TurnDone(turn_id, False, "", metrics.figures(), metrics.done_t_ns))
        tool_calls = [
            {
                "name": call.tool.name,
                "arguments": call.arguments,
                "call_id": call_id,
                "by": "client",
            }
        ]
        result = TurnResult(turn_id, request, "", "", False, metrics.figures(), tool_calls)
        await store_reply("", result.figures, tool_calls)
        return result


class AnsweredFromOutputs:
    """The reply to a client function's output: the model's words, unless it opens by echoing
    the call as JSON (a 0.5B model often does, ``{"name": "get_weather", ...}``); then the
    output itself, made plain, is said instead."""

    def __init__(self, llm: LanguageModel, answers: str) -> None:
        self._llm = llm
        self._answers = answers

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        async for delta in unless_json(self._llm.stream(messages), self._answers):
            yield delta
