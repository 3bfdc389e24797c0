"""faster-whisper speech-to-text.

Whisper pads every call to a 30 s window, so a decode costs about the same whatever its length;
streaming therefore means re-decoding the growing utterance now and then (the listener throttles
it), and one final decode at the end of the turn. The model is shared by all sessions, and
CTranslate2 models are not reentrant, so calls are serialised by a lock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np

from parley.backends import Transcript
from parley.config import SttConfig
from parley.embedded_models import whisper_dir
from parley.errors import ModelLoadError
from parley.events import Int16Array

_SAMPLE_RATE_HZ = 16_000


class WhisperStt:
    def __init__(self, config: SttConfig, *, models_dir: Path) -> None:
        self._config = config
        directory = whisper_dir(models_dir, config.model)
        if not (directory / "model.bin").is_file():
            raise ModelLoadError(
                f"Whisper model {config.model!r} is missing from {directory}. Run `make run` or "
                "`parley models install` to assemble the embedded models, or set stt.model to a "
                "CTranslate2 Whisper directory."
            )
        try:
            from faster_whisper import WhisperModel

            self._model = WhisperModel(
                str(directory), device="cpu", compute_type="int8", cpu_threads=config.cpu_threads
            )
        except Exception as error:  # a corrupt model.bin raises from deep inside CTranslate2
            raise ModelLoadError(
                f"Whisper model in {directory} cannot load ({error}). Delete the directory and run "
                "`parley models install` again."
            ) from None
        self._lock = threading.Lock()

    def _decode(self, audio: Int16Array) -> Transcript:
        started_ns = time.perf_counter_ns()
        as_float = audio.astype(np.float32) / np.float32(32768.0)
        with self._lock:
            segments, _info = self._model.transcribe(
                as_float,
                language=self._config.language,
                beam_size=self._config.beam_size,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            # Decoding happens while the segments generator is consumed, so it stays in this thread.
            text = "".join(segment.text for segment in segments).strip()
        return Transcript(
            text=text,
            audio_ms=audio.size * 1000 // _SAMPLE_RATE_HZ,
            decode_ms=(time.perf_counter_ns() - started_ns) / 1e6,
        )

    async def transcribe(self, audio: Int16Array, *, is_final: bool) -> Transcript:
        del is_final  # the same decode serves partials and finals; the caller decides which
        return await asyncio.to_thread(self._decode, audio)
