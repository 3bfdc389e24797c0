"""Which of some tools a request calls, or none: a softmax regression over sentence vectors.

Nearest-example matching is led by topic words ("the best time of year to visit Japan" lies
near "what time is it in Rome"); a linear model fitted to the tools' own examples and to
requests that need no tool learns which directions of the vector say "now", "me" or "bye"
and which only say the topic. It is fitted in a few tens of milliseconds whenever the offered
tools change, and applying it costs one matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parley.tools.hub import ToolSpec

# Requests that use the words tools are described with ("time", "remember", "stop", "goodbye")
# but ask for knowledge, words or advice, and everyday requests that need no tool at all.
# Written apart from the labelled set tool choice is measured on (bench.tool_requests).
NEEDS_NO_TOOL = (
    "how do you say thank you in German",
    "translate see you later into Spanish",
    "write a song about farewells",
    "what's another word for goodbye",
    "why are farewells hard",
    "how can I stop snoring",
    "stop, tell me something else",
    "stop, what about Mars instead",
    "how do I stop my baby crying",
    "at which station does the train stop",
    "tell me about the history of clocks",
    "how long does it take to bake bread",
    "what is time made of",
    "what was life like at the time of the Romans",
    "what happened in the year 1066",
    "when was the moon landing",
    "what is daylight saving time",
    "how do time zones work",
    "the best tips to remember things",
    "why do people forget things as they get older",
    "what is a memory leak",
    "how does human memory work",
    "this place reminds me of home",
    "what does a full moon remind you of",
    "is it a good idea to learn a new language",
    "when is Christmas",
    "what date is Halloween this year",
    "what's the best month to visit Greece",
    "hi there",
    "how's it going",
    "thank you so much",
    "that's great, thanks",
    "what's your name",
    "who made you",
    "tell me a story",
    "give me an idea for a gift",
    "suggest a name for my new puppy",
    "what should I cook tonight",
    "how do I make an omelette",
    "who painted the Mona Lisa",
    "what is the biggest ocean",
    "how many people live in China",
    "what's the meaning of life",
    "why do cats purr",
    "explain photosynthesis simply",
    "what's the square root of eighty one",
    "can you recommend a film",
    "what is the tallest building in the world",
    "what's the history of the hourglass",
    "how do I get better at waking up early",
    "why are alarm clocks so loud",
    "what's the best time to go to sleep",
    "how long should bread dough rise",
    "is a digital clock better than an analogue one",
    "how does a microwave oven work",
    "how does a thermostat work",
    "write a haiku about autumn",
    "compose a limerick about a sleepy cat",
    "say good morning in Italian",
    "how do you greet someone in Korean",
    "on what date is Independence Day in America",
)

_FIT_STEPS = 600
_STEP_SIZE = 2.0
_WEIGHT_DECAY = 1e-3

# float32 sentence vectors in; float64 weights out of the fit.
Vector = np.ndarray


def tool_texts(tool: ToolSpec) -> list[str]:
    """What a tool is known by: its name and description, then its examples."""
    return [f"{tool.name.replace('_', ' ')}: {tool.description}", *tool.examples]


class RequestClassifier:
    """Scores for each of ``tools`` and, last, for no tool."""

    def __init__(
        self,
        tools: Sequence[ToolSpec],
        tool_vectors: Sequence[Vector],
        no_tool_vectors: Vector,
    ) -> None:
        """``tool_vectors[i]`` has one row per text of ``tools[i]`` (tool_texts)."""
        self.tools = list(tools)
        self._tool_vectors = list(tool_vectors)
        self._no_tool_vectors = no_tool_vectors
        rows = np.concatenate([*self._tool_vectors, no_tool_vectors])
        labels = np.concatenate(
            [np.full(len(v), i) for i, v in enumerate([*self._tool_vectors, no_tool_vectors])]
        )
        self._weights, self._bias = _fit_softmax(rows, labels, len(self.tools) + 1)

    def scores(self, query: Vector) -> Vector:
        """One logit per tool, then one for no tool."""
        result: Vector = query @ self._weights + self._bias
        return result

    def similarity(self, query: Vector, index: int) -> float:
        """The cosine of the request to the nearest text of ``tools[index]``."""
        return float(np.max(self._tool_vectors[index] @ query))

    def nearest_without_examples(self, query: Vector, minimum: float) -> int | None:
        """The tool without examples (a realtime client's function, a server that lists none)
        whose description is nearest the request, if at least ``minimum`` alike and nearer
        than every request that needs no tool. One description among dozens of other rows
        never wins the regression, so these are matched by nearness instead."""
        floor = max(minimum, float(np.max(self._no_tool_vectors @ query)))
        nearest = [
            (self.similarity(query, index), index)
            for index, tool in enumerate(self.tools)
            if not tool.examples
        ]
        best = max(nearest, default=None)
        return best[1] if best is not None and best[0] > floor else None


def _fit_softmax(rows: Vector, labels: Vector, classes: int) -> tuple[Vector, Vector]:
    """Multinomial logistic regression by gradient descent, each class weighted equally
    whatever its number of rows (a tool with one description against dozens of no-tool rows)."""
    weights = np.zeros((rows.shape[1], classes))
    bias = np.zeros(classes)
    targets = np.eye(classes)[labels]
    counts = np.bincount(labels, minlength=classes)
    row_weights = (len(labels) / (classes * counts))[labels][:, None] / len(labels)
    for _ in range(_FIT_STEPS):
        logits = rows @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        chances = np.exp(logits)
        chances /= chances.sum(axis=1, keepdims=True)
        gradient = (chances - targets) * row_weights
        weights -= _STEP_SIZE * (rows.T @ gradient + _WEIGHT_DECAY * weights)
        bias -= _STEP_SIZE * gradient.sum(axis=0)
    return weights, bias
