"""Deciding, outside the model, whether a turn needs a tool, and with what arguments.

The small default model over-calls tools when offered them freely and echoes calls instead of
answering, so Parley decides first: the request's sentence vector (the one memory uses, a few ms) goes
through a classifier fitted to each tool's description and examples and to requests that need
no tool (tools.request_classifier), and only a request it gives to a tool goes on to have that
tool's arguments written by the LLM under a JSON grammar. A turn without a tool pays for the
vector and nothing else. `parley eval` measures the choice on a labelled set.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from parley.memory.facts import fact_asked_to_keep
from parley.models.contracts import ChatMessage, JsonWriter
from parley.models.embedding import MiniLmEmbedder
from parley.tools.arguments import (
    REQUEST_ARGUMENT,
    argument_schema,
    fitting_tool,
    time_zones_from_request,
)
from parley.tools.hub import BUILTIN_SERVER, END_CONVERSATION_TOOL, REMEMBER_TOOL, ToolSpec
from parley.tools.request_classifier import NEEDS_NO_TOOL, RequestClassifier, tool_texts

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


# "Can you set a timer…?", "Could you please remind me…?": asked as a question, meant as a
# request to do something.
_POLITE_REQUEST = re.compile(
    r"^(?:(?:can|could|would|will) you|would you mind)\s+(?:please\s+)?(?!remember\b|recall\b|"
    r"tell me\b|know\b|say\b|explain\b|name\b)[a-z]+",
    re.IGNORECASE,
)


# Questions that ask what something is, how or why it works, or how many of a thing there are
# ("What is a time zone?", "How does a kitchen timer work?", "How many days are there in a
# week?"): knowledge the model has, never a tool's to give, unless they are about the user's
# own things or what is left of a time.
_ASKS_FOR_KNOWLEDGE = re.compile(
    r"^(?:what (?:is|are) (?:a|an)\b|how (?:does|do) (?:a|an|the)?\b.*\bwork\b|why (?:do|does|is|are)\b"
    r"|explain\b|how many \w+ (?:are there in|are in|does|do|has|have)\b(?!.*\b(?:left|until|till|ago)\b)"
    # The calendar's order, not today's date: "Which month comes after April?", "What day
    # comes before Friday?", "What is the day after Saturday?" (but "the day after tomorrow" is
    # a date), "What is the first month of the year?".
    r"|(?:which|what) (?:is |was )?(?:the )?(?:month|day|season|year)s? (?:(?:comes?|is|falls?) )?"
    r"(?:after|before) (?!(?:tomorrow|today|yesterday|next|this|that)\b)"
    r"|(?:which|what) comes? (?:after|before) (?!(?:tomorrow|today|yesterday|next|this|that)\b)"
    r"|(?:which|what) (?:is )?the (?:first|last|second|third) (?:month|day|season)\b)",
    re.IGNORECASE,
)
_ABOUT_THE_USER = re.compile(r"\b(?:my|me|i|mine|i'm|i've)\b", re.IGNORECASE)


def asks_for_knowledge(request: str) -> bool:
    stripped = request.strip()
    return bool(_ASKS_FOR_KNOWLEDGE.match(stripped)) and not _ABOUT_THE_USER.search(stripped)


def is_question(request: str) -> bool:
    """Whether a request asks rather than tells: it ends with a question mark, or opens the way
    a question does (Whisper leaves some questions without their mark). A polite request ("Can
    you set a timer?") tells."""
    stripped = request.strip()
    if _POLITE_REQUEST.match(stripped):
        return False
    words = stripped.lower().split()
    return stripped.endswith("?") or (bool(words) and words[0] in _ASKING_WORDS)


def _is_keeping_a_fact(tool: ToolSpec) -> bool:
    return tool.server == BUILTIN_SERVER and tool.name == REMEMBER_TOOL


def _is_saying_goodbye(tool: ToolSpec) -> bool:
    return tool.server == BUILTIN_SERVER and tool.name == END_CONVERSATION_TOOL


# A question that asks what, why or how is never a goodbye, however its words sound ("What
# should I do if I come out here?" was once heard near "gotta run, see ya").
_ASKS_WHAT_OR_HOW = re.compile(r"^(?:what|why|how|who|whom|whose|which|where|when)\b", re.I)


def _asks_to_keep_a_fact(request: str) -> bool:
    sentences = re.split(r"(?<=[.!?])\s+", request.strip())
    return any(
        fact_asked_to_keep(sentence, before) is not None
        for before, sentence in zip([None, *sentences], sentences, strict=False)
    )


@functools.lru_cache(maxsize=4)
def _no_tool_vectors(embedder: MiniLmEmbedder) -> np.ndarray:
    """Every router of the process shares these (a realtime session's functions get a router
    of their own)."""
    return np.stack([embedder.embed_fixed(text) for text in NEEDS_NO_TOOL])


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
        # Fitted for the tools last offered; refitted when they change.
        self._classifier: RequestClassifier | None = None

    def _classifier_for(self, tools: list[ToolSpec]) -> RequestClassifier:
        assert self._embedder is not None
        if self._classifier is None or self._classifier.tools != tools:
            embed = self._embedder.embed_fixed
            self._classifier = RequestClassifier(
                tools,
                [np.stack([embed(text) for text in tool_texts(tool)]) for tool in tools],
                _no_tool_vectors(self._embedder),
            )
        return self._classifier

    def warm(self) -> None:
        """Fit the choice to the tools offered now, so the first turn does not wait for it."""
        if self._embedder is not None and (offered := self._hub.tools()):
            self._classifier_for(offered)
            self._embedder.keep_fixed()

    def choose_tool(
        self, request: str, *, threshold: float | None = None
    ) -> tuple[ToolSpec, float] | None:
        """The tool the request calls, with its similarity to the nearest of the tool's
        texts, or None. A threshold of 0 means a tool is required: the best is taken even
        where no tool would be. A question only asks: it never calls a tool that says it
        changes something ("Do you remember my name?" is a search, not a fact to store)."""
        offered = self._hub.tools()
        if self._embedder is None or not offered:
            return None
        minimum = self._threshold if threshold is None else threshold
        if minimum > 0 and asks_for_knowledge(request):
            return None
        classifier = self._classifier_for(offered)
        query = self._embedder.embed(request)
        scores = classifier.scores(query)
        asks = is_question(request)
        for index, tool in enumerate(offered):
            if asks and tool.is_writing:
                scores[index] = -np.inf
        if minimum <= 0:
            scores[len(offered)] = -np.inf  # the "no tool" class
        best = int(np.argmax(scores))
        if best == len(offered) or not np.isfinite(scores[best]):
            nearest = classifier.nearest_without_examples(query, minimum)
            if nearest is None or (asks and offered[nearest].is_writing):
                return None
            best = nearest
        similarity = classifier.similarity(query, best)
        if similarity < minimum:
            return None
        if _is_saying_goodbye(offered[best]) and _ASKS_WHAT_OR_HOW.match(request.strip()):
            return None
        if _is_keeping_a_fact(offered[best]) and not _asks_to_keep_a_fact(request):
            # Nothing is stored that the user did not ask to keep: a statement, or a misheard
            # question that only sounds like one, is answered, not remembered.
            return None
        return fitting_tool(offered[best], offered, request), similarity

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
        if REQUEST_ARGUMENT in schema["properties"] and set(schema["required"]) <= {
            REQUEST_ARGUMENT
        }:
            # A tool that reads the user's words itself (timers): given them as they are.
            return {REQUEST_ARGUMENT: request}
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
