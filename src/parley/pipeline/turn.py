"""One assistant reply as a cancellable scope, and the ledger of what the user heard (its
timing is ``turn_figures``'s).

Cancelling a ``TurnScope`` is the whole of barge-in: the sink drops unplayed audio at once, the
task group cancels LLM, chunker and TTS, and the threads behind them stop at their next item.
No stage handles an "interrupt" message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parley.audio.frames import AudioReady, Int16Array
from parley.audio.pcm import resample
from parley.audio.sink import AudioSink, PlaybackStopped
from parley.models.contracts import (
    ChatMessage,
    LanguageModel,
    TextToSpeech,
    TimedSpeech,
    WordTimedSpeech,
)
from parley.pipeline.channel import Channel
from parley.pipeline.events import SentenceReady, TextDelta, TurnDone, TurnEvent
from parley.pipeline.heard_ledger import HeardLedger
from parley.pipeline.internal_words import ASK_AGAIN, InternalWords, PieceGuard, without_piece
from parley.pipeline.piece_joins import QUIET_LEVEL, PieceEdges
from parley.pipeline.sentences import SentenceChunker
from parley.pipeline.turn_figures import TurnFigures, TurnMetrics

log = logging.getLogger(__name__)


class StrayCancellation(RuntimeError):
    """A stage of a reply ended with a CancelledError nobody asked for. A TaskGroup counts such a
    child as cancelled and lets its siblings wait on it forever, so it is made an error."""


_VOICES_SAID_UNTIMED: set[str] = set()  # voices whose lack of word timing was logged


async def timed_speech(tts: TextToSpeech, text: str, speed: float) -> AsyncIterator[TimedSpeech]:
    """The voice's audio for ``text``, with where its words fall when the voice can say."""
    if isinstance(tts, WordTimedSpeech):  # its chunks say None where it cannot tell
        async for chunk in tts.synthesize_timed(text, speed=speed):
            yield chunk
        return
    name = type(tts).__name__
    if name not in _VOICES_SAID_UNTIMED:
        _VOICES_SAID_UNTIMED.add(name)
        log.info(
            "%s does not say where its words fall: an interrupted reply is stored to an "
            "estimate of the words heard (their share of the sentence's time)",
            name,
        )
    async for samples in tts.synthesize(text, speed=speed):
        yield TimedSpeech(samples, None)


@dataclass(frozen=True, slots=True)
class TurnResult:
    turn_id: int
    user_text: str
    reply_text: str
    heard_text: str
    was_cancelled: bool
    figures: TurnFigures
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


TurnObserver = Callable[[TurnEvent], None]


MAX_REPLY_TOKENS = 1024


class TurnScope:
    """One reply: LLM → chunker → TTS → sink, in one task group that can be cancelled whole."""

    def __init__(
        self,
        turn_id: int,
        *,
        llm: LanguageModel,
        tts: TextToSpeech | None,
        sink: AudioSink,
        output_sample_rate_hz: int,
        metrics: TurnMetrics,
        observer: TurnObserver | None = None,
        gate: asyncio.Event | None = None,
        speed: float = 1.0,
        first_piece_max_words: int = 0,
    ) -> None:
        self.turn_id = turn_id
        self._first_piece_max_words = first_piece_max_words
        self._speed = speed
        # A speculative reply is written and synthesised ahead, but plays only once the gate
        # opens (the end of the user's turn is confirmed).
        self._gate = gate
        self._llm = llm
        self._tts = tts
        self._sink = sink
        self._output_sample_rate_hz = output_sample_rate_hz
        self.metrics = metrics
        self.metrics.output_sample_rate_hz = output_sample_rate_hz
        self._observer = observer or (lambda _event: None)
        self.ledger = HeardLedger()
        self.reply_text = ""
        self._task: asyncio.Task[None] | None = None
        self._is_cancelled = False
        # Set once the first piece has its first audio (or has none): until then the LLM
        # waits, so that the voice has both cores for what the user hears first.
        self._first_piece_voiced = asyncio.Event()
        self.first_sound = asyncio.Event()  # the reply's first sound has gone out, or never will

    @property
    def is_cancelled(self) -> bool:
        return self._is_cancelled

    @property
    def is_finished(self) -> bool:
        """Written whole (or stopped): its work is over, whatever still plays."""
        return self._task is not None and self._task.done()

    def start(self, messages: Sequence[ChatMessage]) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(messages), name=f"turn-{self.turn_id}")
        return self._task

    def cancel(self) -> None:
        """Stop the reply now: silence first, then the work behind it. Synchronous."""
        if self._is_cancelled or self._task is None or self._task.done():
            return
        self._stop()
        self._task.cancel()

    def _stop(self) -> None:
        self._is_cancelled = True
        self.metrics.cancel_t_ns = time.perf_counter_ns()
        self._sink.clear(self.turn_id)

    async def wait(self) -> None:
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                # The scope cancelled (a barge-in) is an ending like any other; the waiter's own
                # cancellation (its caller gave up on the reply) goes on up.
                current = asyncio.current_task()
                if not self._is_cancelled or (current is not None and current.cancelling()):
                    raise

    def heard_text(self) -> str:
        if not self._is_cancelled or self._tts is None:
            return self.reply_text.strip()
        return self.ledger.heard_text(self._sink.played_samples(self.turn_id))

    async def _run(self, messages: Sequence[ChatMessage]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                # Room for a whole reply (llm.max_reply_tokens is at most this): the LLM never
                # waits on speech or a slow socket while it holds the model shared by all sessions.
                deltas = Channel[str](maxsize=MAX_REPLY_TOKENS)
                # Two pieces ahead at most: on 2 cores, speech synthesised ahead is wasted on barge-in.
                pieces = Channel[str](maxsize=2)
                group.create_task(self._stage(self._generate(messages, deltas)))
                internal = InternalWords.of_prompt(messages)
                group.create_task(self._stage(self._chunk(deltas, pieces, internal)))
                group.create_task(self._stage(self._speak(pieces)))
        except asyncio.CancelledError:
            if not self._is_cancelled:
                # Cancelled from outside the scope: the task awaiting it was, and took this one
                # with it. It stops as a barge-in stops it, silenced and reported as cancelled.
                self._stop()
            raise
        finally:
            self.first_sound.set()
            self.metrics.done_t_ns = time.perf_counter_ns()
            self._observer(
                TurnDone(
                    turn_id=self.turn_id,
                    was_cancelled=self._is_cancelled,
                    heard_text=self.heard_text(),
                    figures=self.metrics.figures(),
                    t_ns=self.metrics.done_t_ns,
                )
            )

    async def _stage(self, work: Coroutine[Any, Any, None]) -> None:
        """One stage of the reply, whose ending always ends the reply's other stages too."""
        try:
            await work
        except PlaybackStopped as stopped:
            log.info("turn %d: %s; the reply stops", self.turn_id, stopped)
            self.cancel()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling() == 0:
                raise StrayCancellation(f"a stage of turn {self.turn_id} was cancelled") from None
            raise

    async def _generate(self, messages: Sequence[ChatMessage], out: Channel[str]) -> None:
        self.metrics.llm_request_t_ns = time.perf_counter_ns()
        try:
            async for text in self._llm.stream(messages):
                now_ns = time.perf_counter_ns()
                if self.metrics.llm_first_token_t_ns is None:
                    self.metrics.llm_first_token_t_ns = now_ns
                self.metrics.token_count += 1
                self.metrics.llm_last_token_t_ns = now_ns
                self.reply_text += text
                await out.send(text)
                if self._tts is not None and not self._first_piece_voiced.is_set():
                    # Once the first piece is cut, the model rests until the voice has made its
                    # first sound (~35 ms), rather than share the two cores with it. Tokens
                    # come ~10 times faster than speech, so the rest is still written ahead.
                    # The chunker is let read this token first: it may be the one that ends the
                    # piece, and the next would be computed beside the voice.
                    await out.taken()
                    if self.metrics.first_sentence_t_ns is not None:
                        await self._first_piece_voiced.wait()
        finally:
            out.close()

    async def _chunk(
        self, deltas: Channel[str], out: Channel[str], internal: InternalWords
    ) -> None:
        """The reply's words in speakable pieces. A piece that repeats Parley's instructions
        is never said, shown or stored (internal_words); a reply that was nothing else asks
        the user to say it again."""
        chunker = SentenceChunker(first_piece_max_words=self._first_piece_max_words)
        guard = PieceGuard(internal)
        index = 0
        try:
            async for delta in deltas:
                for piece in chunker.push(delta):
                    for said in guard.take(piece):
                        index = await self._emit_piece(said, index, out)
                    self._strike(guard)
            for piece in chunker.flush():
                for said in guard.take(piece):
                    index = await self._emit_piece(said, index, out)
                self._strike(guard)
            for said in guard.finish():
                if said == ASK_AGAIN and not self.reply_text.strip():
                    self.reply_text = ASK_AGAIN  # the reply was nothing but the instructions
                index = await self._emit_piece(said, index, out)
            if guard.withheld:
                log.warning(
                    "turn %d: %d piece(s) repeating the instructions withheld",
                    self.turn_id,
                    guard.withheld,
                )
        finally:
            out.close()

    def _strike(self, guard: PieceGuard) -> None:
        """Take the pieces just withheld out of the reply's text (what is stored and shown)."""
        for piece in guard.take_withheld():
            self.reply_text = without_piece(self.reply_text, piece)

    async def _emit_piece(self, piece: str, index: int, out: Channel[str]) -> int:
        now_ns = time.perf_counter_ns()
        if self.metrics.first_sentence_t_ns is None:
            self.metrics.first_sentence_t_ns = now_ns
        # Text goes out a piece at a time, once the piece is known to be the reply's own.
        self._observer(TextDelta(self.turn_id, (" " if index else "") + piece, now_ns))
        self._observer(SentenceReady(self.turn_id, index, piece, now_ns))
        await out.send(piece)
        return index + 1

    async def _speak(self, pieces: Channel[str]) -> None:
        index = 0
        async for piece in pieces:
            self.ledger.begin_sentence(piece)
            if self._tts is None:
                continue  # a text-only reply: the pieces only feed the transcript
            edges = PieceEdges(piece, self._output_sample_rate_hz)
            voice_rate_hz = self._tts.sample_rate_hz
            ratio = self._output_sample_rate_hz / voice_rate_hz
            voiced_samples = 0  # of this piece so far, at the voice's rate
            synth_started_ns = time.perf_counter_ns()
            async for chunk in timed_speech(self._tts, piece, self._speed):
                resampled = resample(chunk.samples, voice_rate_hz, self._output_sample_rate_hz)
                self.metrics.tts_busy_ns += time.perf_counter_ns() - synth_started_ns
                ready = edges.push(resampled)
                if chunk.word_group_starts is not None:
                    # Played samples from the piece's start: the voice's lead-in cut is not.
                    self.ledger.add_word_groups(
                        [
                            max(0, round((voiced_samples + start) * ratio) - edges.lead_cut_samples)
                            for start in chunk.word_group_starts
                        ]
                    )
                voiced_samples += chunk.samples.size
                self._first_piece_voiced.set()
                await self._play(ready, index)
                synth_started_ns = time.perf_counter_ns()
            self._first_piece_voiced.set()  # a piece the voice had no sound for
            await self._play(edges.finish(), index)
            self.ledger.end_sentence()
            index += 1

    async def _play(self, samples: Int16Array, index: int) -> None:
        if samples.size == 0:
            return
        if self._gate is not None and not self._gate.is_set():
            await self._gate.wait()
        now_ns = time.perf_counter_ns()
        if self.metrics.first_audio_t_ns is None:
            # The reply's first sound, not its first sample: a voice's lead-in is silence.
            lead_in = int(np.argmax(np.abs(samples) > QUIET_LEVEL))
            lead_in_ns = lead_in * 1_000_000_000 // self._output_sample_rate_hz
            self.metrics.first_audio_t_ns = now_ns + lead_in_ns
            self.first_sound.set()
        chunk = AudioReady(self.turn_id, index, samples, self._output_sample_rate_hz, now_ns)
        self.ledger.add_audio(samples.size)
        self.metrics.reply_audio_samples += samples.size
        self._observer(chunk)
        await self._sink.play(chunk)
