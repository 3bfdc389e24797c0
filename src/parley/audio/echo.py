"""Acoustic echo cancellation: what the loudspeaker plays is removed from the microphone.

WebRTC's audio processing module (AEC3, as built into the ``livekit`` package) adapts a filter
from the loudspeaker's signal (the far end, "render") to the echo of it in the microphone
("capture"), so that Parley's own voice from the speakers does not reach the VAD as speech
while the user's voice does. It works on 10 ms frames; the two sides arrive from two audio
threads, each through its own method.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from parley.audio.frames import Int16Array
from parley.errors import DeviceError

log = logging.getLogger(__name__)

FRAME_MS = 10  # the only frame length the audio processing module takes


class _Framer:
    """Cuts a stream of blocks into 10 ms frames, keeping the remainder for the next block."""

    def __init__(self, sample_rate_hz: int) -> None:
        self.frame_samples = sample_rate_hz * FRAME_MS // 1000
        self._pending = np.zeros(0, dtype=np.int16)

    def frames(self, samples: Int16Array) -> list[Int16Array]:
        pending = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = pending.size // self.frame_samples * self.frame_samples
        self._pending = pending[whole:].copy()
        return [pending[i : i + self.frame_samples] for i in range(0, whole, self.frame_samples)]


class EchoCanceller:
    """One conversation's echo canceller: ``render`` what is played, ``capture`` what is heard."""

    def __init__(
        self, *, capture_rate_hz: int, render_rate_hz: int, fixed_delay_ms: int | None = None
    ) -> None:
        try:
            from livekit import rtc
        except ImportError as error:
            raise DeviceError(
                "Echo cancellation needs the livekit package (pip install livekit), or set "
                "devices.echo_cancellation: off."
            ) from error
        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=True, high_pass_filter=True, noise_suppression=False
        )
        self._capture_rate_hz, self._render_rate_hz = capture_rate_hz, render_rate_hz
        self._render_framer = _Framer(render_rate_hz)
        self._capture_frame_samples = capture_rate_hz * FRAME_MS // 1000
        self._fixed_delay_ms = fixed_delay_ms
        self._render_delay_s = 0.0
        self._lock = threading.Lock()  # the two sides come from two audio threads

    def render(self, samples: Int16Array, *, output_delay_s: float) -> None:
        """The loudspeaker is about to play ``samples``, ``output_delay_s`` from now."""
        self._render_delay_s = max(0.0, output_delay_s)
        for frame in self._render_framer.frames(samples):
            audio = self._rtc.AudioFrame(
                frame.tobytes(), self._render_rate_hz, 1, self._render_framer.frame_samples
            )
            with self._lock:
                self._apm.process_reverse_stream(audio)

    def capture(self, samples: Int16Array, *, input_delay_s: float) -> Int16Array:
        """The microphone's ``samples`` (recorded ``input_delay_s`` ago), echo removed. Blocks
        must be whole 10 ms frames."""
        frame_samples = self._capture_frame_samples
        if samples.size % frame_samples:
            raise DeviceError(
                f"Echo cancellation takes blocks of whole {FRAME_MS} ms: set audio.frame_ms to "
                "a multiple of 10."
            )
        delay_ms = self._fixed_delay_ms
        if delay_ms is None:
            delay_ms = round((max(0.0, input_delay_s) + self._render_delay_s) * 1000)
        cleaned = np.empty_like(samples)
        for start in range(0, samples.size, frame_samples):
            audio = self._rtc.AudioFrame(
                samples[start : start + frame_samples].tobytes(),
                self._capture_rate_hz,
                1,
                frame_samples,
            )
            with self._lock:
                self._apm.set_stream_delay_ms(min(500, delay_ms))
                self._apm.process_stream(audio)
            cleaned[start : start + frame_samples] = np.frombuffer(audio.data, dtype=np.int16)
        return cleaned
