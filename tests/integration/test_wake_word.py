"""The wake word models as they ship, on speech the voices here make: the name is heard once
per saying, in Piper's voice and espeak-ng's, and other speech wakes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from parley.audio.pcm import decode_file
from parley.models.wake_word import WakeWord


def detections(name: str, audio: np.ndarray) -> int:
    detector = WakeWord(name)
    audio = np.concatenate([np.zeros(8_000, np.int16), audio, np.zeros(16_000, np.int16)])
    return sum(detector.hears(audio[i : i + 320]) for i in range(0, audio.size, 320))


@pytest.mark.parametrize("voice", ["piper", "en-us", "en-gb"])
def test_okay_nabu_is_heard_once_in_each_voice(voice: str, piper_speech, speech) -> None:  # type: ignore[no-untyped-def]
    text = "Okay Nabu, what time is it?"
    path = piper_speech(text) if voice == "piper" else speech(text, voice=voice)
    assert detections("okay_nabu", decode_file(path)) == 1


def test_other_speech_wakes_nothing(piper_speech, speech) -> None:  # type: ignore[no-untyped-def]
    others = [
        piper_speech("What is the capital of France? Tell me about the moon."),
        piper_speech("Okay, now set a timer for ten minutes."),
        speech("I need to buy bread and milk on the way home.", voice="en-gb"),
    ]
    for path in others:
        for name in ("okay_nabu", "alexa", "hey_mycroft"):
            assert detections(name, decode_file(path)) == 0, (name, path)
