"""`parley bench --wake-trial`: how well a wake word works on the speech the voices here make.

- **Detection**: the wake word, then a question, in each voice (Piper and five espeak-ng
  voices); the share of sayings the model hears, and the time from the end of the spoken name
  to the detection (the chime starts on the detection; the device's own output latency is not
  counted).
- **False wakes**: the bench's other speech (every default prompt in every voice, a few minutes
  of it) run through the model; wakes per hour of that speech.
- **Cost**: the model's CPU time per second of audio, as a share of one core.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.bench.prompts import ESPEAK_VOICES, SHORT_QUESTIONS, _say, _trimmed, espeak_say
from parley.models.contracts import TextToSpeech
from parley.models.wake_word import WakeWord
from parley.ops.spread import spread

QUESTIONS = ("what time is it?", "set a timer for ten minutes.", "what is the capital of France?")
_FRAME = INPUT_SAMPLE_RATE_HZ // 50  # 20 ms, as the microphone delivers it
_LEAD = np.zeros(INPUT_SAMPLE_RATE_HZ // 2, np.int16)


def run_wake_trial(name: str, tts: TextToSpeech) -> dict[str, Any]:
    """The trial for wake word ``name``, its speech made by ``tts`` (Piper) and espeak-ng."""
    detector = WakeWord(name)

    def say_piper(text: str) -> Int16Array:
        return asyncio.run(_say(tts, text))

    voices: list[tuple[str, Any]] = [("piper", say_piper)]
    voices += [(voice, lambda text, v=voice: espeak_say(text, v)) for voice in ESPEAK_VOICES]
    delays_ms: list[float] = []
    heard = said = 0
    cpu_s = audio_s = 0.0
    by_voice: dict[str, str] = {}
    for voice, say in voices:
        name_audio = _trimmed(say(detector.phrase + ","))
        hits = 0
        for question in QUESTIONS:
            pause = np.zeros(INPUT_SAMPLE_RATE_HZ // 5, np.int16)
            audio = np.concatenate([_LEAD, name_audio, pause, _trimmed(say(question)), _LEAD])
            name_end_s = (_LEAD.size + name_audio.size) / INPUT_SAMPLE_RATE_HZ
            detected_at, used_s = _detect(detector, audio)
            cpu_s, audio_s = cpu_s + used_s, audio_s + audio.size / INPUT_SAMPLE_RATE_HZ
            said += 1
            if detected_at:
                heard, hits = heard + 1, hits + 1
                delays_ms.append((detected_at[0] - name_end_s) * 1000)
        by_voice[voice] = f"{hits}/{len(QUESTIONS)}"
    false_wakes = 0
    other_s = 0.0
    for _voice, say in voices:
        for text, _expected in SHORT_QUESTIONS:
            audio = np.concatenate([_LEAD, say(text), _LEAD])
            detected_at, used_s = _detect(detector, audio)
            false_wakes += len(detected_at)
            other_s += audio.size / INPUT_SAMPLE_RATE_HZ
            cpu_s, audio_s = cpu_s + used_s, audio_s + audio.size / INPUT_SAMPLE_RATE_HZ
    return {
        "wake_word": name,
        "detected": f"{heard}/{said}",
        "detection_rate": round(heard / said, 3),
        "by_voice": by_voice,
        "name_end_to_detection_ms": spread(delays_ms),
        "false_wakes": false_wakes,
        "other_speech_s": round(other_s, 1),
        "false_wakes_per_hour": round(false_wakes / other_s * 3600, 1),
        "cpu_share_of_one_core": round(cpu_s / audio_s, 4),
    }


def _detect(detector: WakeWord, audio: Int16Array) -> tuple[list[float], float]:
    """When the model heard its word (seconds into ``audio``), and the CPU time it took."""
    hits: list[float] = []
    started = time.process_time()
    for start in range(0, audio.size, _FRAME):
        if detector.hears(audio[start : start + _FRAME]):
            hits.append((start + _FRAME) / INPUT_SAMPLE_RATE_HZ)
    return hits, time.process_time() - started


def format_wake_table(report: dict[str, Any], cpu: str) -> str:
    delay = report["name_end_to_detection_ms"]
    lines = [
        f"Wake word {report['wake_word']!r} on {cpu}",
        f"  detected: {report['detected']} ({report['detection_rate']:.0%}); by voice: "
        + ", ".join(f"{voice} {share}" for voice, share in report["by_voice"].items()),
        f"  end of the name to detection: median {delay['median']} ms, p90 {delay['p90']} ms",
        f"  false wakes: {report['false_wakes']} in {report['other_speech_s']} s of other speech "
        f"({report['false_wakes_per_hour']} per hour)",
        f"  cost: {report['cpu_share_of_one_core']:.2%} of one core",
    ]
    return "\n".join(lines)
