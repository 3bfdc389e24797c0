"""The bench's spoken prompts: the default questions spoken once in several voices (so STT
is not only ever measured on one speaker), or a folder of WAV files with their words."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parley.audio import decode_file, resample, write_wav
from parley.backends import TextToSpeech
from parley.config import Settings
from parley.errors import AudioDecodeError
from parley.events import INPUT_SAMPLE_RATE_HZ, Int16Array

DEFAULT_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "What colour is the sky on a clear day?",
    "Can you name a fruit that is yellow?",
    "What is two plus three?",
    "Who wrote Romeo and Juliet?",
    "What is the opposite of hot?",
    "How many legs does a spider have?",
    "What do bees make?",
    "What is the largest planet in our solar system?",
)
# Half the prompts in the embedded Piper voice, half in espeak-ng voices, so that STT is not
# only ever measured on one speaker.
_ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us+m3")


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    path: Path


def make_default_prompts(directory: Path, tts: TextToSpeech) -> list[Prompt]:
    """Speak the default questions once (Piper and espeak-ng voices) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    prompts: list[Prompt] = []
    for index, text in enumerate(DEFAULT_PROMPTS):
        path = directory / f"{index:02d}.wav"
        if not path.exists():
            if index % 2 == 0:
                audio = asyncio.run(_say(tts, text))
            else:
                audio = _espeak_say(text, _ESPEAK_VOICES[(index // 2) % len(_ESPEAK_VOICES)])
            lead = np.zeros(8_000, dtype=np.int16)  # half a second before the user speaks
            write_wav(path, np.concatenate([lead, audio]), INPUT_SAMPLE_RATE_HZ)
            path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        prompts.append(Prompt(text, path))
    return prompts


async def _say(tts: TextToSpeech, text: str) -> Int16Array:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return resample(np.concatenate(chunks), tts.sample_rate_hz, INPUT_SAMPLE_RATE_HZ)


def _espeak_say(text: str, voice: str) -> Int16Array:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
        return decode_file(raw)


def load_prompts(directory: Path) -> list[Prompt]:
    """WAV files, each with a .txt of what it says (for the word error rate)."""
    prompts = []
    for path in sorted(directory.glob("*.wav")):
        text_path = path.with_suffix(".txt")
        text = text_path.read_text(encoding="utf-8").strip() if text_path.exists() else ""
        prompts.append(Prompt(text, path))
    return prompts


def choose_prompts(settings: Settings, audio_dir: Path | None, tts: TextToSpeech) -> list[Prompt]:
    if audio_dir is None:
        return make_default_prompts(settings.data_dir / "bench-prompts", tts)
    prompts = load_prompts(audio_dir)
    if not prompts:
        raise AudioDecodeError(
            f"No .wav prompts in {audio_dir}: give WAV files with a .txt of each."
        )
    return prompts
