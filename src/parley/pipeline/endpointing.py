"""Turn boundaries from voice-activity probabilities: a pure state machine, no model inside.

A turn starts only after ``min_speech_ms`` of continuously voiced frames, so a click or a cough
does not start one; it ends after ``end_silence_ms`` without voice, or once it has lasted
``max_utterance_ms``. The first voiced frame of a
run is announced at once ("onset", so a reply can be silenced while the run is judged), and a
run that ends before it counts as speech is announced too ("false_start"). While speaking, a lower
threshold (hysteresis) keeps soft word endings from splitting an utterance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_HYSTERESIS = 0.15


@dataclass(frozen=True, slots=True)
class Boundary:
    kind: Literal["onset", "false_start", "start", "hush", "pause", "resume", "end"]
    # "onset", "false_start" and "start": the first sample of the voiced run. "hush", "pause"
    # and "end": the last voiced sample. "resume": the first sample of the frame in which voice
    # came back after a pause.
    sample: int


class Endpointer:
    """Feed one probability per VAD frame; get a ``Boundary`` when a turn starts or ends."""

    def __init__(
        self,
        *,
        sample_rate_hz: int,
        frame_samples: int,
        threshold: float,
        min_speech_ms: int,
        end_silence_ms: int,
        pause_silence_ms: int | None = None,
        max_utterance_ms: int | None = None,
    ) -> None:
        self._frame_samples = frame_samples
        self._max_utterance_samples = (
            None if max_utterance_ms is None else sample_rate_hz * max_utterance_ms // 1000
        )
        self._sample_rate_hz = sample_rate_hz
        self._min_speech_samples = sample_rate_hz * min_speech_ms // 1000
        # A pause is a silence long enough to start work on a likely end of turn early.
        self._pause_silence_samples = (
            None if pause_silence_ms is None else sample_rate_hz * pause_silence_ms // 1000
        )
        self.configure(threshold=threshold, end_silence_ms=end_silence_ms)
        self.reset()

    def configure(self, *, threshold: float, end_silence_ms: int) -> None:
        """Change sensitivity and end-of-turn silence; takes effect from the next frame."""
        self._threshold = threshold
        self._release_threshold = max(0.0, threshold - _HYSTERESIS)
        self._end_silence_samples = self._sample_rate_hz * end_silence_ms // 1000

    def reset(self) -> None:
        self._is_speaking = False
        self._run_start_sample: int | None = None
        self._last_voiced_sample = -1
        self._is_paused = False
        self._is_hushed = False

    def push(self, probability: float, *, frame_end_sample: int) -> Boundary | None:
        """Account for the frame ending at ``frame_end_sample`` (exclusive)."""
        frame_start_sample = frame_end_sample - self._frame_samples
        if not self._is_speaking:
            if probability < self._threshold:
                if self._run_start_sample is not None:
                    run_start, self._run_start_sample = self._run_start_sample, None
                    return Boundary("false_start", run_start)
                return None
            is_onset = self._run_start_sample is None
            if is_onset:
                self._run_start_sample = frame_start_sample
            self._last_voiced_sample = frame_end_sample - 1
            assert self._run_start_sample is not None
            if frame_end_sample - self._run_start_sample >= max(self._min_speech_samples, 1):
                self._is_speaking = True
                self._is_hushed = False
                return Boundary("start", self._run_start_sample)
            return Boundary("onset", self._run_start_sample) if is_onset else None
        if probability >= self._release_threshold:
            self._last_voiced_sample = frame_end_sample - 1
            self._is_hushed = False
            assert self._run_start_sample is not None
            if (
                self._max_utterance_samples is not None
                and frame_end_sample - self._run_start_sample >= self._max_utterance_samples
            ):
                # Long enough: the turn ends here, and the voice that goes on starts the next.
                self._is_speaking = False
                self._is_paused = False
                self._run_start_sample = None
                return Boundary("end", self._last_voiced_sample)
            if self._is_paused:
                self._is_paused = False
                return Boundary("resume", frame_start_sample)
            return None
        silence_samples = frame_end_sample - 1 - self._last_voiced_sample
        if silence_samples >= self._end_silence_samples:
            self._is_speaking = False
            self._is_paused = False
            self._run_start_sample = None
            return Boundary("end", self._last_voiced_sample)
        if (
            not self._is_paused
            and self._pause_silence_samples is not None
            and silence_samples >= self._pause_silence_samples
        ):
            self._is_paused = True
            return Boundary("pause", self._last_voiced_sample)
        if not self._is_hushed and not self._is_paused and self._pause_silence_samples is not None:
            # The first quiet frame: a pause may follow. Work that needs only the voice (the
            # turn model) can start now, in the otherwise idle time before the pause is known.
            self._is_hushed = True
            return Boundary("hush", self._last_voiced_sample)
        return None
