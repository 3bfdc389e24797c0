"""Parley's instructions are never said: a piece of a reply that repeats them is withheld from
the voice, the transcript and the stored reply, and a reply that was nothing else asks again.
The LLM here is scripted (a fake of the Protocol), as a small model answered a misheard question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from parley.audio.virtual_devices import CollectingSink
from parley.config.backend_sections import LlamaCppConfig
from parley.models.contracts import ChatMessage
from parley.pipeline.events import SentenceReady, TextDelta, TurnEvent
from parley.pipeline.internal_words import ASK_AGAIN, InternalWords, without_piece
from parley.pipeline.turn import TurnScope
from parley.pipeline.turn_figures import TurnMetrics
from tests.unit.fakes import RATE, FakeToneVoice

SYSTEM_PROMPT = LlamaCppConfig().system_prompt


def test_the_instructions_are_internal_and_the_persona_and_the_users_words_are_not() -> None:
    internal = InternalWords(
        [SYSTEM_PROMPT], said_by_user=["Please answer in short sentences of plain speech."]
    )
    assert internal.is_internal("No lists, no markdown, no emoji.")
    assert internal.is_internal("Your words are spoken aloud, so I answer briefly.")
    assert internal.is_internal("and write numbers and symbols as words")
    # Who Parley is may be said; what the user said may be said back.
    assert not internal.is_internal("I'm Parley, a friendly voice assistant.")
    assert not internal.is_internal("Sure: short sentences of plain speech it is.")
    assert not internal.is_internal("The capital of France is Paris.")
    assert not internal.is_internal("Two plus two is four.")


class FakeScriptedLlm:
    """Stands in for the LLM: says the given words, token by token."""

    def __init__(self, words: str) -> None:
        self._words = words

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        del messages
        for word in self._words.split(" "):
            await asyncio.sleep(0)
            yield word + " "


async def _reply(words: str) -> tuple[TurnScope, list[TurnEvent]]:
    events: list[TurnEvent] = []
    sink = CollectingSink()
    sink.tracks.open(1)
    scope = TurnScope(
        1,
        llm=FakeScriptedLlm(words),
        tts=FakeToneVoice(),
        sink=sink,
        output_sample_rate_hz=RATE,
        metrics=TurnMetrics(),
        observer=events.append,
    )
    scope.start(
        [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", "Clagot is no Asthma Red?")]
    )
    await scope.wait()
    return scope, events


async def test_a_reply_repeating_the_instructions_says_only_its_own_words() -> None:
    scope, events = await _reply(
        "Mars is the red planet. No lists, no markdown, no emoji. It looks rusty."
    )
    assert scope.reply_text.strip() == "Mars is the red planet. It looks rusty."
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    spoken = " ".join(e.text for e in events if isinstance(e, SentenceReady))
    assert shown == spoken == "Mars is the red planet. It looks rusty."


async def test_a_reply_that_is_only_the_instructions_asks_the_user_again() -> None:
    scope, events = await _reply(
        "Your words are spoken aloud, so answer in one or two short sentences of plain speech."
    )
    assert scope.reply_text.strip() == ASK_AGAIN
    assert [e.text for e in events if isinstance(e, SentenceReady)] == [ASK_AGAIN]


async def test_a_short_first_piece_that_begins_the_instructions_is_judged_with_the_next() -> None:
    # The first piece is cut after a few words for speed: "No lists," alone is no run to judge.
    scope, _events = await _reply("No lists, no markdown, no emoji. Mars is red.")
    assert scope.reply_text.strip() == "Mars is red."
    # A short piece that only looks like the start of one is said, in its place.
    scope, _events = await _reply("Two plus two, as you asked, is four.")
    assert scope.reply_text.strip() == "Two plus two, as you asked, is four."


def test_a_withheld_piece_is_taken_out_of_the_text_whatever_its_spacing() -> None:
    written = "Mars is red. No lists,\nno  markdown. It looks rusty. "
    assert without_piece(written, "No lists, no markdown.") == "Mars is red. It looks rusty. "
    assert without_piece(written, "Not there at all.") == written
