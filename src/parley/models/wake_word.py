"""A wake word heard in the microphone's audio, fully offline: microWakeWord's streaming models
(shipped inside the ``pymicro-wakeword`` wheel, Apache-2.0; about 0.2 % of one core each), fed
10 ms of 16 kHz audio at a time.

A model keeps reporting the word for a few windows after it is said: one detection is reported,
then the model is reset and nothing is reported for ``REFRACTORY_S``.
"""

from __future__ import annotations

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.errors import ConfigError

# What `--wake-word` takes, and what each is said as.
WAKE_WORDS = {
    "okay_nabu": "Okay Nabu",
    "hey_mycroft": "Hey Mycroft",
    "alexa": "Alexa",
    "hey_jarvis": "Hey Jarvis",
}
STEP_SAMPLES = INPUT_SAMPLE_RATE_HZ // 100  # the models' 10 ms
REFRACTORY_S = 1.0


class WakeWord:
    def __init__(self, name: str) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

        if name not in WAKE_WORDS:
            raise ConfigError(
                f"There is no wake word {name!r}; Parley has {', '.join(sorted(WAKE_WORDS))}."
            )
        self.name = name
        self.phrase = WAKE_WORDS[name]
        self._model = MicroWakeWord.from_builtin(Model(name))
        self._features = MicroWakeWordFeatures()
        self._pending = np.zeros(0, np.int16)
        self._quiet_steps = 0  # steps still ignored after a detection

    def hears(self, samples: Int16Array) -> bool:
        """Whether the wake word ends within these samples (the audio is consumed in order)."""
        self._pending = np.concatenate([self._pending, samples])
        detected = False
        while self._pending.size >= STEP_SAMPLES:
            step, self._pending = self._pending[:STEP_SAMPLES], self._pending[STEP_SAMPLES:]
            for features in self._features.process_streaming(step.astype("<i2").tobytes()):
                if self._quiet_steps > 0:
                    self._quiet_steps -= 1
                elif self._model.process_streaming(features) and not detected:
                    detected = True
        if detected:
            self._model.reset()  # its windows still hold the word
            self._quiet_steps = int(REFRACTORY_S * 100)
        return detected
