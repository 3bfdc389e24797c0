"""Speculative replies: work begun on a pause that may be the end of the user's turn.

On a short pause the session transcribes and starts the reply at once, but holds it: its
events are buffered and its audio waits behind a gate. When the end of the turn is confirmed
the reply is released (events flushed in order, gate opened); if the user goes on, it is
discarded and leaves no trace. Cancellation does the discarding, as for any barge-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from parley.audio.frames import Int16Array
from parley.models.contracts import Transcript
from parley.pipeline.transcript_task import TranscriptTask, final_words_of, words_of
from parley.pipeline.turn import TurnScope
from parley.pipeline.turn_figures import TurnMetrics

Observer = Callable[[Any], None]


class HeldReply:
    """A reply started on a likely end of turn: it is written and synthesised, but its events
    and audio wait for the end of the turn to be confirmed, and vanish if the user goes on."""

    def __init__(self, observer: Observer) -> None:
        self.gate = asyncio.Event()
        self.is_released = False
        self.is_discarded = False
        self.scope: TurnScope | None = None
        # Called as it is released, before its audio may flow: it takes the floor then.
        self.on_release: Callable[[], None] = lambda: None
        self._observer = observer
        self._buffered: list[Any] = []

    def observe(self, event: Any) -> None:
        if self.is_discarded:
            return
        if self.is_released:
            self._observer(event)
        else:
            self._buffered.append(event)

    def release(self) -> None:
        self.is_released = True
        self.on_release()
        for event in self._buffered:
            self._observer(event)
        self._buffered.clear()
        self.gate.set()

    def discard(self) -> None:
        self.is_discarded = True
        self._buffered.clear()
        if self.scope is not None:
            self.scope.cancel()
        self.gate.set()  # let the cancelled turn unwind


@dataclass
class Speculation:
    """Work begun on a pause that may be the end of the turn."""

    last_voiced_sample: int
    transcript: TranscriptTask
    held: HeldReply | None = None
    metrics: TurnMetrics | None = None  # the held reply's, stamped when the turn really ends
    partial: TranscriptTask | None = None  # the partial its words may be taken from, shared
    turn_complete_probability: float | None = None  # the turn model's, at this pause


Transcribe = Callable[[Int16Array], Coroutine[Any, Any, Transcript | None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
# The words, the turn's metrics, the held reply, and whether the words were made out.
StartHeld = Callable[[str, TurnMetrics, HeldReply, bool], None]


class Speculator:
    """The one speculation of the open utterance: begun on a pause, void when the user goes
    on, taken by the end of the turn when that end is the same pause."""

    def __init__(
        self,
        transcribe: Transcribe,
        start_held: StartHeld,
        observer: Observer,
        is_allowed: Callable[[str], bool],
    ) -> None:
        self._transcribe = transcribe
        self._start_held = start_held
        self._observer = observer
        self._is_allowed = is_allowed  # whether a reply to these words may start early now
        self._current: Speculation | None = None

    def on_pause(
        self,
        audio: Int16Array,
        last_voiced_sample: int,
        partial: TranscriptTask | None,
        *,
        spawn: Spawn,
        after: asyncio.Task[Any] | None = None,
    ) -> Speculation:
        """Transcribe (or take the partial that already heard it all), and once the words are
        known start the reply, held. ``spawn`` runs work in the listening TaskGroup; the
        transcript waits for ``after`` (the turn model's hearing), so that each model has both
        cores in turn."""
        self.abandon()
        if partial is not None:
            transcript = spawn(self._partial_or_decode(partial, after, audio))
        else:
            transcript = spawn(self._transcribe_after(after, audio))
        speculation = Speculation(last_voiced_sample, transcript, partial=partial)
        self._current = speculation
        spawn(self._begin_held_reply(speculation))
        return speculation

    async def _transcribe_after(
        self, after: asyncio.Task[Any] | None, audio: Int16Array
    ) -> Transcript | None:
        if after is not None:
            await asyncio.wait({after})
        return await self._transcribe(audio)

    async def _partial_or_decode(
        self, partial: TranscriptTask, after: asyncio.Task[Any] | None, audio: Int16Array
    ) -> Transcript | None:
        """The partial's words when they may stand for the pause's; else a decode of it."""
        await asyncio.wait({partial})
        if (transcript := final_words_of(partial)) is not None:
            return transcript
        return await self._transcribe_after(after, audio)

    async def _begin_held_reply(self, speculation: Speculation) -> None:
        await asyncio.wait({speculation.transcript})
        transcript = words_of(speculation.transcript)
        if self._current is not speculation or transcript is None:
            return  # the user went on, or the words could not be had
        text = transcript.text
        if text and self._is_allowed(text):
            speculation.held = HeldReply(self._observer)
            speculation.metrics = TurnMetrics()
            self._start_held(text, speculation.metrics, speculation.held, transcript.is_unclear)

    @property
    def is_active(self) -> bool:
        """Whether work begun on a pause is under way (the user has not gone on since)."""
        return self._current is not None

    def abandon(self) -> None:
        """The user went on (or the stream ended): what was begun is discarded."""
        speculation, self._current = self._current, None
        if speculation is None:
            return
        if speculation.held is not None:
            speculation.held.discard()
        if not speculation.transcript.done():
            # Dropped before it runs if it is still queued; a partial it waits on is shared,
            # and goes on.
            speculation.transcript.cancel()

    def take(self, last_voiced_sample: int) -> Speculation | None:
        """The turn ended at ``last_voiced_sample``: the speculation begun on that same pause,
        if there is one (any other is discarded)."""
        speculation, self._current = self._current, None
        if speculation is not None and speculation.last_voiced_sample != last_voiced_sample:
            self._current = speculation
            self.abandon()
            return None
        return speculation
