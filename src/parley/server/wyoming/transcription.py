"""One Wyoming ``transcribe``: the utterance in the client's audio, its words as they form, and
its final transcript, from the same listener, ``Hearing`` and Whisper every other transport
uses.

Parley ends the utterance itself (the Wyoming ASR program says ``requires_external_vad:
false``): the listener's VAD finds where speech starts and, after ``end_silence_ms`` of quiet,
where it ends. Audio after that end is not heard (a client that streams on until its own VAD
stops gets the transcript early). At a pause the words so far are decoded at once, so when the
pause turns out to be the end the transcript is already there; while the user speaks, partial
decodes run on the listener's schedule and their words go to ``on_partial``. A client that sends
``audio-stop`` before Parley heard an end gets the open utterance decoded then. No speech at
all is an empty transcript: Whisper on silence makes words up.

Whisper is given the utterance from ``LEAD_IN_MS`` before the voice's onset (the room before
the first word, which the listener's own pre-roll keeps less of): on Parley's ten bench prompts
and eight wyoming-bench sentences it then erred on 9 words of 146 instead of 14. Audio sent
faster than it could be spoken (a client flushing what its own VAD kept) gets no partial or
pause decodes: they would only hold the shared Whisper when the final is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, Int16Array
from parley.config.settings import Settings
from parley.models.contracts import SpeechToText, Transcript, Vad
from parley.pipeline.hearing import Hearing, Inbox, PartialDecoded
from parley.pipeline.listener import (
    TAIL_SAMPLES,
    Listener,
    PartialDue,
    Paused,
    Resumed,
    UtteranceEnded,
    UtteranceStarted,
)
from parley.pipeline.transcript_task import TranscriptTask, transcribe_or_none

_T = TypeVar("_T")

# How Home Assistant's vad_sensitivity scales the configured end-of-turn silence.
SILENCE_SCALE = {"relaxed": 2.0, "default": 1.0, "aggressive": 0.6}
MIN_END_SILENCE_MS = 160
LEAD_IN_MS = 800
# Audio this far ahead of the wall clock is being flushed, not spoken: no speculative decodes.
LIVE_AHEAD_MS = 1000


def end_silence_for(sensitivity: object, configured_ms: int) -> int:
    """The silence that ends an utterance for a request's ``vad_sensitivity`` (unknown or
    absent: the configured one)."""
    scale = SILENCE_SCALE.get(sensitivity if isinstance(sensitivity, str) else "default", 1.0)
    return max(MIN_END_SILENCE_MS, round(configured_ms * scale))


class Transcription:
    """Push the converted audio as it comes; ``final()`` gives the transcript once."""

    def __init__(
        self,
        stt: SpeechToText,
        vad: Vad,
        settings: Settings,
        *,
        end_silence_ms: int,
        max_audio_s: float,
        on_partial: Callable[[str], Awaitable[None]],
    ) -> None:
        self._stt = stt
        self._listener = Listener(vad, settings.vad, settings.stt, frame_ms=settings.audio.frame_ms)
        self._listener.configure(threshold=settings.vad.threshold, end_silence_ms=end_silence_ms)
        self._frame_samples = INPUT_SAMPLE_RATE_HZ * settings.audio.frame_ms // 1000
        self._max_samples = int(max_audio_s * INPUT_SAMPLE_RATE_HZ)
        self._on_partial = on_partial
        self._pending = np.zeros(0, np.int16)  # less than a frame, not yet heard
        self._heard_samples = 0
        self._audio: list[Int16Array] = []  # everything heard, for the lead-in before an onset
        self._first_heard_ns: int | None = None
        self._lead_start_sample: int | None = None  # where the utterance's decodes begin
        self._pause: tuple[int, TranscriptTask] | None = None  # its last voiced sample, its words
        self._final: asyncio.Task[Transcript] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # every decode, ended by close()
        self._hearing = Hearing(stt, None, report=self._report, spawn=self._spawn)

    @property
    def is_ended(self) -> bool:
        """Whether the utterance has ended (Parley heard its end, or the audio stopped)."""
        return self._final is not None

    @property
    def heard_ms(self) -> int:
        return self._heard_samples * 1000 // INPUT_SAMPLE_RATE_HZ

    def push(self, samples: Int16Array) -> None:
        """Hear more of the client's audio (ignored once the utterance has ended)."""
        if self._final is not None or samples.size == 0:
            return
        room = self._max_samples - self._heard_samples - self._pending.size
        self._pending = np.concatenate([self._pending, samples[: max(0, room)]])
        while self._final is None and self._pending.size >= self._frame_samples:
            frame, self._pending = (
                self._pending[: self._frame_samples],
                self._pending[self._frame_samples :],
            )
            self._hear(frame)
        if self._final is None and samples.size > room:
            self._end_now()  # wyoming.max_audio_s: what was heard is transcribed

    async def final(self) -> Transcript:
        """The utterance's transcript: the one Parley already ended, else the open one now."""
        if self._final is None:
            if self._pending.size:
                self._hear(self._pending)
                self._pending = np.zeros(0, np.int16)
            if self._final is None:
                self._end_now()
        assert self._final is not None
        return await self._final

    async def close(self) -> None:
        """Stop every decode still running (the client went away)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- the listener's events -------------------------------------------------------------

    def _hear(self, samples: Int16Array) -> None:
        now_ns = time.perf_counter_ns()
        if self._first_heard_ns is None:
            self._first_heard_ns = now_ns
        frame = AudioFrame(samples, self._heard_samples, now_ns)
        self._heard_samples += samples.size
        self._audio.append(samples)
        is_live = self._is_live(now_ns)
        for heard in self._listener.push(frame):
            match heard:
                case UtteranceStarted(speech=speech):
                    lead_in = INPUT_SAMPLE_RATE_HZ * LEAD_IN_MS // 1000
                    self._lead_start_sample = max(0, speech.start_sample - lead_in)
                case Paused(last_voiced_sample=last_voiced, is_covered_by_partial=covered):
                    covering = self._hearing.partial if covered else None
                    if covering is not None or is_live:
                        audio = self._utterance(last_voiced + TAIL_SAMPLES)
                        words = covering or self._spawn(transcribe_or_none(self._stt, audio))
                        self._pause = (last_voiced, words)
                case Resumed():
                    self._drop_pause()
                case UtteranceEnded(speech=speech, is_covered_by_partial=covered):
                    early = None
                    if self._pause is not None and self._pause[0] == speech.last_voiced_sample:
                        early = self._pause[1]
                    elif covered:
                        early = self._hearing.partial
                    self._finish(self._utterance(speech.last_voiced_sample + TAIL_SAMPLES), early)
                    return
                case PartialDue() if (
                    is_live and self._pause is None and not self._hearing.is_decoding_partial
                ):
                    self._listener.partial_started()
                    self._hearing.decode_partial(self._utterance(self._heard_samples))
                case _:
                    pass

    def _is_live(self, now_ns: int) -> bool:
        """Whether the audio comes about as fast as it is spoken."""
        assert self._first_heard_ns is not None
        elapsed_ms = (now_ns - self._first_heard_ns) / 1e6
        return self.heard_ms <= elapsed_ms + LIVE_AHEAD_MS

    def _utterance(self, until_sample: int) -> Int16Array:
        """The open utterance's audio, from its lead-in to ``until_sample``."""
        if len(self._audio) > 1:
            self._audio = [np.concatenate(self._audio)]
        heard = self._audio[0] if self._audio else np.zeros(0, np.int16)
        start = self._lead_start_sample if self._lead_start_sample is not None else 0
        return heard[start : min(until_sample, heard.size)]

    def _drop_pause(self) -> None:
        if self._pause is not None and self._pause[1] is not self._hearing.partial:
            self._pause[1].cancel()
        self._pause = None

    def _end_now(self) -> None:
        if self._lead_start_sample is None:  # no utterance began: nothing was said
            self._final = self._spawn(self._nothing())
            return
        self._finish(self._utterance(self._heard_samples), None)

    def _finish(self, audio: Int16Array, early: TranscriptTask | None) -> None:
        if early is None:
            self._hearing.drop_partial()  # it would only hold the final up on a shared Whisper
        self._final = self._spawn(self._final_words(audio, early))

    async def _final_words(self, audio: Int16Array, early: TranscriptTask | None) -> Transcript:
        transcript, _is_early = await self._hearing.transcript_of(audio, early)
        return transcript

    async def _nothing(self) -> Transcript:
        return Transcript("", self.heard_ms, 0.0)

    async def _report(self, heard: Inbox) -> None:
        """What the hearing found: a partial's words go to the client until the end is heard."""
        if isinstance(heard, PartialDecoded) and self._final is None:
            await self._on_partial(heard.transcript.text)

    def _spawn(self, work: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
