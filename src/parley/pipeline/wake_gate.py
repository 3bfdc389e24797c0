"""Whether the microphone's audio reaches the conversation, for an assistant on a counter that
waits for its name: the policy of `parley listen --wake-word`, alone, with time passed in.

- **waiting**: every frame goes to the wake word model, and the conversation hears silence in
  its place (nothing is transcribed, answered or stored); the wake word opens the gate.
- **listening**: awake; the conversation hears everything, the user's request and the reply. If
  nobody speaks within ``listen_s`` of the wake word, back to waiting.
- **following up**: the reply has been played; for ``follow_up_s`` (twice that after a reply
  that ends with a question) speech is the next turn without the wake word. Silence until the
  window closes: back to waiting.

While Parley speaks (a reply, a timer going off) the user is heard without the wake word, so
that they can talk over it: barge-in's own rules (echo cancellation, backchannels) guard it.
The wake word said over a reply stops it at once (a word as short as "stop" can lose its first
sound to the echo canceller; two names cannot). "stop" or "cancel" alone, or a goodbye, ends it
and goes back to waiting.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import numpy as np

from parley.audio.frames import AudioFrame

_ENDING_WORDS = re.compile(
    r"^(?:ok(?:ay)?\s+)?(?:stop|cancel|never mind|nevermind|that's all|goodbye|bye|bye bye|"
    r"good night|thanks,? bye|thank you,? goodbye)(?:\s+(?:it|that|now|please|then|parley))*$"
)


class WakeState(enum.Enum):
    WAITING = "waiting"
    LISTENING = "listening"
    FOLLOWING_UP = "following up"


@dataclass
class WakeGate:
    follow_up_s: float
    listen_s: float = 8.0
    state: WakeState = WakeState.WAITING
    _until_s: float = 0.0  # when listening or following up ends without speech

    def admit(
        self,
        frame: AudioFrame,
        *,
        is_woken: bool,
        is_parley_speaking: bool,
        is_busy: bool,
        now_s: float,
    ) -> AudioFrame:
        """The frame the conversation hears: this one, or silence of its length. ``is_woken``:
        the wake word model heard its word in this frame; ``is_busy``: a turn is under way (the
        user speaking, or a reply being written)."""
        if is_woken:
            was_waiting = self.state is WakeState.WAITING
            self.state, self._until_s = WakeState.LISTENING, now_s + self.listen_s
            if was_waiting:
                return _silent(frame)  # the wake word itself is not part of the request
        is_quiet = not (is_busy or is_parley_speaking)
        if self.state is not WakeState.WAITING and is_quiet and now_s > self._until_s:
            self.state = WakeState.WAITING
        if self.state is WakeState.WAITING and not is_parley_speaking:
            return _silent(frame)
        return frame

    def on_speech(self, now_s: float) -> None:
        """The conversation heard the user start to speak."""
        if self.state is not WakeState.WAITING:
            self.state, self._until_s = WakeState.LISTENING, now_s + self.listen_s

    def on_words(self, text: str, *, wake_phrase: str = "") -> None:
        """The words of a finished utterance: "stop" alone (after the wake word, said over a
        reply, or not), or a goodbye, ends it all."""
        words = " ".join(re.sub(r"[^\w' ]", " ", text.lower()).split())
        phrase = " ".join(wake_phrase.lower().split())
        if phrase and words.startswith(phrase):
            words = words[len(phrase) :].strip()
        if _ENDING_WORDS.match(words):
            self.state = WakeState.WAITING

    def on_reply_played(self, reply: str, now_s: float) -> None:
        """The reply has been heard to its end: the follow-up window opens."""
        if self.state is WakeState.WAITING:
            return
        window_s = self.follow_up_s * (2 if reply.rstrip().endswith("?") else 1)
        if window_s <= 0:
            self.state = WakeState.WAITING
            return
        self.state, self._until_s = WakeState.FOLLOWING_UP, now_s + window_s


def _silent(frame: AudioFrame) -> AudioFrame:
    return AudioFrame(np.zeros_like(frame.samples), frame.start_sample, frame.t_ns)
