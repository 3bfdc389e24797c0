"""The speculator's bookkeeping: a reply begun on a pause is held, dropped when the user goes
on, and handed to the end of the turn only when that end is the same pause. The transcriber
here is scripted (it returns given words): what is under test is what is done with them."""

from __future__ import annotations

import asyncio

import numpy as np

from parley.audio.frames import Int16Array
from parley.models.contracts import Transcript
from parley.pipeline.speculation import HeldReply, Speculator
from parley.pipeline.turn_figures import TurnMetrics

AUDIO = np.zeros(1_600, dtype=np.int16)


async def settled() -> None:
    """Let the transcript and the work waiting on it run (a few turns of the event loop)."""
    for _ in range(5):
        await asyncio.sleep(0)


class Scripted:
    def __init__(self, words: str, *, is_allowed: bool = True) -> None:
        self.words = words
        self.is_allowed = is_allowed
        self.started: list[tuple[str, HeldReply]] = []
        self.decodes = 0
        self.speculator = Speculator(
            self.transcribe, self.start_held, lambda _event: None, lambda _text: self.is_allowed
        )

    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        self.decodes += 1
        return Transcript(self.words, audio.size // 16, 1.0)

    def start_held(
        self, text: str, metrics: TurnMetrics, held: HeldReply, is_unclear: bool
    ) -> None:
        del metrics
        self.started.append((text, held))


async def test_a_pause_starts_a_held_reply_that_the_end_of_the_turn_takes() -> None:
    scripted = Scripted("what is the capital of france")
    scripted.speculator.on_pause(AUDIO, 1_000, None, spawn=asyncio.create_task)
    await settled()
    [(text, held)] = scripted.started
    assert text == "what is the capital of france" and not held.is_released
    taken = scripted.speculator.take(1_000)
    assert taken is not None and taken.held is held and not held.is_discarded


async def test_speech_after_the_pause_discards_the_held_reply() -> None:
    scripted = Scripted("what is the capital")
    scripted.speculator.on_pause(AUDIO, 1_000, None, spawn=asyncio.create_task)
    await settled()
    [(_text, held)] = scripted.started
    scripted.speculator.abandon()
    assert held.is_discarded
    assert scripted.speculator.take(1_000) is None


async def test_an_end_at_another_sample_does_not_take_an_older_pause() -> None:
    scripted = Scripted("what is the capital")
    scripted.speculator.on_pause(AUDIO, 1_000, None, spawn=asyncio.create_task)
    await settled()
    [(_text, held)] = scripted.started
    assert scripted.speculator.take(2_000) is None
    assert held.is_discarded


async def test_a_partial_that_heard_it_all_is_used_instead_of_a_new_decode() -> None:
    scripted = Scripted("ignored")
    partial = asyncio.create_task(asyncio.sleep(0, Transcript("from the partial", 100, 1.0)))
    scripted.speculator.on_pause(AUDIO, 1_000, partial, spawn=asyncio.create_task)
    await partial
    await settled()
    assert scripted.decodes == 0
    assert [text for text, _held in scripted.started] == ["from the partial"]


async def test_a_rough_partial_is_not_taken_for_the_pause_s_words() -> None:
    """A partial decoded more cheaply than a final (Whisper's hypotheses not weighed) heard it
    all: the pause decodes again, and the reply reads the pause's words."""
    scripted = Scripted("what is the largest mammal")
    rough = Transcript("what is the largest manual", 100, 1.0, is_rough=True)
    partial = asyncio.create_task(asyncio.sleep(0, rough))
    speculation = scripted.speculator.on_pause(AUDIO, 1_000, partial, spawn=asyncio.create_task)
    await partial
    await settled()
    assert scripted.decodes == 1
    assert [text for text, _held in scripted.started] == ["what is the largest mammal"]
    scripted.speculator.abandon()  # the speculation's own decode is dropped; the partial stays
    assert speculation.transcript.done() and not partial.cancelled()


async def test_no_reply_is_begun_early_when_it_is_not_allowed_now() -> None:
    scripted = Scripted("what is the capital", is_allowed=False)
    scripted.speculator.on_pause(AUDIO, 1_000, None, spawn=asyncio.create_task)
    await settled()
    assert scripted.started == []
    taken = scripted.speculator.take(1_000)
    assert taken is not None and taken.held is None  # its transcript still serves the end
    assert (await taken.transcript).text == "what is the capital"
