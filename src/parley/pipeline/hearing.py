"""The listening side's model work, done beside the frame loop so that no frame waits on a model:
partial transcripts while the user speaks, the turn model's verdict at a pause, and each ended
turn's final transcript, in the order the turns ended. A conversation's session and a Wyoming
``transcribe`` both hear through it.

Every task runs where its owner spawns it (a session's listening TaskGroup). What the frame loop
must act on (a partial heard, a pause judged) comes back to it through ``report`` (a session's
inbox), so the listener and the turn-taking policy are only ever touched by the loop: there are
no done-callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar

from parley.audio.frames import AudioFrame, Int16Array
from parley.models.contracts import ChatMessage, PromptReader, SpeechToText, Transcript
from parley.models.smart_turn import SmartTurn
from parley.pipeline import end_of_turn
from parley.pipeline.end_of_turn import PauseCall, PauseRules
from parley.pipeline.events import FinalTranscript, SpeechEnded
from parley.pipeline.speculation import Speculation
from parley.pipeline.transcript_task import (
    TranscriptTask,
    final_words_of,
    transcribe_or_none,
    words_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartialDecoded:
    """A partial transcript of the utterance so far."""

    transcript: Transcript


@dataclass(frozen=True, slots=True)
class PauseJudged:
    """What the pause after ``last_voiced_sample`` calls for, by its words and voice."""

    last_voiced_sample: int
    call: PauseCall


@dataclass(frozen=True, slots=True)
class AudioEnded:
    """The source has no more frames."""


# What the session's frame loop reads, in the order it happened.
Inbox: TypeAlias = AudioFrame | PartialDecoded | PauseJudged | AudioEnded
# What a final transcript leads to (the session's judgement), awaited in turn order.
OnFinal = Callable[[FinalTranscript, Speculation | None, float | None], Awaitable[None]]
_T = TypeVar("_T")


class Spawn(Protocol):
    """Runs a coroutine as a task its owner ends (``asyncio.TaskGroup.create_task``)."""

    def __call__(self, coro: Coroutine[Any, Any, _T], /) -> asyncio.Task[_T]: ...


class Hearing:
    def __init__(
        self,
        stt: SpeechToText,
        turn_model: SmartTurn | None,
        *,
        report: Callable[[Inbox], Awaitable[None]],
        spawn: Spawn,
    ) -> None:
        self._stt = stt
        self._turn_model = turn_model
        self._send = report
        self._create_task = spawn
        self.partial: TranscriptTask | None = None  # the utterance's latest partial
        self._finishing: asyncio.Task[None] | None = None  # the last turn to end
        self._finishing_tasks: set[asyncio.Task[None]] = set()  # turns ended, finals pending
        self._reporting: set[asyncio.Task[Any]] = set()  # tasks that report to the loop
        self._reading: asyncio.Task[None] | None = None  # the LLM reading ahead
        # The turn model's hearing of the latest silence, by its last voiced sample.
        self._voice: tuple[int, asyncio.Task[float | None]] | None = None

    @property
    def is_finishing(self) -> bool:
        """Whether an ended turn's transcript (or what it leads to) is still being worked on."""
        return bool(self._finishing_tasks)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` where the owner runs every task of its hearing."""
        return self._create_task(work)

    # ---- while the user speaks -------------------------------------------------------------

    @property
    def is_decoding_partial(self) -> bool:
        return self.partial is not None and not self.partial.done()

    def decode_partial(self, audio: Int16Array) -> None:
        """Transcribe the utterance so far; the words reach the loop as a PartialDecoded."""
        self.partial = partial = self._create_task(
            transcribe_or_none(self._stt, audio, is_partial=True)
        )

        async def report() -> None:
            await asyncio.wait({partial})
            if (transcript := words_of(partial)) is not None:
                await self._send(PartialDecoded(transcript))

        self._report(report())

    def read_ahead(
        self,
        reader: PromptReader | None,
        prompt: Callable[[], Awaitable[tuple[list[ChatMessage], list[ChatMessage]]]],
    ) -> None:
        """While the user still speaks, have the LLM read the prompt their words so far make
        (one at a time; skipped when the model cannot)."""
        if reader is None or (self._reading is not None and not self._reading.done()):
            return

        async def read() -> None:
            try:
                _history, messages = await prompt()
                await reader.prefill(messages)
            except Exception:
                log.debug("reading ahead failed", exc_info=True)

        self._reading = self._create_task(read())

    def hear_voice(
        self, audio: Int16Array, last_voiced_sample: int
    ) -> asyncio.Task[float | None] | None:
        """The turn model's probability that the voice, silent since ``last_voiced_sample``, is
        finished (None: no turn model, or it failed). Asked at the first quiet frame (a hush),
        so that it is known when the pause is, and asked once per silence: the pause after the
        same last voiced sample takes the hush's answer."""
        turn_model = self._turn_model
        if turn_model is None:
            return None
        if self._voice is not None and self._voice[0] == last_voiced_sample:
            return self._voice[1]

        async def hear() -> float | None:
            try:
                return await asyncio.to_thread(turn_model.completion_probability, audio)
            except Exception:
                log.debug("the turn model failed; the turn ends on silence", exc_info=True)
                return None

        task = self._create_task(hear())
        self._voice = (last_voiced_sample, task)
        return task

    def judge_pause(
        self,
        speculation: Speculation,
        voice: asyncio.Task[float | None],
        rules: PauseRules,
    ) -> None:
        """Gather what the pause's end-of-turn call needs (``end_of_turn``): its words, then,
        only if they leave it open, the turn model's verdict (``voice``, from ``hear_voice``).
        The loop hears the call as a PauseJudged when it changes anything.

        The turn model runs at the hush before the pause (~25 ms on both cores, while the CPU
        waits for the pause), then Whisper at the pause, then the LLM, each alone on the
        cores. Run beside the LLM's prompt, it doubled the prompt's time (8 tokens: 52 ms
        alone, 107-196 ms beside it): llama.cpp's threads wait on each other at every step,
        and one of them had no core."""

        async def judge() -> None:
            await asyncio.wait({speculation.transcript})
            if (transcript := words_of(speculation.transcript)) is None:
                return
            call = end_of_turn.judge_words(transcript.text, rules)
            if call is None:
                probability = await voice
                speculation.turn_complete_probability = probability
                call = end_of_turn.judge_voice(probability, rules)
            else:
                log.debug("the words at the pause decide: %r, %s", transcript.text, call)
            if call.is_deciding:
                await self._send(PauseJudged(speculation.last_voiced_sample, call))

        self._report(judge())

    def drop_partial(self) -> None:
        """A new utterance, or an end of turn that does not use it: the partial is not needed
        (a decode still queued is dropped unrun; one running finishes unheard)."""
        if self.partial is not None and not self.partial.done():
            self.partial.cancel()
        self.partial = None

    # ---- at the end of a turn --------------------------------------------------------------

    def finish(
        self,
        ended: SpeechEnded,
        audio: Int16Array,
        *,
        speculation: Speculation | None,
        partial: TranscriptTask | None,
        over_reply_ms: float | None,
        then: OnFinal,
    ) -> None:
        """The final transcript of a turn that ended (taken from the pause's speculation or a
        partial that heard it all when there is one), then what it leads to. Finals come out in
        the order their turns ended; the loop goes on reading frames meanwhile."""
        previous = self._finishing

        async def complete() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            try:
                final = await self._final_transcript(ended, audio, speculation, partial)
                await then(final, speculation, over_reply_ms)
            except Exception:
                log.exception("the end of a turn failed; listening goes on")

        self._finishing = task = self._create_task(complete())
        self._finishing_tasks.add(task)
        task.add_done_callback(self._finishing_tasks.discard)

    async def _final_transcript(
        self,
        ended: SpeechEnded,
        audio: Int16Array,
        speculation: Speculation | None,
        partial: TranscriptTask | None,
    ) -> FinalTranscript:
        started_ns = time.perf_counter_ns()
        early = speculation.transcript if speculation is not None else partial
        transcript, is_early = await self.transcript_of(audio, early)
        # Without a speculation, the early transcript is the partial itself.
        source = speculation.partial if speculation is not None else partial
        is_from_partial = (
            is_early and source is not None and source.done() and transcript is words_of(source)
        )
        now_ns = time.perf_counter_ns()
        return FinalTranscript(
            text=transcript.text,
            speech=ended,
            stt_ms=(now_ns - started_ns) / 1e6,
            t_ns=now_ns,
            decode_ms=transcript.decode_ms,
            audio_ms=transcript.audio_ms,
            is_from_partial=is_from_partial,
            is_unclear=transcript.is_unclear,
        )

    async def transcript_of(
        self, audio: Int16Array, early: TranscriptTask | None
    ) -> tuple[Transcript, bool]:
        """The words of an ended turn's ``audio``: those ``early`` heard (the pause's decode, or
        a partial that heard it all), else, when there is none, it failed or it was a rough
        partial, a decode now; and whether they are early's."""
        if early is not None:
            await asyncio.wait({early})
            if (transcript := final_words_of(early)) is not None:
                return transcript, True
        return await self._stt.transcribe(audio), False

    async def reported(self) -> None:
        """Wait until every pause judged and partial decoded so far has told the loop."""
        while self._reporting:
            await asyncio.wait(set(self._reporting))

    async def close(self) -> None:
        """The audio ended: nothing more reaches the loop, and the last turn's words are out."""
        self.drop_partial()
        for task in list(self._reporting):
            task.cancel()
        if self._finishing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({self._finishing})

    def _report(self, work: Coroutine[Any, Any, None]) -> None:
        task = self._create_task(work)
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)
