"""espeak-ng text-to-speech: robotic but always available, the fallback when Piper cannot load."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

from parley.audio.frames import Int16Array
from parley.config.settings import EspeakConfig
from parley.errors import ModelLoadError
from parley.models.speech_process import spoken_by_process

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
        words_per_minute = str(round(self._words_per_minute * speed))
        yield await spoken_by_process(
            [self._executable, "-v", self._voice, "-s", words_per_minute, "--stdout", text],
            sample_rate_hz=self.sample_rate_hz,
        )
