"""The offline voices Parley can speak with here, by name, and the config that speaks each:
the embedded Piper voice (en_US-joe-medium), Debian flite's slt, rms and awb, and espeak-ng in
each of its languages (espeak-fr-fr, espeak-de, …). A user picks one in the page's settings or a
realtime client in ``session.update`` (``audio.output.voice``); the configured ``tts`` is the
default."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.config.settings import EspeakConfig, FliteConfig, PiperConfig, TtsConfig
from parley.models.catalogue import piper_voice_path

PIPER_VOICE = "en_US-joe-medium"
_FLITE_VOICES = {
    "slt": "US English, female",
    "rms": "US English, male",
    "awb": "Scottish English, male",
}


@dataclass(frozen=True, slots=True)
class Voice:
    name: str
    engine: str  # piper, flite, espeak
    language: str
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "language": self.language,
            "description": self.description,
        }


@functools.cache
def _espeak_voices() -> tuple[Voice, ...]:
    if shutil.which("espeak-ng") is None:
        return ()
    listing = subprocess.run(
        ["espeak-ng", "--voices"], capture_output=True, text=True, check=False, timeout=10
    ).stdout
    voices: dict[str, Voice] = {}
    for line in listing.splitlines()[1:]:  # Pty Language Age/Gender VoiceName File ...
        fields = line.split()
        if len(fields) >= 4:
            language, name = fields[1], fields[3].replace("_", " ")
            # espeak-ng lists a few languages twice (yue): each voice name is offered once.
            voices.setdefault(
                f"espeak-{language}",
                Voice(f"espeak-{language}", "espeak", language, f"{name} (robotic)"),
            )
    return tuple(voices.values())


def offline_voices(models_dir: Path) -> list[Voice]:
    """The voices this machine has, best first."""
    voices = []
    if piper_voice_path(models_dir).is_file():
        voices.append(Voice(PIPER_VOICE, "piper", "en-us", "US English, male (natural; embedded)"))
    if shutil.which("flite") is not None:
        voices += [
            Voice(f"flite-{name}", "flite", "en", description)
            for name, description in _FLITE_VOICES.items()
        ]
    return [*voices, *_espeak_voices()]


def config_for(voice_name: str, default: TtsConfig) -> TtsConfig | None:
    """The TTS config that speaks ``voice_name`` at the default's pace; None for no such name."""
    common = {
        "speed": default.speed,
        "first_piece_max_words": default.first_piece_max_words,
        "remote": default.remote,
    }
    if voice_name == PIPER_VOICE:
        return PiperConfig(**common)
    if voice_name.startswith("flite-") and voice_name[6:] in _FLITE_VOICES:
        return FliteConfig(backend="flite", voice=voice_name[6:], **common)
    if voice_name.startswith("espeak-") and voice_name in {v.name for v in _espeak_voices()}:
        return EspeakConfig(backend="espeak", voice=voice_name[7:], **common)
    return None
