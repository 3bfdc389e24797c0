"""espeak-ng text-to-speech: robotic but always available, the fallback when Piper cannot load."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import numpy as np

from parley.audio import decode_bytes
from parley.config import EspeakConfig
from parley.errors import BackendError, ModelLoadError
from parley.events import Int16Array

_ESPEAK_WORDS_PER_MINUTE = 175


class EspeakTts:
    sample_rate_hz = 22_050

    def __init__(self, config: EspeakConfig) -> None:
        executable = shutil.which("espeak-ng")
        if executable is None:
            raise ModelLoadError(
                "espeak-ng is not installed. Install it with `apt-get install espeak-ng` "
                "(`make run` does this for you)."
            )
        self._executable = executable
        self._voice = config.voice
        self._words_per_minute = round(_ESPEAK_WORDS_PER_MINUTE * config.speed)

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        process = await asyncio.create_subprocess_exec(
            self._executable,
            "-v",
            self._voice,
            "-s",
            str(round(self._words_per_minute * speed)),
            "--stdout",
            text,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            wav, error_output = await process.communicate()
        except asyncio.CancelledError:
            if process.returncode is None:
                process.kill()
            raise
        if process.returncode != 0:
            raise BackendError(f"espeak-ng failed: {error_output.decode(errors='replace').strip()}")
        samples = decode_bytes(wav, sample_rate_hz=self.sample_rate_hz)
        yield np.asarray(samples, dtype=np.int16)
