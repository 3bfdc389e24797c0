"""Parley's live decode (the clip-length window it uses at every pause) hears as well as
Whisper's own decode of the whole utterance through its 30 s windows, on recorded human speech
(pocketsphinx's test data from PyPI) and on the bench's synthetic voices."""

from pathlib import Path

import pytest

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_file, write_wav
from parley.bench.figures import word_errors
from parley.bench.prompts import DEFAULT_PROMPTS, ESPEAK_VOICES, Prompt, espeak_say, load_prompts
from parley.bench.real_speech import real_speech_dir
from parley.models.loaded import Backends
from tests.conftest import TEST_DATA_DIR


def _tolerance(words: int) -> int:
    """One word in a hundred: the decoders' float sums differ between CPUs (AVX2, AVX-512), and
    a sound on the edge of two words can tip either way. On the AVX-512 machine this was
    measured on, the live decode erred on fewer words than the whole decode in both sets."""
    return words // 100


async def _errors(backends: Backends, prompts: list[Prompt]) -> tuple[int, int, int]:
    live = whole = words = 0
    for prompt in prompts:
        audio = decode_file(prompt.path)
        heard = (await backends.stt.transcribe(audio)).text
        live += word_errors(prompt.text, heard)[0]
        whole += word_errors(prompt.text, backends.stt.transcribe_whole(audio).text)[0]  # type: ignore[attr-defined]
        words += word_errors(prompt.text, heard)[1]
    return live, whole, words


@pytest.mark.slow
async def test_recorded_speech_is_heard_as_well_as_by_whisper_s_whole_decode(
    backends: Backends,
) -> None:
    recorded = load_prompts(real_speech_dir(TEST_DATA_DIR, may_fetch=False))
    assert len(recorded) == 11 and all(p.text for p in recorded)
    assert "dashwood" in " ".join(p.text for p in recorded)
    live, whole, words = await _errors(backends, recorded)
    print(f"recorded speech: live {live}/{words} word errors, whole decode {whole}/{words}")
    assert live <= whole + _tolerance(words) and live / words < 0.15


@pytest.mark.slow
async def test_synthetic_voices_are_heard_as_well_as_by_whisper_s_whole_decode(
    tmp_path: Path, backends: Backends
) -> None:
    # espeak-ng's voices, which say the same words the same way every time (Piper's vary from
    # one synthesis to the next, so a comparison on them would not repeat).
    synthetic = []
    for index, (text, _expected) in enumerate(DEFAULT_PROMPTS):
        for voice in ESPEAK_VOICES:
            path = tmp_path / f"{index:02d}-{voice}.wav"
            write_wav(path, espeak_say(text, voice), INPUT_SAMPLE_RATE_HZ)
            synthetic.append(Prompt(text, path))
    live, whole, words = await _errors(backends, synthetic)
    print(f"synthetic speech: live {live}/{words} word errors, whole decode {whole}/{words}")
    assert live <= whole + _tolerance(words)
