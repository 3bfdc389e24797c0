"""Each embedded model, loaded for real and checked the way a user would check it."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parley.audio import decode_file
from parley.backends import ChatMessage
from parley.backends.loaded import Backends


def words(text: str) -> str:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower())


async def test_whisper_transcribes_a_known_sentence(
    backends: Backends, speech: Callable[..., Path]
) -> None:
    audio = decode_file(speech("Please turn on the lights in the kitchen."))
    transcript = await backends.stt.transcribe(audio, is_final=True)
    assert words(transcript.text).split() == [
        "please",
        "turn",
        "on",
        "the",
        "lights",
        "in",
        "the",
        "kitchen",
    ]
    assert transcript.audio_ms == audio.size * 1000 // 16_000


async def test_whisper_transcribes_a_second_voice(
    backends: Backends, speech: Callable[..., Path]
) -> None:
    audio = decode_file(speech("Please set a timer for ten minutes.", voice="en-gb"))
    transcript = await backends.stt.transcribe(audio, is_final=True)
    assert "timer" in words(transcript.text) and "minutes" in words(transcript.text)


async def test_llama_cpp_answers_a_multi_token_chat_with_the_right_fact(backends: Backends) -> None:
    # A broken llama.cpp build crashes on the first prompt of more than one token; this catches it.
    messages = [
        ChatMessage("system", backends.settings.llm.system_prompt),
        ChatMessage("user", "What is the capital of France?"),
    ]
    deltas = [delta async for delta in backends.llm.stream(messages)]
    assert len(deltas) > 2, "the reply did not stream token by token"
    assert "paris" in "".join(deltas).lower()


async def test_closing_the_llm_stream_stops_generation_and_frees_the_model(
    backends: Backends,
) -> None:
    messages = [ChatMessage("user", "Count from one to one hundred, in words.")]
    stream = backends.llm.stream(messages)
    first = [await anext(stream) for _ in range(3)]
    await stream.aclose()  # type: ignore[attr-defined]
    assert len(first) == 3
    # The lock was released: the next request runs to completion.
    reply = "".join([d async for d in backends.llm.stream([ChatMessage("user", "Say hello.")])])
    assert reply.strip()


async def test_piper_speaks_words_that_whisper_hears_back(
    backends: Backends, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    chunks = [c async for c in backends.tts.synthesize("The weather in Paris is sunny today.")]
    audio = np.concatenate(chunks)
    assert audio.dtype == np.int16 and audio.size > backends.tts.sample_rate_hz  # over a second
    heard = await asyncio.to_thread(whisper_check, audio, backends.tts.sample_rate_hz)
    assert {"weather", "paris", "sunny"} <= set(words(heard).split())


@pytest.mark.slow
async def test_espeak_fallback_speaks_when_the_piper_voice_cannot_load(
    tmp_path: Path, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    from parley.backends import make_tts
    from parley.backends.espeak_tts import EspeakTts
    from parley.config import PiperConfig

    tts = make_tts(PiperConfig(), models_dir=tmp_path / "no-models")
    assert isinstance(tts, EspeakTts)
    audio = np.concatenate([c async for c in tts.synthesize("Good morning, how are you?")])
    heard = await asyncio.to_thread(whisper_check, audio, tts.sample_rate_hz)
    assert "morning" in words(heard)


def test_xtts_without_its_runtime_says_what_to_install() -> None:
    from parley.backends import make_tts
    from parley.config import XttsConfig
    from parley.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="pip install coqui-tts"):
        make_tts(XttsConfig(backend="xtts"), models_dir=Path("/nonexistent"))
