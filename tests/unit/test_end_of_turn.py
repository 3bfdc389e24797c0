"""The end-of-turn policy, by tables: what a pause's words, then the turn model's verdict, call
for, and the silence that then ends the turn. No models, no clock."""

from __future__ import annotations

import pytest

from parley.config.sections import VadConfig
from parley.pipeline.end_of_turn import (
    WAIT,
    PauseCall,
    PauseRules,
    PauseVerdict,
    judge_voice,
    judge_words,
    silence_to_end,
)

RULES = PauseRules.of(VadConfig(), turn_complete_threshold=0.5)
NEVER_HOLDS_OPEN = PauseRules.of(VadConfig(unfinished_silence_ms=0), turn_complete_threshold=0.5)
HOLD_OPEN = PauseCall(PauseVerdict.HOLD_OPEN, 1_000)
SOONER = PauseCall(PauseVerdict.END_SOONER, 300)
CERTAIN = PauseCall(PauseVerdict.END_SOONER, 200)


@pytest.mark.parametrize(
    ("words", "rules", "expected"),
    [
        # stops mid-sentence with nothing ending it: wait for the rest
        ("What is the capital of", RULES, HOLD_OPEN),
        ("Set a timer for, um,", RULES, HOLD_OPEN),
        ("I was thinking...", RULES, HOLD_OPEN),
        # holding open switched off: the ordinary silence
        ("What is the capital of", NEVER_HOLDS_OPEN, WAIT),
        # ends on a preposition, but a question mark closes it: never sooner, never later
        ("Where are you from?", RULES, WAIT),
        ("Who are you talking to?", RULES, WAIT),
        # reads as finished: the voice decides
        ("What is the capital of France?", RULES, None),
        ("Tell me a joke.", RULES, None),
        ("Stop", RULES, None),
    ],
)
def test_the_words_at_a_pause(words: str, rules: PauseRules, expected: PauseCall | None) -> None:
    assert judge_words(words, rules) == expected


@pytest.mark.parametrize(
    ("probability", "rules", "expected"),
    [
        (0.95, RULES, CERTAIN),  # clearly finished: about the gap between two speakers
        (0.9, RULES, CERTAIN),
        (0.6, RULES, SOONER),  # finished, less surely
        (0.5, RULES, SOONER),
        (0.2, RULES, WAIT),  # sounds unfinished: the ordinary silence decides
        (None, RULES, WAIT),  # the turn model failed
        # a client's own threshold above the certain one: "certain" is never below it
        (0.92, PauseRules.of(VadConfig(), turn_complete_threshold=0.95), WAIT),
        (0.97, PauseRules.of(VadConfig(), turn_complete_threshold=0.95), CERTAIN),
    ],
)
def test_the_voice_at_a_pause(
    probability: float | None, rules: PauseRules, expected: PauseCall
) -> None:
    assert judge_voice(probability, rules) == expected


@pytest.mark.parametrize(
    ("call", "end_silence_ms", "expected_ms"),
    [
        (None, 500, 500),  # no call yet: the ordinary silence
        (WAIT, 500, 500),
        (SOONER, 500, 300),
        (CERTAIN, 500, 200),
        (HOLD_OPEN, 500, 1_000),
        # a client that set a longer or a shorter silence mid-pause
        (SOONER, 200, 200),  # never later than the ordinary silence
        (HOLD_OPEN, 1_500, 1_500),  # never sooner than it
    ],
)
def test_the_silence_that_ends_the_turn(
    call: PauseCall | None, end_silence_ms: int, expected_ms: int
) -> None:
    assert silence_to_end(call, end_silence_ms=end_silence_ms) == expected_ms


def test_only_a_call_that_changes_the_silence_is_carried_out() -> None:
    assert not WAIT.is_deciding
    assert HOLD_OPEN.is_deciding and SOONER.is_deciding
