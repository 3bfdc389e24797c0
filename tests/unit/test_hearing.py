"""`Hearing`: what a pause's words and the turn model's verdict call for, and final transcripts
that come out in the order their turns ended, driven by a scripted fake of Whisper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from parley.audio.frames import Int16Array
from parley.config.sections import VadConfig
from parley.models.contracts import Transcript
from parley.pipeline.channel import Channel
from parley.pipeline.end_of_turn import PauseCall, PauseRules, PauseVerdict
from parley.pipeline.events import FinalTranscript, SpeechEnded
from parley.pipeline.hearing import Hearing, Inbox, PauseJudged
from parley.pipeline.speculation import Speculation

VAD = VadConfig()


class FakeScriptedStt:
    """Stands in for Whisper: each clip's words are scripted by its length in samples, and a
    decode waits for its gate when one is set (so a test orders decodes as it needs)."""

    def __init__(self, words_by_length: dict[int, str]) -> None:
        self.words_by_length = words_by_length
        self.gates: dict[int, asyncio.Event] = {}
        self.decoded: list[int] = []
        self.partials_are_rough = False  # as Whisper's when it weighs only a final's hypotheses

    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        if (gate := self.gates.get(audio.size)) is not None:
            await gate.wait()
        self.decoded.append(audio.size)
        words = self.words_by_length[audio.size]
        if words == "<fails>":
            raise RuntimeError("the fake decode failed")
        is_rough = is_partial and self.partials_are_rough
        return Transcript(words, audio_ms=audio.size // 16, decode_ms=1.0, is_rough=is_rough)


def clip(samples: int) -> Int16Array:
    return np.zeros(samples, dtype=np.int16)


def ended(last_voiced_sample: int) -> SpeechEnded:
    return SpeechEnded(0, last_voiced_sample, last_voiced_t_ns=0, t_ns=0)


@pytest.fixture
async def heard() -> AsyncIterator[tuple[Hearing, Channel[Inbox], FakeScriptedStt]]:
    stt = FakeScriptedStt({})
    inbox: Channel[Inbox] = Channel(16)
    async with asyncio.TaskGroup() as group:
        hearing = Hearing(stt, None, report=inbox.send, spawn=group.create_task)
        yield hearing, inbox, stt
        await hearing.close()


async def _done(value: Any) -> Any:
    return value


def _speculation(words: str | None, last_voiced_sample: int = 100) -> Speculation:
    transcript = asyncio.ensure_future(
        _done(None if words is None else Transcript(words, audio_ms=1000, decode_ms=1.0))
    )
    return Speculation(last_voiced_sample, transcript)


async def _judged(
    hearing: Hearing, inbox: Channel[Inbox], words: str | None, probability: float | None
) -> Inbox | None:
    """What the loop hears of a pause with these words and this verdict of the turn model."""
    voice = asyncio.ensure_future(_done(probability))
    rules = PauseRules.of(VAD, turn_complete_threshold=0.5)
    hearing.judge_pause(_speculation(words), voice, rules)
    await hearing.reported()
    return await inbox.receive() if len(inbox) else None


@pytest.mark.parametrize(
    ("words", "probability", "expected"),
    [
        # words that stop mid-sentence wait for the rest, whatever the voice sounds like
        (
            "What is the capital of",
            0.99,
            PauseJudged(100, PauseCall(PauseVerdict.HOLD_OPEN, VAD.unfinished_silence_ms)),
        ),
        # a voice clearly finished: the turn ends after the shortest silence
        (
            "What is the capital of France?",
            0.95,
            PauseJudged(100, PauseCall(PauseVerdict.END_SOONER, VAD.turn_certain_silence_ms)),
        ),
        # finished, less surely: a longer silence
        (
            "What is the capital of France?",
            0.6,
            PauseJudged(100, PauseCall(PauseVerdict.END_SOONER, VAD.turn_complete_silence_ms)),
        ),
        # not finished to the turn model: the end-of-turn silence decides alone
        ("What is the capital of France?", 0.2, None),
        # no turn model verdict (it failed): silence alone
        ("What is the capital of France?", None, None),
        # words that sound unfinished ("Where are you from?"): never sooner than the silence says
        ("Where are you from?", 0.99, None),
        # the pause's words could not be had: nothing is decided on them
        (None, 0.99, None),
    ],
)
async def test_a_pause_calls_for_what_its_words_and_voice_say(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt],
    words: str | None,
    probability: float | None,
    expected: Inbox | None,
) -> None:
    hearing, inbox, _stt = heard
    assert await _judged(hearing, inbox, words, probability) == expected


async def test_finals_come_out_in_the_order_their_turns_ended(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt],
) -> None:
    hearing, _inbox, stt = heard
    stt.words_by_length = {32_000: "Tell me a long story.", 8_000: "Stop."}
    stt.gates[32_000] = gate = asyncio.Event()  # the first turn's decode is the slower one
    finals: list[str] = []

    async def then(final: FinalTranscript, *_rest: Any) -> None:
        finals.append(final.text)

    for samples in (32_000, 8_000):
        hearing.finish(
            ended(samples), clip(samples), speculation=None, partial=None, over_reply_ms=None,
            then=then,
        )  # fmt: skip
    assert hearing.is_finishing
    gate.set()
    await hearing.close()
    assert finals == ["Tell me a long story.", "Stop."]
    assert stt.decoded == [32_000, 8_000]


async def test_the_pause_s_words_are_the_final_transcript_without_a_second_decode(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt],
) -> None:
    hearing, _inbox, stt = heard
    finals: list[FinalTranscript] = []

    async def then(final: FinalTranscript, *_rest: Any) -> None:
        finals.append(final)

    speculation = _speculation("What do bees make?", last_voiced_sample=16_000)
    hearing.finish(
        ended(16_000), clip(16_000), speculation=speculation, partial=None, over_reply_ms=None,
        then=then,
    )  # fmt: skip
    await hearing.close()
    assert [f.text for f in finals] == ["What do bees make?"]
    assert stt.decoded == []  # Whisper was not asked again
    assert not finals[0].is_from_partial


async def test_a_failed_early_transcript_is_decoded_again_and_nothing_is_lost(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt],
) -> None:
    hearing, _inbox, stt = heard
    stt.words_by_length = {16_000: "What do bees make?"}
    finals: list[str] = []

    async def then(final: FinalTranscript, *_rest: Any) -> None:
        finals.append(final.text)

    hearing.finish(
        ended(16_000), clip(16_000), speculation=_speculation(None), partial=None,
        over_reply_ms=None, then=then,
    )  # fmt: skip
    await hearing.close()
    assert finals == ["What do bees make?"]
    assert stt.decoded == [16_000]


async def test_a_partial_that_failed_reports_nothing_and_the_next_one_is_heard(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt],
) -> None:
    hearing, inbox, stt = heard
    stt.words_by_length = {8_000: "<fails>", 16_000: "What is the"}
    hearing.decode_partial(clip(8_000))
    hearing.decode_partial(clip(16_000))
    await hearing.reported()
    heard_partial = await inbox.receive()
    assert getattr(heard_partial, "transcript", None) == Transcript(
        "What is the", audio_ms=1000, decode_ms=1.0
    )
    assert len(inbox) == 0


@pytest.mark.parametrize("is_rough", [False, True])
async def test_a_partial_that_heard_it_all_stands_for_the_final_unless_it_is_rough(
    heard: tuple[Hearing, Channel[Inbox], FakeScriptedStt], is_rough: bool
) -> None:
    hearing, inbox, stt = heard
    stt.words_by_length = {16_000: "What do bees make?"}
    stt.partials_are_rough = is_rough
    finals: list[FinalTranscript] = []

    async def then(final: FinalTranscript, *_rest: Any) -> None:
        finals.append(final)

    hearing.decode_partial(clip(16_000))
    await hearing.reported()
    await inbox.receive()  # the partial's words, shown while the user spoke
    hearing.finish(
        ended(16_000), clip(16_000), speculation=None, partial=hearing.partial,
        over_reply_ms=None, then=then,
    )  # fmt: skip
    await hearing.close()
    assert [f.text for f in finals] == ["What do bees make?"]
    # A rough partial's words are decoded again, as a final's; a partial as good as a final's
    # is taken as it is.
    assert stt.decoded == ([16_000, 16_000] if is_rough else [16_000])
    assert finals[0].is_from_partial is not is_rough
