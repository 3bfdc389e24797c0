"""Fakes of the model Protocols for the unit tests, named as fakes: what is under test is what
the pipeline does with a model's output, not the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np

from parley.audio.frames import Int16Array
from parley.models.contracts import ChatMessage, Transcript

RATE = 16_000


class FakeToneVoice:
    """Stands in for Piper: a tenth of a second of tone per word."""

    sample_rate_hz = RATE

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        del speed
        for _word in text.split():
            yield (np.sin(np.arange(RATE // 10) / 8) * 8_000).astype(np.int16)


class FakeDeafStt:
    """Stands in for Whisper where no speech is heard: replies take text."""

    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        raise AssertionError("no speech is heard in these tests")


class FakeHeldLlm:
    """Stands in for the LLM: each reply's words wait for the test's ``go`` (set at once
    when not ``is_held``), so "a reply still being written" is a state a test holds."""

    def __init__(self, words: str, *, is_held: bool = True) -> None:
        self.words = words
        self.asked = asyncio.Event()
        self.go = asyncio.Event()
        if not is_held:
            self.go.set()

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        del messages
        self.asked.set()
        await self.go.wait()
        for word in self.words.split(" "):
            yield word + " "
