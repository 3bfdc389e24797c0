"""Whether the user has finished their turn, heard in the voice itself: Smart Turn v3.2 (an
8 MB ONNX model from the Pipecat project, BSD-2-Clause) reads the intonation and the shape of
the last words, not only the silence after them.

Its input is Whisper's log-mel features (80 bands, 10 ms hops) of the last 8 s of the
utterance, zero-padded at the front, from a waveform normalised to zero mean and unit variance;
its output, the probability that the turn is complete.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.errors import ModelLoadError

WINDOW_S = 8
_WINDOW_SAMPLES = WINDOW_S * INPUT_SAMPLE_RATE_HZ
_NORMALISING_EPSILON = 1e-7


class SmartTurn:
    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        if not model_path.is_file():
            raise ModelLoadError(
                f"The turn model {model_path} is missing. Run `parley models install` (it fetches "
                "the Smart Turn model from PyPI), or set vad.is_using_turn_model: false."
            )
        try:
            import onnxruntime as ort
            from faster_whisper.feature_extractor import FeatureExtractor
        except ImportError as error:
            raise ModelLoadError(f"The turn model cannot load ({error}). Run `make run`.") from None
        options = ort.SessionOptions()
        # It runs alone on the cores at a pause (before Whisper, see Hearing.judge_pause), and
        # does not spin its threads when done, so the next model has them at once.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_path), sess_options=options)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"The turn model {model_path} cannot load ({error}). Delete it and run "
                "`parley models install` again."
            ) from None
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)

    def completion_probability(self, audio: Int16Array) -> float:
        """How likely it is that the utterance ``audio`` (16 kHz) is a finished turn. Blocking:
        call it in a thread."""
        window = audio[-_WINDOW_SAMPLES:].astype(np.float32) / 32768.0
        window = np.pad(window, (_WINDOW_SAMPLES - window.size, 0))
        window = (window - window.mean()) / np.sqrt(window.var() + _NORMALISING_EPSILON)
        features = self._features(window, padding=0)[np.newaxis].astype(np.float32)
        (probability,) = self._session.run(None, {"input_features": features})[0][0]
        return float(probability)
