"""The factories that build each backend from its config section. They import lazily, so that
an optional runtime is only needed when it is chosen."""

from __future__ import annotations

import logging
from pathlib import Path

from parley.config.settings import (
    EspeakConfig,
    FliteConfig,
    LlamaCppConfig,
    LlmConfig,
    OpenAICompatConfig,
    PiperConfig,
    SttConfig,
    TtsConfig,
    VadConfig,
    XttsConfig,
)
from parley.errors import ModelLoadError
from parley.models.contracts import LanguageModel, SpeechToText, TextToSpeech, Vad
from parley.models.hypotheses import SentenceScorer

log = logging.getLogger(__name__)


def make_vad(config: VadConfig) -> Vad:
    from parley.models.silero_vad import SileroVad

    return SileroVad(config)


def make_stt(config: SttConfig, *, models_dir: Path, llm: object = None) -> SpeechToText:
    """``llm``: the reply's model, whose thread a llama.cpp scorer of Whisper's hypotheses
    shares (stt.hypotheses)."""
    if config.remote is not None:
        from parley.models.model_server import RemoteStt

        return RemoteStt(config)
    from parley.models.whisper_stt import WhisperStt

    scorer = None
    if config.hypotheses > 1:
        try:
            scorer = _sentence_scorer(models_dir, llm)
        except ModelLoadError as error:
            # Hearing goes on as well as Whisper alone hears: a missing scorer costs accuracy.
            log.warning("%s Whisper's first hypothesis is taken.", error)
    return WhisperStt(config, models_dir=models_dir, scorer=scorer)


def _sentence_scorer(models_dir: Path, llm: object) -> SentenceScorer:
    import concurrent.futures

    from parley.models.catalogue import SENTENCE_SCORER, check_gguf, wheel_member_path
    from parley.models.llama_cpp_llm import LlamaCppLlm
    from parley.models.sentence_scorer import LlamaSentenceScorer
    from parley.models.spare_cores import SpareCores

    path = wheel_member_path(models_dir, SENTENCE_SCORER)
    check_gguf(path)
    if isinstance(llm, LlamaCppLlm):
        return LlamaSentenceScorer(
            path, threads=llm.threads, spare_cores=llm.spare_cores, run=llm.run_beside
        )
    # No llama.cpp model in this process: the scorer's own thread is the only one calling it.
    thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parley-scorer")
    return LlamaSentenceScorer(
        path, threads=2, spare_cores=SpareCores(), run=lambda call: thread.submit(call).result()
    )


def llm_class(config: LlmConfig) -> type:
    """The backend class a config chooses (imported, not loaded)."""
    match config:
        case LlamaCppConfig():
            from parley.models.llama_cpp_llm import LlamaCppLlm

            return LlamaCppLlm
        case OpenAICompatConfig():
            from parley.models.openai_llm import OpenAICompatLlm

            return OpenAICompatLlm
    raise AssertionError(f"unhandled LLM config {config!r}")


def make_llm(config: LlmConfig, *, models_dir: Path) -> LanguageModel:
    match config:
        case LlamaCppConfig():
            from parley.models.llama_cpp_llm import LlamaCppLlm

            return LlamaCppLlm(config, models_dir=models_dir)
        case OpenAICompatConfig():
            from parley.models.openai_llm import OpenAICompatLlm

            return OpenAICompatLlm(config)
    raise AssertionError(f"unhandled LLM config {config!r}")


def make_tts(config: TtsConfig, *, models_dir: Path) -> TextToSpeech:
    if config.remote is not None:
        from parley.models.model_server import RemoteTts

        return RemoteTts(config)
    match config:
        case PiperConfig():
            from parley.models.piper_tts import load_piper_or_fallback

            return load_piper_or_fallback(config, models_dir=models_dir)
        case EspeakConfig():
            from parley.models.espeak_tts import EspeakTts

            return EspeakTts(config)
        case FliteConfig():
            from parley.models.flite_tts import FliteTts

            return FliteTts(config)
        case XttsConfig():
            from parley.models.xtts_tts import XttsTts

            return XttsTts(config)
    raise AssertionError(f"unhandled TTS config {config!r}")
