"""Fakes of the model Protocols for the unit tests, named as fakes: what is under test is what
the pipeline does with a model's output, not the model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from parley.audio.frames import Int16Array
from parley.models.contracts import Transcript

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

    async def transcribe(self, audio: Int16Array) -> Transcript:
        raise AssertionError("no speech is heard in these tests")
