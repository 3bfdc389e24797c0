"""The client's microphone audio: resampled to Parley's input rate, then either cut into
20 ms frames for the listener (server VAD) or held until the client commits it."""

from __future__ import annotations

import time

import numpy as np
import soxr

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, Int16Array
from parley.config.settings import ServerConfig
from parley.pipeline.channel import Channel
from parley.server.realtime.protocol import ClientEventError

MIN_COMMIT_MS = 100
_FRAME_SAMPLES = INPUT_SAMPLE_RATE_HZ // 50  # 20 ms


class InputAudio:
    def __init__(self, limits: ServerConfig, *, client_rate_hz: int) -> None:
        self._limits = limits
        # Back-pressure, never loss: a client that sends audio faster than it is heard waits.
        self.frames: Channel[AudioFrame] = Channel(maxsize=100, overflow="block")
        self._stream_sample = 0
        self._held: list[Int16Array] = []
        self._client_rate_hz = 0
        self._resampler: soxr.ResampleStream | None = None
        self.set_client_rate(client_rate_hz)

    def set_client_rate(self, rate_hz: int) -> None:
        if rate_hz == self._client_rate_hz:
            return
        self._client_rate_hz = rate_hz
        self._resampler = (
            None
            if rate_hz == INPUT_SAMPLE_RATE_HZ
            else soxr.ResampleStream(rate_hz, INPUT_SAMPLE_RATE_HZ, 1, dtype="int16")
        )

    async def append(self, samples: Int16Array, *, is_held: bool) -> None:
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        if samples.size == 0:
            return
        if is_held:
            held_samples = sum(piece.size for piece in self._held)
            limit_samples = int(self._limits.max_input_buffer_s * INPUT_SAMPLE_RATE_HZ)
            if held_samples + samples.size > limit_samples:
                raise ClientEventError(
                    "input_audio_buffer_full",
                    f"The input audio buffer holds {held_samples / INPUT_SAMPLE_RATE_HZ:.0f} s, "
                    f"the most it takes is {self._limits.max_input_buffer_s:g} s: commit it (or "
                    "clear it) before appending more. This append was not added.",
                )
            self._held.append(samples)
            return
        # Frames of a microphone's size: VAD runs between them and the event loop stays free
        # for other sessions, however large one append is.
        for start in range(0, samples.size, _FRAME_SAMPLES):
            frame = AudioFrame(
                samples=samples[start : start + _FRAME_SAMPLES],
                start_sample=self._stream_sample,
                t_ns=time.perf_counter_ns(),
            )
            self._stream_sample += frame.samples.size
            await self.frames.send(frame)

    def take_held(self) -> Int16Array:
        """The audio held for a commit, which must be long enough to be a turn."""
        audio = np.concatenate(self._held) if self._held else np.zeros(0, np.int16)
        self._held.clear()
        if audio.size < INPUT_SAMPLE_RATE_HZ * MIN_COMMIT_MS // 1000:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                f"The buffer holds {audio.size * 1000 // INPUT_SAMPLE_RATE_HZ} ms of audio; "
                f"commit needs at least {MIN_COMMIT_MS} ms.",
            )
        return audio

    def clear_held(self) -> None:
        self._held.clear()
