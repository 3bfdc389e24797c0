"""Deciding, outside the model, whether a turn needs a tool, and with what arguments.

The small default model over-calls tools when offered them freely and echoes calls instead of
answering, so Parley decides first: the request is compared with each tool's description by
embedding (the same vectors memory uses, ~20 ms), and only a request close enough to one tool
goes on to have that tool's arguments written by the LLM under a JSON grammar. A turn without a
tool pays for the comparison and nothing else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from parley.config.settings import McpConfig, Settings
from parley.memory.fact_voice import without_recalled_facts
from parley.models.contracts import ChatMessage, JsonWriter, tool_exchange
from parley.models.embedding import MiniLmEmbedder
from parley.tools.hub import ToolHub, ToolResult, ToolSpec
from parley.tools.speakable import speakable_result

if TYPE_CHECKING:
    from parley.memory.store import ConversationStore
    from parley.models.loaded import Backends

log = logging.getLogger(__name__)


class ToolSource(Protocol):
    def tools(self) -> list[ToolSpec]: ...


class StaticTools:
    """A fixed list of tools (the functions a realtime client offers)."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self._tools = tools

    def tools(self) -> list[ToolSpec]:
        return list(self._tools)


@dataclass(frozen=True, slots=True)
class ToolChoice:
    tool: ToolSpec
    arguments: dict[str, Any]
    similarity: float


class ToolRouter:
    def __init__(
        self,
        hub: ToolSource,
        embedder: MiniLmEmbedder | None,
        writer: JsonWriter | None,
        *,
        threshold: float,
    ) -> None:
        self._hub = hub
        self._embedder = embedder
        self._writer = writer
        self._threshold = threshold
        self._tool_vectors: dict[tuple[str, str, str], np.ndarray] = {}

    def _vector(self, tool: ToolSpec) -> np.ndarray | None:
        if self._embedder is None:
            return None
        key = (tool.server, tool.name, tool.description)
        if key not in self._tool_vectors:
            self._tool_vectors[key] = self._embedder.embed(
                f"{tool.name.replace('_', ' ')}: {tool.description}"
            )
        return self._tool_vectors[key]

    def rank(self, request: str) -> list[tuple[ToolSpec, float]]:
        """Every available tool with its similarity to the request, best first."""
        tools = self._hub.tools()
        if not tools or self._embedder is None:
            return []
        query = self._embedder.embed(request)
        scored = [
            (tool, float(query @ vector))
            for tool in tools
            if (vector := self._vector(tool)) is not None
        ]
        return sorted(scored, key=lambda pair: pair[1], reverse=True)

    def choose_tool(self, request: str) -> tuple[ToolSpec, float] | None:
        ranked = self.rank(request)
        if not ranked or ranked[0][1] < self._threshold:
            return None
        return ranked[0]

    async def decide(self, request: str) -> ToolChoice | None:
        import asyncio

        chosen = await asyncio.to_thread(self.choose_tool, request)
        if chosen is None:
            return None
        tool, similarity = chosen
        return ToolChoice(tool, await self.write_arguments(tool, request), similarity)

    async def write_arguments(self, tool: ToolSpec, request: str) -> dict[str, Any]:
        schema = _argument_schema(tool.input_schema)
        if not schema["properties"]:
            return {}
        if not schema["required"] or self._writer is None:
            # Nothing the tool must have: take what the request names, skip the LLM's ~0.6 s.
            return time_zones_from_request({}, schema, request)
        fields = "; ".join(
            f"{name}: {spec.get('description', spec.get('type', ''))}"
            for name, spec in schema["properties"].items()
        )
        messages = [
            ChatMessage(
                "system",
                f"Write the JSON arguments of the tool {tool.name} ({tool.description}) for the "
                f"user's request. Fields: {fields}",
            ),
            ChatMessage("user", request),
        ]
        try:
            arguments = await self._writer.complete_json(messages, schema)
        except Exception as error:  # the tool then reports what it missed; the turn goes on
            log.warning("could not write arguments for %s: %s", tool.name, error)
            arguments = {}
        return time_zones_from_request(arguments, schema, request)


def calls_for(tool: ToolSpec, arguments: dict[str, Any], request: str) -> list[dict[str, Any]]:
    """One call per value when the request names several for one argument ("in Tokyo and in
    Paris", "in celsius and fahrenheit"), else the one call. The same rule for every tool: the
    values an argument can take are found in the request by the argument's kind (its enum, or
    a time zone's city), and only an argument with several named values is fanned out."""
    schema = _argument_schema(tool.input_schema)
    several = [
        (name, values)
        for name, spec in schema["properties"].items()
        if len(values := _named_values(name, spec, request)) >= 2
    ]
    if len(several) != 1:
        return [arguments]  # none, or several arguments named twice (a from/to pair): one call
    name, values = several[0]
    return [{**arguments, name: value} for value in values]


def _named_values(name: str, spec: dict[str, Any], request: str) -> list[str]:
    """The values of one argument that the request names, in the order named."""
    if isinstance(enum := spec.get("enum"), list):
        lowered = request.lower()
        named = [(lowered.find(str(v).lower()), str(v)) for v in enum if str(v).lower() in lowered]
        return [value for _position, value in sorted(named)]
    if _is_time_zone_field(name):
        return named_time_zones(request)
    return []


def _is_time_zone_field(name: str) -> bool:
    lowered = name.lower()
    return "timezone" in lowered or "time_zone" in lowered


def time_zones_from_request(
    arguments: dict[str, Any], schema: dict[str, Any], request: str
) -> dict[str, Any]:
    """Time-zone arguments the LLM left out or got wrong, taken from the cities the user named.

    The small model knows "Tokyo" is Asia/Tokyo but not that Paris is Europe/Paris; the IANA
    database itself does, and it is exact. A valid zone the LLM wrote is kept.
    """
    from zoneinfo import available_timezones

    fields = [name for name in schema["properties"] if _is_time_zone_field(name)]
    if not fields:
        return arguments
    zones = named_time_zones(request)
    if not zones:
        # None named: leave optional zone fields out, so a tool uses its own local time.
        optional = [name for name in fields if name not in schema["required"]]
        return {key: value for key, value in arguments.items() if key not in optional}
    valid = available_timezones()
    repaired = dict(arguments)
    unused = [zone for zone in zones if zone not in repaired.values()]
    for name in fields:
        if repaired.get(name) not in valid and unused:
            repaired[name] = unused.pop(0)
    return repaired


def named_time_zones(text: str) -> list[str]:
    """IANA zones whose city is named in ``text``, in the order they appear."""
    from zoneinfo import available_timezones

    lowered = text.lower()
    found: list[tuple[int, str]] = []
    for zone in available_timezones():
        if "/" not in zone or zone.startswith(("Etc/", "SystemV/", "US/")):
            continue
        city = zone.rsplit("/", 1)[1].replace("_", " ").lower()
        position = lowered.find(city)
        if position >= 0 and len(city) > 3 and not any(z == zone for _, z in found):
            found.append((position, zone))
    found.sort()
    unique: list[str] = []
    for _, zone in found:
        if zone not in unique:
            unique.append(zone)
    return unique


def _argument_schema(input_schema: dict[str, Any]) -> dict[str, Any]:
    properties = {
        name: {key: value for key, value in spec.items() if key in {"type", "description", "enum"}}
        for name, spec in (input_schema.get("properties") or {}).items()
        if isinstance(spec, dict)
    }
    for spec in properties.values():
        spec.setdefault("type", "string")
    return {
        "type": "object",
        "properties": properties,
        "required": list(input_schema.get("required") or []),
    }


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
        import asyncio
        import time

        arguments = await self._router.write_arguments(tool, self._request)
        self.decision_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("tool %s chosen (similarity %.2f) with %s", tool.name, similarity, arguments)
        # Independent calls run in parallel: one per value named ("in Tokyo and in Paris").
        calls = calls_for(tool, arguments, self._request)
        return list(await asyncio.gather(*(self._hub.call(tool.name, args) for args in calls)))

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        import asyncio
        import contextlib
        import time

        started = time.perf_counter()
        plain: asyncio.Queue[str | None] = asyncio.Queue()

        async def pump_plain_reply() -> None:
            try:
                async for delta in self._llm.stream(messages):
                    plain.put_nowait(delta)
            finally:
                plain.put_nowait(None)

        # The plain reply starts while the request is compared with the tools: most turns need
        # none, and they should not wait for the comparison. A tool turn stops it (within a
        # token) before the tool's arguments are written.
        pumping = asyncio.create_task(pump_plain_reply())
        try:
            chosen = await asyncio.to_thread(self._router.choose_tool, self._request)
            if chosen is None:
                while (delta := await plain.get()) is not None:
                    yield delta
                await pumping  # its error, if it had one
                return
        finally:
            if not pumping.done():
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
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
        async for delta in _unless_json(self._llm.stream(augmented), " ".join(answers)):
            yield delta


async def _unless_json(deltas: AsyncIterator[str], instead: str) -> AsyncIterator[str]:
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


@dataclass
class Toolbox:
    """The running tool servers and the router in front of them, shared by every session."""

    hub: ToolHub
    router: ToolRouter
    filler_text: str
    filler_after_ms: int

    @classmethod
    async def start(
        cls,
        config: McpConfig,
        *,
        memory: Any,
        embedder: MiniLmEmbedder | None,
        writer: JsonWriter | None,
    ) -> Toolbox:
        from parley.tools.builtin import make_builtin_server

        builtin = make_builtin_server(memory) if config.builtin_tools else None
        hub = ToolHub(config, builtin=builtin)
        await hub.start()
        router = ToolRouter(hub, embedder, writer, threshold=config.route_threshold)
        return cls(hub, router, config.filler_text, config.filler_after_ms)

    def reply_for(self, llm: Any, request: str) -> ToolAwareReply:
        return ToolAwareReply(
            llm,
            self.router,
            self.hub,
            request=request,
            filler_text=self.filler_text,
            filler_after_ms=self.filler_after_ms,
        )

    async def close(self) -> None:
        await self.hub.close()


async def start_user_toolbox(
    settings: Settings, backends: Backends, store: ConversationStore
) -> Toolbox:
    """The tools a user's turns get (configured MCP servers and the built-in ones, with memory):
    `talk`, `chat`, `serve` and `bench` all start them this way, so they run one pipeline."""
    from parley.memory.recall import MemoryRecall

    memory = MemoryRecall(store, backends.embedder) if settings.memory.is_enabled else None
    return await Toolbox.start(
        settings.mcp,
        memory=memory,
        embedder=backends.embedder,
        writer=backends.llm_capabilities.json_writer,
    )
