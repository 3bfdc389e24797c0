"""Piper text-to-speech with the embedded voice, one piece of text at a time, saying where each
word falls in its audio.

The voice is patched in memory to report its phoneme alignments (piper-tts's own patch, which
needs the ``onnx`` package): the model's durations, which it computes anyway, become a second
output, so the audio and its speed are unchanged. An interrupted reply is then stored to the word
that was playing (``piper_words``), not to a share of the sentence's words.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from parley.audio.frames import Int16Array
from parley.config.settings import EspeakConfig, PiperConfig
from parley.errors import ModelLoadError
from parley.models.catalogue import piper_voice_path
from parley.models.contracts import TimedSpeech
from parley.models.derived_files import derived_path, keep
from parley.models.espeak_tts import EspeakTts
from parley.models.piper_words import group_starts
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
            from piper.config import PiperConfig as VoiceConfig
            from piper.config import SynthesisConfig

            # Built here rather than by PiperVoice.load, which would open a session of its own
            # only for it to be replaced by the patched, quiet one.
            session, self.has_word_timing = _aligned_session(voice_path, config.threads)
            self._voice = PiperVoice(
                config=VoiceConfig.from_dict(json.loads(config_path.read_text("utf-8"))),
                session=session,
            )
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

    def _chunks(self, text: str, speed: float) -> Iterator[TimedSpeech]:
        synthesis = self._synthesis_config(
            length_scale=1.0 / (self._base_speed * speed),
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w,
        )
        with self._lock:
            for chunk in self._voice.synthesize(
                text, syn_config=synthesis, include_alignments=self.has_word_timing
            ):
                alignments = chunk.phoneme_alignments
                groups = (
                    None
                    if alignments is None
                    else tuple(group_starts([(a.phoneme, a.num_samples) for a in alignments]))
                )
                yield TimedSpeech(chunk.audio_int16_array, groups)

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        async for chunk in iterate_in_thread(self._chunks(text, speed)):
            yield chunk.samples

    async def synthesize_timed(
        self, text: str, *, speed: float = 1.0
    ) -> AsyncIterator[TimedSpeech]:
        async for chunk in iterate_in_thread(self._chunks(text, speed)):
            yield chunk


def load_piper_or_fallback(config: PiperConfig, *, models_dir: Path) -> PiperTts | EspeakTts:
    try:
        return PiperTts(config, models_dir=models_dir)
    except ModelLoadError as error:
        if not config.fallback_to_espeak:
            raise
        log.warning("%s Speaking with espeak-ng instead.", error)
        return EspeakTts(EspeakConfig(backend="espeak", speed=config.speed))


def _aligned_session(voice_path: Path, threads: int) -> tuple[Any, bool]:
    """The voice's session, patched to report alignments where it can be, and whether it is.
    A kept patched voice that no longer loads is removed and derived again: it is the copy at
    fault, not the voice."""
    model, has_word_timing = _with_alignments(voice_path)
    try:
        return _quiet_session(model, threads), has_word_timing
    except Exception:
        if not isinstance(model, str) or Path(model) == voice_path:
            raise
        log.warning("The kept copy of Piper voice %s does not load: patching it again", model)
        Path(model).unlink(missing_ok=True)
        model, has_word_timing = _with_alignments(voice_path)
        return _quiet_session(model, threads), has_word_timing


def _with_alignments(voice_path: Path) -> tuple[str | bytes, bool]:
    """The voice's model patched to report phoneme alignments, and whether it could be."""
    kept = derived_path(voice_path, "aligned", ".onnx")
    if kept.is_file():
        return str(kept), True  # nor is onnx imported, which alone takes most of a second
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        log.warning(
            "The onnx package is missing, so Piper cannot say where its words fall: an "
            "interrupted reply is stored to an estimate of the words heard. Run `make install`."
        )
        return str(voice_path), False
    model = onnx.load(str(voice_path))
    try:
        add_alignment_output(model)
    except ValueError as error:  # patched on disk already, or a voice without durations
        log.info("Piper voice %s is used as it is (%s)", voice_path.name, error)
    patched: bytes = model.SerializeToString()
    keep(kept, patched)  # a second of CPU at every start, for a file that never changes
    return patched, True


def _quiet_session(model: str | bytes, threads: int) -> Any:
    """The voice's ONNX session with ``threads`` threads that sleep when idle: by default
    onnxruntime keeps its pool spinning between runs, which on 2 cores takes time from the
    LLM writing the rest of the reply while this voice speaks its first words."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )
