"""The sections of the LLM and the voice: each a choice of backend (`backend:`), one typed
model per backend; a section without `backend:` is the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, HttpUrl, SecretStr, Tag

from parley.config.sections import ModelServerConfig, Section


class _LlmCommon(Section):
    context_tokens: int = Field(4096, ge=512, description="the model's context window")
    system_prompt: str = (
        "You are Parley, a friendly voice assistant running on the user's own computer. "
        "Your words are spoken aloud, so answer in one or two short sentences of plain speech: "
        "no lists, no markdown, no emoji, and write numbers and symbols as words."
    )
    max_reply_tokens: int = Field(120, ge=1, le=1024)
    temperature: float = Field(0.3, ge=0, le=2)
    history_turns: int = Field(8, ge=0, description="earlier exchanges kept in the prompt")
    is_prefilling: bool = Field(
        True,
        description="read the prompt into the KV cache from partial transcripts while the user speaks",
    )


class LlamaCppConfig(_LlmCommon):
    backend: Literal["llama_cpp"] = "llama_cpp"
    model: Literal["1.5b", "0.5b"] = Field(
        "1.5b",
        description="the embedded Qwen2.5: 1.5b knows more, 0.5b answers sooner on a slow CPU",
    )
    model_path: Path | None = Field(
        None, description="a GGUF file of your own, instead of the embedded `model`"
    )
    draft: Literal["none", "0.5b", "prompt-lookup"] = Field(
        "none",
        description="speculative decoding: guesses the model checks in one batch, from the 0.5b "
        "model or copied from the prompt. Off: on 2 cores neither is cheap enough to gain "
        "(`parley bench --drafts` measures them on yours)",
    )
    n_threads: int = Field(
        2,
        ge=1,
        description="threads while generating tokens, at most: fewer while other processes "
        "keep cores busy (models.spare_cores)",
    )
    n_threads_batch: int = Field(
        2, ge=1, description="threads while reading the prompt, at most (as n_threads)"
    )
    repeat_penalty: float = Field(1.15, ge=1.0, le=2.0, description="small models loop without it")
    seed: int = 0


class OpenAICompatConfig(_LlmCommon):
    backend: Literal["openai"]
    base_url: HttpUrl
    fallback_urls: list[HttpUrl] = Field(
        default_factory=list,
        description="more servers of the same model, tried in order when one cannot answer",
    )
    recheck_after_s: float = Field(
        15.0, gt=0, description="a server that failed is skipped this long, then checked again"
    )
    model: str = "default"
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0)


def _backend_or(default: str) -> Any:
    # A section without `backend:` means the default backend, so `llm: {temperature: 0}` works.
    def pick(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("backend", default))
        return str(getattr(value, "backend", default))

    return Discriminator(pick)


LlmConfig = Annotated[
    Annotated[LlamaCppConfig, Tag("llama_cpp")] | Annotated[OpenAICompatConfig, Tag("openai")],
    _backend_or("llama_cpp"),
]


class _TtsCommon(Section):
    speed: float = Field(1.0, gt=0.25, le=4.0, description="speaking rate; 1.0 is the voice's own")
    first_piece_max_words: int = Field(
        3,
        ge=0,
        description="start speaking before the first clause ends: after a comma or before a "
        "word that opens a phrase, or after this many words (0: only at a clause). Measured "
        "(parley bench --runs 3, 2-core EPYC): voice-to-voice median 474 ms at 5 words, 431 at 3; "
        "the silence left where a sentence is cut is trimmed to ~30 ms (pipeline.piece_joins)",
    )
    remote: ModelServerConfig | None = Field(
        None, description="speak through a model server's voice of this name instead of here"
    )


class PiperConfig(_TtsCommon):
    backend: Literal["piper"] = "piper"
    noise_scale: float | None = Field(
        None, ge=0, le=2, description="voice variation; empty: the voice's own, 0: deterministic"
    )
    noise_w: float | None = Field(None, ge=0, le=2, description="timing variation; as noise_scale")
    voice_path: Path | None = Field(
        None, description="an .onnx voice; empty means the embedded voice"
    )
    fallback_to_espeak: bool = Field(
        True, description="speak with espeak-ng if the voice cannot load"
    )
    threads: int = Field(2, ge=1, description="the voice's threads (they sleep when idle)")

    @property
    def voice_name(self) -> str:
        return self.voice_path.stem if self.voice_path is not None else "en_US-joe-medium"


class EspeakConfig(_TtsCommon):
    backend: Literal["espeak"]
    voice: str = "en-us"

    @property
    def voice_name(self) -> str:
        return f"espeak-{self.voice}"


class FliteConfig(_TtsCommon):
    backend: Literal["flite"]
    voice: Literal["slt", "rms", "awb", "kal", "kal16"] = Field(
        "slt", description="Debian flite's voices: slt (female), rms and awb (male), kal (diphone)"
    )

    @property
    def voice_name(self) -> str:
        return f"flite-{self.voice}"


class XttsConfig(_TtsCommon):
    backend: Literal["xtts"]
    model_dir: Path | None = None
    speaker_wav: Path | None = None
    language: str = "en"

    @property
    def voice_name(self) -> str:
        return self.speaker_wav.stem if self.speaker_wav is not None else "xtts"


TtsConfig = Annotated[
    Annotated[PiperConfig, Tag("piper")]
    | Annotated[EspeakConfig, Tag("espeak")]
    | Annotated[FliteConfig, Tag("flite")]
    | Annotated[XttsConfig, Tag("xtts")],
    _backend_or("piper"),
]
