"""When a turn ends, from what is known at a pause: the one policy for it, beside
``TurnTaking``, with no I/O and no model inside.

At a pause (a short silence after voice) three things are known, one after another: the
words so far (Whisper's decode of the pause's clip), then, if the words leave it open, how
the voice sounded (the turn model's probability that it is finished). They decide how much
silence ends the turn:

- words that plainly stop mid-sentence ("what is the capital of") hold it open for
  ``unfinished_silence_ms``, as a listener waits for the rest, whatever the voice sounds like;
- words that end on a word a sentence rarely ends with ("Where are you from?") never end it
  sooner than the ordinary ``end_silence_ms``;
- otherwise a voice the turn model hears as finished ends it after
  ``turn_complete_silence_ms``, or ``turn_certain_silence_ms`` when it is clearly finished;
- anything else (no words, no verdict, a voice that sounds unfinished) waits for
  ``end_silence_ms``.

``Hearing`` gathers the words and the verdict and carries the call out through the
``Listener``, whose silence so far then ends the turn at once if it is already long enough.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from parley.config.sections import VadConfig
from parley.pipeline.turn_cues import sounds_unfinished, trails_off


class PauseVerdict(enum.Enum):
    WAIT = "wait"  # nothing known changes the ordinary end-of-turn silence
    HOLD_OPEN = "hold_open"  # the words stop mid-sentence: wait longer for the rest
    END_SOONER = "end_sooner"  # the words and the voice sound finished: a shorter silence


@dataclass(frozen=True, slots=True)
class PauseCall:
    verdict: PauseVerdict
    silence_ms: int | None = None  # the silence that ends the turn; None: the ordinary one

    @property
    def is_deciding(self) -> bool:
        """Whether the call changes anything the listener would do anyway."""
        return self.verdict is not PauseVerdict.WAIT


WAIT = PauseCall(PauseVerdict.WAIT)


@dataclass(frozen=True, slots=True)
class PauseRules:
    """The configured side of the policy (config: vad), fixed for one pause."""

    turn_complete_threshold: float = 0.5
    turn_complete_silence_ms: int = 300
    turn_certain_threshold: float = 0.9
    turn_certain_silence_ms: int = 200
    unfinished_silence_ms: int = 1000

    @classmethod
    def of(cls, vad: VadConfig, *, turn_complete_threshold: float) -> PauseRules:
        """``turn_complete_threshold``: the session's own (a realtime client sets it)."""
        return cls(
            turn_complete_threshold=turn_complete_threshold,
            turn_complete_silence_ms=vad.turn_complete_silence_ms,
            turn_certain_threshold=vad.turn_certain_threshold,
            turn_certain_silence_ms=vad.turn_certain_silence_ms,
            unfinished_silence_ms=vad.unfinished_silence_ms,
        )


def judge_words(text: str, rules: PauseRules) -> PauseCall | None:
    """What the pause's words decide alone; None when the voice must decide (``judge_voice``)."""
    if trails_off(text):
        if rules.unfinished_silence_ms <= 0:
            return WAIT
        return PauseCall(PauseVerdict.HOLD_OPEN, rules.unfinished_silence_ms)
    if sounds_unfinished(text):
        return WAIT  # "Where are you from?": finished, but not sooner than the silence says
    return None


def judge_voice(probability: float | None, rules: PauseRules) -> PauseCall:
    """What the turn model's probability that the voice is finished decides (None: it has no
    verdict, as when it failed)."""
    if probability is None or probability < rules.turn_complete_threshold:
        return WAIT
    if probability >= max(rules.turn_complete_threshold, rules.turn_certain_threshold):
        return PauseCall(PauseVerdict.END_SOONER, rules.turn_certain_silence_ms)
    return PauseCall(PauseVerdict.END_SOONER, rules.turn_complete_silence_ms)


def silence_to_end(call: PauseCall | None, *, end_silence_ms: int) -> int:
    """The silence after the pause's last voiced sample that ends the turn, given the pause's
    call and the ordinary ``end_silence_ms`` (which a client may change mid-pause): a held-open
    turn never ends sooner than the ordinary silence, nor a finished one later."""
    if call is None or call.silence_ms is None:
        return end_silence_ms
    if call.verdict is PauseVerdict.HOLD_OPEN:
        return max(call.silence_ms, end_silence_ms)
    return min(call.silence_ms, end_silence_ms)
