"""What the models exchange with the rest of Parley: the domain types (a transcript, a chat
message, a tool call) and the small Protocols each backend implements, with the capabilities
an LLM may have beyond streaming a reply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from parley.audio.frames import Int16Array
from parley.config.settings import (
    LlmConfig,
)


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    audio_ms: int
    decode_ms: float
    # The recogniser was unsure of its words (Whisper: a low mean log-probability): not made
    # out, so the user is asked to say it again.
    is_unclear: bool = False
    # Decoded as a partial, more cheaply than a final would be (Whisper's hypotheses not
    # weighed): it never stands for the final, which is decoded anew.
    is_rough: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call the assistant made, as the chat format records it before the tool's answer."""

    call_id: str
    name: str
    arguments_json: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    # An assistant message that called tools, or a tool's answer to one of those calls. A tool's
    # words enter the prompt with the tool role, never with the system's authority.
    tool_calls: tuple[ToolCallRecord, ...] = ()
    tool_call_id: str | None = None

    def as_openai(self) -> dict[str, Any]:
        """The OpenAI chat-completions shape, which llama.cpp's chat templates also read."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


def tool_exchange(
    results: Sequence[tuple[str, str, str]],
) -> list[ChatMessage]:
    """The assistant's calls and each tool's answer, for (name, arguments JSON, answer) triples."""
    calls = tuple(
        ToolCallRecord(f"call_{index}", name, arguments)
        for index, (name, arguments, _answer) in enumerate(results)
    )
    answers = [
        ChatMessage("tool", answer, tool_call_id=call.call_id)
        for call, (_name, _arguments, answer) in zip(calls, results, strict=True)
    ]
    return [ChatMessage("assistant", "", tool_calls=calls), *answers]


class Vad(Protocol):
    """Speech probability per frame. It keeps recurrent state, so each session has its own
    (``Backends.new_vad``) and none is ever reset or shared."""

    sample_rate_hz: int
    frame_samples: int

    def speech_probability(self, frame: Int16Array) -> float: ...


class SpeechToText(Protocol):
    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        """The words of ``audio``. A partial that heard every voiced frame stands for the final
        (speculation), unless it comes back ``is_rough``: a partial may be decoded more cheaply
        than a final, and then says so."""
        ...


class LanguageModel(Protocol):
    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Text deltas of the reply; closing the iterator stops generation."""
        ...


@runtime_checkable
class PromptReader(Protocol):
    """An LLM that can read a likely prompt into its cache while the user still speaks."""

    async def prefill(self, messages: Sequence[ChatMessage]) -> bool: ...


@runtime_checkable
class TokenCounter(Protocol):
    """An LLM with its own tokenizer at hand (usage figures; else they are estimated)."""

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class JsonWriter(Protocol):
    """An LLM that can write a reply held to a JSON schema (a tool call's arguments)."""

    async def complete_json(
        self, messages: list[ChatMessage], schema: dict[str, Any]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LlmCapabilities:
    """What an LLM backend can do beyond streaming a reply, found once when it loads: the
    pipeline asks these, never the model object, whether it can."""

    prompt_reader: PromptReader | None = None
    token_counter: TokenCounter | None = None
    json_writer: JsonWriter | None = None

    @classmethod
    def of(cls, llm: object) -> LlmCapabilities:
        return cls(
            prompt_reader=llm if isinstance(llm, PromptReader) else None,
            token_counter=llm if isinstance(llm, TokenCounter) else None,
            json_writer=llm if isinstance(llm, JsonWriter) else None,
        )

    @staticmethod
    def lacking_in(kind: type) -> list[str]:
        """What a backend class cannot do, and what that costs the user (known without
        loading its model)."""
        return [
            cost
            for capability, cost in (
                (
                    PromptReader,
                    "no read-ahead: the prompt is read after the turn ends, not while the user "
                    "speaks",
                ),
                (
                    TokenCounter,
                    "no tokenizer: token figures are estimated (about 4 characters each)",
                ),
                (JsonWriter, "no JSON-held replies: tool arguments are guessed from the words"),
            )
            if not issubclass(kind, capability)
        ]


@runtime_checkable
class ReconfigurableLanguageModel(Protocol):
    """An LLM whose per-reply settings (temperature, reply length) a config reload may change."""

    def reconfigure(self, config: LlmConfig) -> None: ...


class TextToSpeech(Protocol):
    sample_rate_hz: int

    def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        """Audio chunks as they are ready; ``speed`` scales the configured speaking rate."""
        ...


@dataclass(frozen=True, slots=True)
class TimedSpeech:
    """A chunk of speech, with the sample at which each spoken word group in it starts (espeak
    may say two words as one group, "on the", or one as several, "42"), or None when the voice
    could not tell."""

    samples: Int16Array
    word_group_starts: tuple[int, ...] | None


@runtime_checkable
class WordTimedSpeech(Protocol):
    """A voice that says where its words fall in its audio (Piper, with its alignments): an
    interrupted reply is then stored to the word that was playing."""

    sample_rate_hz: int

    def synthesize_timed(self, text: str, *, speed: float = 1.0) -> AsyncIterator[TimedSpeech]:
        """As ``synthesize``, with each chunk's word groups."""
        ...
