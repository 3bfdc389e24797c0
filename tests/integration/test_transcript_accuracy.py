"""Parley's live decode (the clip-length window it uses at every pause) hears as well as
Whisper's own decode of the whole utterance through its 30 s windows, on recorded human speech
(pocketsphinx's test data from PyPI) and on the bench's synthetic voices."""

from pathlib import Path

import numpy as np
import pytest

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import decode_file, write_wav
from parley.bench.figures import word_errors
from parley.bench.prompts import ESPEAK_VOICES, SHORT_QUESTIONS, Prompt, espeak_say, load_prompts
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
    for index, (text, _expected) in enumerate(SHORT_QUESTIONS):
        for voice in ESPEAK_VOICES:
            path = tmp_path / f"{index:02d}-{voice}.wav"
            write_wav(path, espeak_say(text, voice), INPUT_SAMPLE_RATE_HZ)
            synthetic.append(Prompt(text, path))
    live, whole, words = await _errors(backends, synthetic)
    print(f"synthetic speech: live {live}/{words} word errors, whole decode {whole}/{words}")
    assert live <= whole + _tolerance(words)


# Everyday questions (not the bench's), in voices of several accents.
EVERYDAY_QUESTIONS = (
    "Which planet is known as the red planet?",
    "How many legs does an insect have?",
    "What is the fastest land animal?",
    "Which month comes after April?",
    "What is the boiling point of water in Celsius?",
    "How many strings does a standard guitar have?",
    "Who painted the Mona Lisa?",
    "What is the largest ocean on Earth?",
    "How many minutes are in an hour?",
    "What is twelve times three?",
    "What gas do plants breathe in?",
    "What is the freezing point of water in Fahrenheit?",
    "Can you tell me a joke about cats?",
    "What should I cook for dinner tonight?",
    "Explain how a rainbow forms.",
    "What is the capital of Australia?",
)
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb-x-rp", "en-029")


@pytest.mark.slow
async def test_a_question_whisper_is_unsure_of_is_mostly_a_misheard_one(
    backends: Backends,
) -> None:
    """What Whisper marks unclear (asked again, not answered) was mostly misheard, and what it
    heard exactly it rarely marks. Measured on an AMD EPYC (AVX2): 12 of 96 marked, 9 of them
    with a third of their words or more wrong; 1 of the 51 heard exactly."""
    lead, tail = np.zeros(4_800, np.int16), np.zeros(3_200, np.int16)
    marked: list[tuple[str, str, float]] = []
    exact = exact_marked = 0
    for voice in ACCENTS:
        for question in EVERYDAY_QUESTIONS:
            audio = np.concatenate([lead, espeak_say(question, voice), tail])
            heard = await backends.stt.transcribe(audio)
            errors, words = word_errors(question, heard.text)
            if heard.is_unclear:
                marked.append((voice, heard.text, errors / words))
            if errors == 0:
                exact += 1
                exact_marked += heard.is_unclear
    misheard = [m for m in marked if m[2] >= 1 / 3]
    print(f"unclear: {len(marked)} of 96, {len(misheard)} misheard; exact {exact_marked}/{exact}")
    for voice, text, wer in marked:
        print(f"  {voice}: {text!r} (word errors {wer:.2f})")
    assert len(marked) >= 4, marked  # the check engages
    assert len(misheard) >= 0.6 * len(marked), marked
    assert exact_marked <= max(2, exact // 15), (exact_marked, exact)
