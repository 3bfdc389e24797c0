"""Debian flite's voices (slt, rms, awb): clearer than espeak-ng, as quick (a sentence in ~60 ms
with the process start), 16 kHz."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

from parley.audio.frames import Int16Array
from parley.config.settings import FliteConfig
from parley.errors import ModelLoadError
from parley.models.speech_process import spoken_by_process


class FliteTts:
    sample_rate_hz = 16_000

    def __init__(self, config: FliteConfig) -> None:
        executable = shutil.which("flite")
        if executable is None:
            raise ModelLoadError(
                "flite is not installed. Install it with `apt-get install flite` (`make run` "
                "does this for you)."
            )
        self._executable = executable
        self._voice = config.voice
        self._speed = config.speed

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        # flite stretches durations: 2 is half as fast.
        stretch = f"duration_stretch={1 / (self._speed * speed):.3f}"
        yield await spoken_by_process(
            [
                self._executable,
                "-voice",
                self._voice,
                "--setf",
                stretch,
                "-t",
                text,
                "-o",
                "/dev/stdout",
            ],
            sample_rate_hz=self.sample_rate_hz,
        )
