"""The bench's echo trial: Parley in a simulated room, where the loudspeaker's sound comes back
into the microphone.

The loudspeaker is Parley's own (``devices.Loudspeaker``), clocked by the room instead of a
sound card: every 20 ms the room takes the block it plays, hands it to the echo canceller as
its reference, and adds it, ``echo_gain_db`` down and ``echo_delay_ms`` late, to what the user
says into the microphone. Two figures come out, with echo cancellation on and off: how many
replies were cut although nobody spoke over them (by the echo, or by an "uh-huh" and a cough),
and how soon a reply fell silent when the user did speak over it, in stream time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from parley.audio.devices import Loudspeaker
from parley.audio.echo import EchoCanceller
from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, Int16Array
from parley.audio.pcm import resample
from parley.bench.prompts import EchoTrialAudio
from parley.ops.spread import spread
from parley.pipeline.events import FinalTranscript, PartialTranscript, ReplyInterrupted
from parley.pipeline.runtime import Runtime

FRAME_MS = 20
ECHO_GAIN_DB = -6.0
ECHO_DELAY_MS = 40
_FRAME_SAMPLES = INPUT_SAMPLE_RATE_HZ * FRAME_MS // 1000
# The user hears this much of the reply before speaking over it; a reply that has not begun
# this long after the question is spoken over all the same.
_REPLY_HEARD_MS = 1_500
_LONGEST_WAIT_MS = 20_000


@dataclass(frozen=True, slots=True)
class EchoTrial:
    is_cancelling_echo: bool
    is_barge_in: bool  # whether the user spoke over the reply (else only echo, "uh-huh", a cough)
    was_interrupted: bool
    silent_after_ms: float | None  # from the onset of speech over the reply to silence
    held_silent_ms: float  # reply audio held back while speech over it was judged
    # What Parley heard and did, in order ("partial 640 ms: uh huh", "final: Uh-huh.",
    # "interrupted: turn_detected"): a trial judged wrong says why in the report.
    story: tuple[str, ...] = ()


class _Room:
    """The microphone of a room whose loudspeaker is ``speaker``."""

    def __init__(self, speaker: Loudspeaker, echo: EchoCanceller | None, output_rate_hz: int):
        self._speaker = speaker
        self._echo = echo
        self._output_rate_hz = output_rate_hz
        self._output_block = output_rate_hz * FRAME_MS // 1000
        delay_blocks = ECHO_DELAY_MS // FRAME_MS
        silent = np.zeros(_FRAME_SAMPLES, dtype=np.int16)
        self._in_the_air: deque[Int16Array] = deque([silent] * delay_blocks)
        self._gain = 10 ** (ECHO_GAIN_DB / 20)
        # Stream times (frame starts) at which the loudspeaker went quiet, and those of the
        # frames in which it sounded.
        self.silences: list[int] = []
        self.sounding_at: set[int] = set()
        self._was_sounding = False
        self.held_frames = 0
        self.sounded_frames = 0
        # The stream time at which the words said over the reply began (``frames``' hold).
        self.onset_sample: int | None = None

    async def frames(
        self,
        question: Int16Array,
        over_the_reply: Int16Array,
        keep_going: Callable[[], bool],
        *,
        after_sounding_frames: int,
        longest_wait_frames: int,
    ) -> AsyncIterator[AudioFrame]:
        """``question``, then silence until the loudspeaker has sounded for
        ``after_sounding_frames`` (the reply has begun, however long the machine took to
        begin it; at most ``longest_wait_frames``), then ``over_the_reply``, then silence while
        ``keep_going``."""
        frame_samples = _FRAME_SAMPLES
        started_ns = time.perf_counter_ns()
        position = 0  # the stream's clock, in samples
        said, said_at = question, 0  # what the user says now, and how much of it is said
        waited_frames = 0
        while said_at < said.size or said is question or keep_going():
            if said is question and said_at >= said.size:
                waited_frames += 1
                if (
                    self.sounded_frames >= after_sounding_frames
                    or waited_frames > longest_wait_frames
                ):
                    said, said_at, self.onset_sample = over_the_reply, 0, position
            block = self._speaker.next_block(self._output_block)
            is_sounding = bool(np.any(block))
            if is_sounding:
                self.sounding_at.add(position)
                self.sounded_frames += 1
            elif self._was_sounding:
                self.silences.append(position)
            self._was_sounding = is_sounding
            self.held_frames += self._speaker.is_held_silent
            self._in_the_air.append(
                resample(block, self._output_rate_hz, INPUT_SAMPLE_RATE_HZ)[:frame_samples]
            )
            echo = self._in_the_air.popleft()
            voice = said[said_at : said_at + frame_samples]
            said_at += voice.size
            mic = np.zeros(frame_samples, dtype=np.float64)
            mic[: voice.size] += voice
            mic[: echo.size] += echo * self._gain
            samples = np.clip(mic, -32768, 32767).astype(np.int16)
            if self._echo is not None:
                samples = self._echo.capture(samples, input_delay_s=0.0)
            position += frame_samples
            due_ns = started_ns + position * 1_000_000_000 // INPUT_SAMPLE_RATE_HZ
            await asyncio.sleep(max(0.0, (due_ns - time.perf_counter_ns()) / 1e9))
            yield AudioFrame(samples=samples, start_sample=position - frame_samples, t_ns=due_ns)


async def run_echo_trial(
    runtime: Runtime,
    question: Int16Array,
    over_the_reply: Int16Array,
    *,
    is_cancelling_echo: bool,
    is_barge_in: bool,
) -> EchoTrial:
    """``question``, then, once the reply has sounded for a second and a half,
    ``over_the_reply`` (a new question when ``is_barge_in``, else an acknowledgement and a
    cough), then silence until all is played. The words over the reply wait for the reply, not
    for the clock: on a slow or busy machine the reply begins later."""
    output_rate_hz = runtime.backends.settings.audio.output_sample_rate_hz
    echo = (
        EchoCanceller(capture_rate_hz=INPUT_SAMPLE_RATE_HZ, render_rate_hz=output_rate_hz)
        if is_cancelling_echo
        else None
    )
    speaker = Loudspeaker(sample_rate_hz=output_rate_hz, echo=echo)
    speaker.attach()
    interrupted: list[ReplyInterrupted] = []
    story: list[str] = []

    def observe(event: object) -> None:
        if isinstance(event, ReplyInterrupted):
            interrupted.append(event)
            story.append(f"interrupted: {event.reason}")
        elif isinstance(event, PartialTranscript):
            story.append(f"partial {event.audio_ms} ms: {event.text}")
        elif isinstance(event, FinalTranscript):
            story.append(f"final: {event.text}" + (" (not made out)" if event.is_unclear else ""))

    session = runtime.session(sink=speaker, observer=observe)
    room = _Room(speaker, echo, output_rate_hz)
    frames = room.frames(
        question,
        over_the_reply,
        lambda: session.is_busy or speaker.is_sounding,
        after_sounding_frames=_REPLY_HEARD_MS // FRAME_MS,
        longest_wait_frames=_LONGEST_WAIT_MS // FRAME_MS,
    )
    await session.listen(frames)
    await session.wait_for_replies()
    silent_after_ms = None
    onset_sample = room.onset_sample
    if is_barge_in and onset_sample is not None:
        # The onset's frame: the reply was sounding then (else it is not an interruption).
        onset_frame = onset_sample // _FRAME_SAMPLES * _FRAME_SAMPLES
        after = [sample for sample in room.silences if sample >= onset_frame]
        if onset_frame in room.sounding_at and after:
            silent_after_ms = (after[0] - onset_frame) * 1000 / INPUT_SAMPLE_RATE_HZ
    return EchoTrial(
        is_cancelling_echo,
        is_barge_in,
        bool(interrupted),
        silent_after_ms,
        held_silent_ms=float(room.held_frames * FRAME_MS),
        story=tuple(story),
    )


def echo_figures(trials: list[EchoTrial]) -> dict[str, dict[str, Any]]:
    """Per mode (cancellation on, off): replies cut with nobody speaking over them, out of how
    many, and how soon a reply fell silent when someone did (median, p90)."""
    figures: dict[str, dict[str, Any]] = {}
    for is_cancelling_echo, mode in ((True, "on"), (False, "off")):
        trials_here = [t for t in trials if t.is_cancelling_echo == is_cancelling_echo]
        if not trials_here:
            continue
        quiet = [t for t in trials_here if not t.is_barge_in]
        spoken_over = [t for t in trials_here if t.is_barge_in]
        figures[mode] = {
            "replies": len(quiet),
            "false_interruptions": sum(t.was_interrupted for t in quiet),
            "barge_ins_heard": sum(t.was_interrupted for t in spoken_over),
            "barge_ins": len(spoken_over),
            "interruption_ms": spread(
                [t.silent_after_ms for t in spoken_over if t.silent_after_ms is not None]
            ),
            # With only "uh-huh" and a cough over the reply, how long it was held silent.
            "held_silent_ms": spread([t.held_silent_ms for t in quiet]),
            # What was heard in each trial judged wrong (cut with nobody speaking over it, or
            # not cut when somebody did).
            "judged_wrong": [
                list(t.story) for t in trials_here if t.was_interrupted != t.is_barge_in
            ],
        }
    return figures


async def run_echo_trials(
    runtime: Runtime,
    audio: EchoTrialAudio,
    repeats: int,
    progress: Callable[[str], None],
) -> list[EchoTrial]:
    """With echo cancellation on, then off: ``repeats`` replies with only "uh-huh" and a cough
    over them, then ``repeats`` with a new question over them."""
    trials = []
    for is_cancelling_echo in (True, False):
        for is_barge_in in [False] * repeats + [True] * repeats:
            mode = "on" if is_cancelling_echo else "off"
            kind = "a new question" if is_barge_in else "uh-huh and a cough"
            progress(f"echo trial, cancellation {mode}: {kind} over the reply")
            over_the_reply = audio.new_question if is_barge_in else audio.acknowledgement
            trial = await run_echo_trial(
                runtime,
                audio.question,
                over_the_reply,
                is_cancelling_echo=is_cancelling_echo,
                is_barge_in=is_barge_in,
            )
            trials.append(trial)
    return trials
