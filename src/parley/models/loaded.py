"""The models loaded once per process and shared by every session, and a fixed reply."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from parley.config.settings import Settings
from parley.errors import ConfigError, ModelLoadError
from parley.models.catalogue import SMART_TURN, wheel_member_path
from parley.models.contracts import (
    ChatMessage,
    LanguageModel,
    LlmCapabilities,
    SpeechToText,
    TextToSpeech,
    Vad,
)
from parley.models.embedding import MiniLmEmbedder
from parley.models.factory import make_llm, make_stt, make_tts, make_vad
from parley.models.smart_turn import SmartTurn
from parley.models.voices import config_for

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """The models, loaded once and shared by every session."""

    settings: Settings
    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech
    embedder: MiniLmEmbedder | None = None
    turn_model: SmartTurn | None = None
    # Offline voices other than the configured one that a user or client chose, loaded once.
    other_voices: dict[str, TextToSpeech] = field(default_factory=dict)
    # What the LLM can do beyond streaming a reply, found once here.
    llm_capabilities: LlmCapabilities = field(init=False)

    def __post_init__(self) -> None:
        self.llm_capabilities = LlmCapabilities.of(self.llm)

    @classmethod
    def load(cls, settings: Settings) -> Backends:
        models_dir = settings.models_dir
        llm = make_llm(settings.llm, models_dir=models_dir)
        return cls(
            settings=settings,
            stt=make_stt(settings.stt, models_dir=models_dir, llm=llm),
            llm=llm,
            tts=make_tts(settings.tts, models_dir=models_dir),
            embedder=_load_embedder(settings),
            turn_model=_load_turn_model(settings),
        )

    def tts_for(self, voice: str | None) -> TextToSpeech:
        """The configured voice for None or its own name; another offline voice by its name
        (`backends.voices`), loaded at its first use."""
        if voice is None or voice == self.settings.tts.voice_name:
            return self.tts
        if (loaded := self.other_voices.get(voice)) is not None:
            return loaded
        config = config_for(voice, self.settings.tts)
        if config is None:
            raise ConfigError(
                f"There is no voice {voice!r} here. GET /api/voices (or `parley voices`) lists "
                "the offline voices this machine has."
            )
        loaded = self.other_voices[voice] = make_tts(config, models_dir=self.settings.models_dir)
        return loaded

    def new_vad(self) -> Vad:
        # Silero keeps recurrent state, so each session has its own (it is tiny).
        return make_vad(self.settings.vad)


class FixedReply:
    """A reply Parley knows without asking the LLM (confirming a memory command)."""

    def __init__(self, text: str) -> None:
        self._text = text

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        del messages
        yield self._text


def _load_turn_model(settings: Settings) -> SmartTurn | None:
    if not settings.vad.is_using_turn_model:
        return None
    try:
        return SmartTurn(wheel_member_path(settings.models_dir, SMART_TURN), threads=2)
    except ModelLoadError as error:
        # Turns still end, on silence alone (vad.end_silence_ms).
        log.warning("%s Turns end on silence alone until it is fixed.", error)
        return None


def _load_embedder(settings: Settings) -> MiniLmEmbedder | None:
    if not settings.memory.is_enabled:
        return None
    try:
        return MiniLmEmbedder()
    except ModelLoadError as error:
        # Memory still works by keyword; only recall by meaning is lost.
        log.warning("%s Semantic recall is off until it is fixed.", error)
        return None
