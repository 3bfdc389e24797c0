"""What Parley tells a Wyoming client it is (``describe`` → ``info``): one speech-to-text
program, one text-to-speech program with every offline voice this machine has, and one
conversation agent, each streaming. Home Assistant lists them from this."""

from __future__ import annotations

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
)

from parley import __version__
from parley.config.settings import LlamaCppConfig, Settings
from parley.models.voices import Voice, offline_voices

ASR_PROGRAM = "parley-asr"
TTS_PROGRAM = "parley-tts"
HANDLE_PROGRAM = "parley-agent"

# Parley runs on the user's machine and has no home page to link to.
_PARLEY = Attribution(name="Parley", url="")
_WHISPER = Attribution(
    name="OpenAI Whisper (faster-whisper)", url="https://github.com/SYSTRAN/faster-whisper"
)
_PIPER = Attribution(name="Piper", url="https://github.com/OHF-Voice/piper1-gpl")
_ESPEAK = Attribution(name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng")
_FLITE = Attribution(name="Flite", url="http://www.festvox.org/flite/")
_LLAMA = Attribution(name="llama.cpp", url="https://github.com/ggml-org/llama.cpp")
_OPENAI_COMPATIBLE = Attribution(name="an OpenAI-compatible server", url="")


def wyoming_info(settings: Settings) -> Info:
    language = settings.stt.language
    languages = [language] if language else ["en"]
    return Info(
        asr=[
            AsrProgram(
                name=ASR_PROGRAM,
                description="Parley's speech-to-text: Silero VAD ends the utterance, Whisper "
                "hears it, with partial transcripts while the user speaks",
                attribution=_PARLEY,
                installed=True,
                version=__version__,
                models=[
                    AsrModel(
                        name=f"whisper-{settings.stt.model}",
                        description=f"Whisper {settings.stt.model}",
                        attribution=_WHISPER,
                        installed=True,
                        version=None,
                        languages=languages,
                    )
                ],
                supports_transcript_streaming=True,
                requires_external_vad=False,
            )
        ],
        tts=[
            TtsProgram(
                name=TTS_PROGRAM,
                description="Parley's offline voices, one sentence at a time as text arrives",
                attribution=_PARLEY,
                installed=True,
                version=__version__,
                voices=[_voice(voice) for voice in offline_voices(settings.models_dir)],
                supports_synthesize_streaming=True,
            )
        ],
        handle=[
            HandleProgram(
                name=HANDLE_PROGRAM,
                description="Parley's own replies: its local LLM, memory of earlier "
                "conversations and tools, streamed clause by clause",
                attribution=_PARLEY,
                installed=True,
                version=__version__,
                models=[
                    HandleModel(
                        name=_llm_name(settings),
                        description="the LLM Parley is configured with",
                        attribution=_LLAMA
                        if isinstance(settings.llm, LlamaCppConfig)
                        else _OPENAI_COMPATIBLE,
                        installed=True,
                        version=None,
                        languages=languages,
                    )
                ],
                supports_handled_streaming=True,
            )
        ],
    )


def _voice(voice: Voice) -> TtsVoice:
    attribution = {"piper": _PIPER, "flite": _FLITE}.get(voice.engine, _ESPEAK)
    return TtsVoice(
        name=voice.name,
        description=voice.description,
        attribution=attribution,
        installed=True,
        version=None,
        languages=[voice.language],
    )


def _llm_name(settings: Settings) -> str:
    llm = settings.llm
    if isinstance(llm, LlamaCppConfig):
        return llm.model_path.stem if llm.model_path is not None else "qwen2.5-0.5b-instruct"
    return llm.model
