"""XTTS v2 voice cloning through Coqui TTS. Its weights cannot be installed from PyPI, so this
backend loads them from a directory the user provides, and says exactly what is missing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from parley.audio.frames import Int16Array
from parley.audio.pcm import float32_to_int16
from parley.config.settings import XttsConfig
from parley.errors import ModelLoadError

_REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")


class XttsTts:
    sample_rate_hz = 24_000

    def __init__(self, config: XttsConfig) -> None:
        try:
            from TTS.tts.configs.xtts_config import XttsConfig as CoquiXttsConfig
            from TTS.tts.models.xtts import Xtts
        except ImportError:
            raise ModelLoadError(
                "The XTTS backend needs Coqui TTS: `.venv/bin/pip install coqui-tts` (it pulls in "
                "PyTorch), plus the XTTS v2 weights in a directory set as tts.model_dir."
            ) from None
        if config.model_dir is None or not all(
            (config.model_dir / f).is_file() for f in _REQUIRED_FILES
        ):
            raise ModelLoadError(
                f"XTTS v2 weights not found in {config.model_dir}: set tts.model_dir to a directory "
                f"holding {', '.join(_REQUIRED_FILES)} (the coqui/XTTS-v2 release)."
            )
        if config.speaker_wav is None or not config.speaker_wav.is_file():
            raise ModelLoadError("XTTS clones a voice: set tts.speaker_wav to a WAV of the voice.")
        coqui_config = CoquiXttsConfig()
        coqui_config.load_json(str(config.model_dir / "config.json"))
        self._model: Any = Xtts.init_from_config(coqui_config)
        self._model.load_checkpoint(coqui_config, checkpoint_dir=str(config.model_dir))
        self._latents = self._model.get_conditioning_latents(audio_path=[str(config.speaker_wav)])
        self._config = config

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        gpt_latent, speaker_embedding = self._latents

        def _run() -> Int16Array:
            output = self._model.inference(
                text, self._config.language, gpt_latent, speaker_embedding, speed=speed
            )
            return float32_to_int16(np.asarray(output["wav"], dtype=np.float32))

        yield await asyncio.to_thread(_run)
