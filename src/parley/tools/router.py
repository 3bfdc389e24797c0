"""Deciding, outside the model, whether a turn needs a tool, and with what arguments.

The small default model over-calls tools when offered them freely and echoes calls instead of
answering, so Parley decides first: the request is compared with each tool's description by
embedding (the same vectors memory uses, ~20 ms), and only a request close enough to one tool
goes on to have that tool's arguments written by the LLM under a JSON grammar. A turn without a
tool pays for the comparison and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from parley.models.contracts import ChatMessage, JsonWriter
from parley.models.embedding import MiniLmEmbedder
from parley.tools.arguments import argument_schema, time_zones_from_request
from parley.tools.hub import ToolSpec

log = logging.getLogger(__name__)


class ToolSource(Protocol):
    def tools(self) -> list[ToolSpec]: ...


class StaticTools:
    """A fixed list of tools (the functions a realtime client offers)."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self._tools = tools

    def tools(self) -> list[ToolSpec]:
        return list(self._tools)

    def replace(self, tools: list[ToolSpec]) -> None:
        """Offer these instead (a client's new session.update); known vectors are kept."""
        self._tools = tools


_ASKING_WORDS = frozenset(
    [
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "will",
        "is",
        "are",
        "was",
        "were",
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "have",
        "has",
    ]
)


def is_question(request: str) -> bool:
    """Whether a request asks rather than tells: it ends with a question mark, or opens the way
    a question does (Whisper leaves some questions without their mark)."""
    words = request.strip().lower().split()
    return request.rstrip().endswith("?") or (bool(words) and words[0] in _ASKING_WORDS)


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
        """Every tool the request may call, with its similarity to the request, best first. A
        question only asks: it never calls a tool that says it changes something ("Do you
        remember my name?" is a search, not a fact to store)."""
        tools = self._hub.tools()
        if is_question(request):
            tools = [tool for tool in tools if not tool.is_writing]
        if not tools or self._embedder is None:
            return []
        query = self._embedder.embed(request)
        scored = [
            (tool, float(query @ vector))
            for tool in tools
            if (vector := self._vector(tool)) is not None
        ]
        return sorted(scored, key=lambda pair: pair[1], reverse=True)

    def choose_tool(
        self, request: str, *, threshold: float | None = None
    ) -> tuple[ToolSpec, float] | None:
        ranked = self.rank(request)
        if not ranked or ranked[0][1] < (self._threshold if threshold is None else threshold):
            return None
        return ranked[0]

    async def decide(self, request: str, *, threshold: float | None = None) -> ToolChoice | None:
        """The tool this request calls (at least ``threshold`` alike, the router's own when
        None) with its arguments, or None."""
        chosen = await asyncio.to_thread(self.choose_tool, request, threshold=threshold)
        if chosen is None:
            return None
        tool, similarity = chosen
        return ToolChoice(tool, await self.write_arguments(tool, request), similarity)

    async def write_arguments(self, tool: ToolSpec, request: str) -> dict[str, Any]:
        schema = argument_schema(tool.input_schema)
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
