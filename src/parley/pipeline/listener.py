"""What the user's audio means for the conversation: microphone frames in, `Heard` events out.

A pure, synchronous state machine, no model inside but the VAD: frames are cut into VAD windows,
the endpointer turns probabilities into boundaries, and each boundary becomes what the session
must do about it (silence the reply, open an utterance, start work on a pause, end the turn).
Utterance audio starts ``pre_roll_ms`` before the onset, so the first syllable is never cut.
Time comes from an injected clock, so the partial-transcript schedule is testable without
waiting for it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, Int16Array
from parley.config.settings import SttConfig, VadConfig
from parley.models.contracts import Vad
from parley.pipeline.end_of_turn import PauseCall, silence_to_end
from parley.pipeline.endpointing import Endpointer
from parley.pipeline.events import SpeechEnded, SpeechStarted

MIN_PARTIAL_AUDIO_MS = 600
# Whisper hears the end of the last word better with a little of the silence after it.
TAIL_SAMPLES = INPUT_SAMPLE_RATE_HZ // 10

Clock = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Ducked:
    """Voice may be starting over the reply: silence it (``is_onset``) or let it play on."""

    is_onset: bool


@dataclass(frozen=True, slots=True)
class UtteranceStarted:
    speech: SpeechStarted


@dataclass(frozen=True, slots=True)
class Hushed:
    """The first quiet after voice: a pause may follow. ``audio`` is the utterance so far."""

    audio: Int16Array
    last_voiced_sample: int


@dataclass(frozen=True, slots=True)
class Paused:
    """A silence long enough that the turn may have ended: work on it can start now."""

    audio: Int16Array
    last_voiced_sample: int
    # Whether the partial transcript under way (if any) heard enough to stand for these words.
    is_covered_by_partial: bool


@dataclass(frozen=True, slots=True)
class Resumed:
    """The user went on after a pause: what was started on it is void."""


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    speech: SpeechEnded
    audio: Int16Array
    is_covered_by_partial: bool


@dataclass(frozen=True, slots=True)
class PartialDue:
    """Time for a partial transcript of the utterance so far (call ``partial_started``)."""


Heard = Ducked | UtteranceStarted | Hushed | Paused | Resumed | UtteranceEnded | PartialDue


def covers(partial_until_sample: int, last_voiced_sample: int) -> bool:
    """Whether a partial transcript heard the whole utterance, and so stands as its final: every
    voiced sample and the tail of silence after them, the audio the final would decode. A
    partial that stopped short (even 95 % of the way, as before) ends inside the last word, and
    Whisper then hears another word: "have" came out "at hand"."""
    return partial_until_sample >= last_voiced_sample + TAIL_SAMPLES


@dataclass
class _Utterance:
    start_sample: int
    samples: list[Int16Array] = field(default_factory=list)

    def audio(self, *, until_sample: int | None = None) -> Int16Array:
        joined = np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int16)
        if until_sample is not None:
            joined = joined[: max(0, until_sample - self.start_sample + 1)]
        return joined


class Listener:
    """Feed frames in order; each push returns what they meant, in order."""

    def __init__(
        self,
        vad: Vad,
        vad_config: VadConfig,
        stt_config: SttConfig,
        *,
        frame_ms: int,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        self._vad = vad
        self._clock = clock
        self._endpointer = Endpointer(
            sample_rate_hz=INPUT_SAMPLE_RATE_HZ,
            frame_samples=vad.frame_samples,
            threshold=vad_config.threshold,
            min_speech_ms=vad_config.min_speech_ms,
            end_silence_ms=vad_config.end_silence_ms,
            pause_silence_ms=vad_config.speculative_silence_ms,
            max_utterance_ms=int(vad_config.max_utterance_s * 1000),
        )
        self._pre_roll_samples = INPUT_SAMPLE_RATE_HZ * vad_config.pre_roll_ms // 1000
        vad_window_ms = vad.frame_samples * 1000 // INPUT_SAMPLE_RATE_HZ
        # Frames kept so that a turn's audio can start pre_roll_ms before its onset: the turn
        # is opened only min_speech_ms after the onset, so that much more is kept too.
        kept_ms = vad_config.pre_roll_ms + vad_config.min_speech_ms + 2 * vad_window_ms
        self._recent: deque[AudioFrame] = deque(maxlen=kept_ms // frame_ms + 2)
        self._partial_interval_ns = stt_config.partial_interval_ms * 1_000_000
        self._is_partial_streaming = stt_config.is_streaming
        self._pending = np.zeros(0, dtype=np.int16)
        self._pending_start = 0
        self._stream_sample = 0
        self._utterance: _Utterance | None = None
        self._partial_until_sample = 0
        self._last_partial_started_ns: int | None = None
        self._threshold = vad_config.threshold
        self._end_silence_ms = vad_config.end_silence_ms
        self._paused_at: int | None = None  # the pause under way: its last voiced sample
        self._pause_call: PauseCall | None = None  # what the pause under way calls for

    def configure(self, *, threshold: float, end_silence_ms: int) -> None:
        self._threshold, self._end_silence_ms = threshold, end_silence_ms
        self._endpointer.configure(
            threshold=threshold,
            end_silence_ms=silence_to_end(self._pause_call, end_silence_ms=end_silence_ms),
        )

    def judge_pause(self, pause_sample: int, call: PauseCall) -> bool:
        """Carry out what the pause at ``pause_sample`` calls for (``end_of_turn``): the turn
        then ends after that silence (at the next frame if it has already lasted that long).
        False when the user has spoken again since."""
        if self._paused_at != pause_sample:
            return False
        self._pause_call = call
        self.configure(threshold=self._threshold, end_silence_ms=self._end_silence_ms)
        return True

    def _forget_pause(self) -> None:
        self._paused_at = None
        if self._pause_call is not None:
            self._pause_call = None
            self.configure(threshold=self._threshold, end_silence_ms=self._end_silence_ms)

    @property
    def is_paused(self) -> bool:
        """Whether the open utterance has gone quiet (a pause that may be its end)."""
        return self._paused_at is not None

    @property
    def heard_samples(self) -> int:
        """How many samples of the stream have been pushed."""
        return self._stream_sample

    def utterance_audio(self) -> Int16Array:
        """The open utterance's audio so far (empty when none is open)."""
        return self._utterance.audio() if self._utterance is not None else np.zeros(0, np.int16)

    def partial_started(self) -> None:
        """A partial transcript of ``utterance_audio()`` has just been started."""
        self._last_partial_started_ns = self._clock()
        self._partial_until_sample = self._stream_sample

    def push(self, frame: AudioFrame) -> list[Heard]:
        heard: list[Heard] = []
        self._recent.append(frame)
        if self._utterance is not None:
            self._utterance.samples.append(frame.samples)
        if self._pending.size == 0:
            self._pending_start = frame.start_sample
        self._pending = np.concatenate([self._pending, frame.samples])
        self._stream_sample = frame.start_sample + frame.samples.size
        window_samples = self._vad.frame_samples
        while self._pending.size >= window_samples:
            window, self._pending = self._pending[:window_samples], self._pending[window_samples:]
            self._pending_start += window_samples
            boundary = self._endpointer.push(
                self._vad.speech_probability(window), frame_end_sample=self._pending_start
            )
            if boundary is None:
                continue
            match boundary.kind:
                case "onset" | "false_start":
                    heard.append(Ducked(is_onset=boundary.kind == "onset"))
                case "start":
                    heard.append(UtteranceStarted(self._open_utterance(frame, boundary.sample)))
                case "hush" if self._utterance is not None:
                    heard.append(Hushed(self._utterance.audio(), boundary.sample))
                case "pause" if self._utterance is not None:
                    self._paused_at = boundary.sample
                    heard.append(
                        Paused(
                            self._utterance.audio(until_sample=boundary.sample + TAIL_SAMPLES),
                            boundary.sample,
                            self._is_covered(boundary.sample),
                        )
                    )
                case "resume":
                    self._forget_pause()
                    heard.append(Resumed())
                case "end" if self._utterance is not None:
                    self._forget_pause()
                    heard.append(self._close_utterance(frame, boundary.sample))
        if self._is_partial_due():
            heard.append(PartialDue())
        return heard

    def _open_utterance(self, frame: AudioFrame, onset_sample: int) -> SpeechStarted:
        start = max(0, onset_sample - self._pre_roll_samples)
        utterance = _Utterance(start_sample=start)
        for kept in self._recent:
            if kept.start_sample + kept.samples.size > start:
                utterance.samples.append(kept.samples[max(0, start - kept.start_sample) :])
        utterance.start_sample = max(start, self._recent[0].start_sample)
        self._utterance = utterance
        self._partial_until_sample = utterance.start_sample
        self._last_partial_started_ns = None
        return SpeechStarted(
            start_sample=onset_sample,
            onset_t_ns=self._stream_time_ns(frame, onset_sample),
            t_ns=self._clock(),
        )

    def _close_utterance(self, frame: AudioFrame, last_voiced_sample: int) -> UtteranceEnded:
        assert self._utterance is not None
        is_covered = self._is_covered(last_voiced_sample)
        utterance, self._utterance = self._utterance, None
        speech = SpeechEnded(
            start_sample=utterance.start_sample,
            last_voiced_sample=last_voiced_sample,
            last_voiced_t_ns=self._stream_time_ns(frame, last_voiced_sample),
            t_ns=self._clock(),
        )
        return UtteranceEnded(
            speech, utterance.audio(until_sample=last_voiced_sample + TAIL_SAMPLES), is_covered
        )

    def _is_covered(self, last_voiced_sample: int) -> bool:
        assert self._utterance is not None
        return self._last_partial_started_ns is not None and covers(
            self._partial_until_sample, last_voiced_sample
        )

    def _is_partial_due(self) -> bool:
        if self._utterance is None or not self._is_partial_streaming:
            return False
        audio_ms = (
            (self._stream_sample - self._utterance.start_sample) * 1000 // INPUT_SAMPLE_RATE_HZ
        )
        if audio_ms < MIN_PARTIAL_AUDIO_MS:
            return False
        return (
            self._last_partial_started_ns is None
            or self._clock() - self._last_partial_started_ns >= self._partial_interval_ns
        )

    def _stream_time_ns(self, frame: AudioFrame, sample: int) -> int:
        """When ``sample`` entered the pipeline, given that ``frame`` (ending at the stream's
        newest sample) arrived at ``frame.t_ns``."""
        behind = self._stream_sample - 1 - sample
        return frame.t_ns - behind * 1_000_000_000 // INPUT_SAMPLE_RATE_HZ
