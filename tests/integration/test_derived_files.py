"""What the models derive at a start (the Piper voice patched for alignments, Whisper's silent
window's end, the tool texts' vectors) is kept, and a second start that reads it speaks, hears
and routes as the first did."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from parley.audio.pcm import decode_file
from parley.config.settings import PiperConfig, SttConfig
from parley.models.derived_files import derived_dir
from parley.models.embedding import MiniLmEmbedder
from parley.models.piper_tts import PiperTts
from parley.models.whisper_stt import WhisperStt
from parley.tools.request_classifier import NEEDS_NO_TOOL


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "parley"


def kept(kind: str) -> list[Path]:
    return sorted(derived_dir().glob(f"*.{kind}*"))


async def spoken(tts: PiperTts, text: str) -> tuple[np.ndarray, list[object]]:
    samples, groups = [], []
    async for chunk in tts.synthesize_timed(text):
        samples.append(chunk.samples)
        groups.append(chunk.word_group_starts)
    return np.concatenate(samples), groups


def test_a_second_piper_start_speaks_from_the_kept_voice_as_the_first_did(models_dir: Path) -> None:
    config = PiperConfig(noise_scale=0.0, noise_w=0.0)
    first = PiperTts(config, models_dir=models_dir)
    assert len(kept("aligned")) == 1
    second = PiperTts(config, models_dir=models_dir)
    assert first.has_word_timing and second.has_word_timing
    text = "The kettle has boiled, and the tea is ready."
    samples_first, words_first = asyncio.run(spoken(first, text))
    samples_second, words_second = asyncio.run(spoken(second, text))
    assert np.array_equal(samples_first, samples_second)
    assert words_first == words_second and words_first[0] is not None
    (voice_file,) = kept("aligned")
    voice_file.write_bytes(b"not a model")  # damaged: patched again, and kept whole
    third = PiperTts(config, models_dir=models_dir)
    assert third.has_word_timing
    assert np.array_equal(asyncio.run(spoken(third, text))[0], samples_first)
    assert voice_file.stat().st_size > 1_000_000


def test_a_second_whisper_start_reads_the_window_end_and_hears_alike(
    models_dir: Path, piper_speech
) -> None:  # type: ignore[no-untyped-def]
    first = WhisperStt(SttConfig(), models_dir=models_dir)
    (states_file,) = kept("window-end")
    states_file.write_bytes(b"not an array")  # damaged: derived again, and kept whole
    second = WhisperStt(SttConfig(), models_dir=models_dir)
    third = WhisperStt(SttConfig(), models_dir=models_dir)
    for other in (second, third):
        assert np.array_equal(first._window_end_states, other._window_end_states)
    audio = decode_file(piper_speech("What is the capital of France?"))
    heard = [asyncio.run(stt.transcribe(audio)).text for stt in (first, third)]
    assert heard[0] == heard[1] and "capital of France" in heard[0]


def test_tool_texts_embedded_at_one_start_are_read_at_the_next() -> None:
    texts = list(NEEDS_NO_TOOL[:5])
    first = MiniLmEmbedder()
    vectors = np.stack([first.embed_fixed(t) for t in texts])
    first.keep_fixed()
    (vectors_file,) = kept("fixed-texts")
    with np.load(vectors_file) as file:
        assert list(file["texts"]) == texts
        assert np.array_equal(file["vectors"], vectors)
    second = MiniLmEmbedder()
    assert np.allclose(
        np.stack([second.embed_fixed(t) for t in texts]),
        [second.embed(t) for t in texts],
        atol=1e-6,
    )
    vectors_file.write_bytes(b"PK damaged")
    third = MiniLmEmbedder()  # reads nothing from a damaged file: embeds again
    assert np.allclose(np.stack([third.embed_fixed(t) for t in texts]), vectors, atol=1e-6)
