"""Piper text-to-speech with the embedded voice, one piece of text at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from parley.audio.frames import Int16Array
from parley.config.settings import EspeakConfig, PiperConfig
from parley.errors import ModelLoadError
from parley.models.catalogue import piper_voice_path
from parley.models.espeak_tts import EspeakTts
from parley.models.thread_bridge import iterate_in_thread

log = logging.getLogger(__name__)


class PiperTts:
    def __init__(self, config: PiperConfig, *, models_dir: Path) -> None:
        voice_path = config.voice_path or piper_voice_path(models_dir)
        config_path = voice_path.with_name(voice_path.name + ".json")
        if not voice_path.is_file() or not config_path.is_file():
            raise ModelLoadError(
                f"Piper voice {voice_path} (with its .json) is missing. Run `parley models install`, "
                "or set tts.voice_path to an .onnx voice that has its .onnx.json beside it."
            )
        try:
            from piper import PiperVoice
            from piper.config import SynthesisConfig

            self._voice = PiperVoice.load(voice_path, config_path=config_path)
            self._voice.session = _quiet_session(voice_path, config.threads)
        except Exception as error:  # onnxruntime raises its own types for a corrupt model
            raise ModelLoadError(
                f"Piper voice {voice_path} cannot load ({error}). Delete it and run "
                "`parley models install` again."
            ) from None
        self._synthesis_config = SynthesisConfig
        self._base_speed = config.speed
        self._noise_scale = config.noise_scale
        self._noise_w = config.noise_w
        self.sample_rate_hz: int = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def _chunks(self, text: str, speed: float) -> Iterator[Int16Array]:
        synthesis = self._synthesis_config(
            length_scale=1.0 / (self._base_speed * speed),
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w,
        )
        with self._lock:
            for chunk in self._voice.synthesize(text, syn_config=synthesis):
                yield chunk.audio_int16_array

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        async for samples in iterate_in_thread(self._chunks(text, speed)):
            yield samples


def load_piper_or_fallback(config: PiperConfig, *, models_dir: Path) -> PiperTts | EspeakTts:
    try:
        return PiperTts(config, models_dir=models_dir)
    except ModelLoadError as error:
        if not config.fallback_to_espeak:
            raise
        log.warning("%s Speaking with espeak-ng instead.", error)
        return EspeakTts(EspeakConfig(backend="espeak", speed=config.speed))


def _quiet_session(voice_path: Path, threads: int) -> Any:
    """The voice's ONNX session with ``threads`` threads that sleep when idle: by default
    onnxruntime keeps its pool spinning between runs, which on 2 cores takes time from the
    LLM writing the rest of the reply while this voice speaks its first words."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(voice_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
