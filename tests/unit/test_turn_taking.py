"""The turn-taking policy, by tables: what speech over a reply does to it, and what an ended turn
leads to. No models, no clock: samples heard are the policy's time."""

from __future__ import annotations

import pytest

from parley.config.sections import BargeInConfig
from parley.pipeline.turn_taking import Floor, Outcome, Rules, TurnTaking, Words

RATE = 16_000
RULES = Rules.of(BargeInConfig(), is_barge_in_enabled=True, is_replying_automatically=True)
NO_BARGE_IN = Rules.of(BargeInConfig(), is_barge_in_enabled=False, is_replying_automatically=True)
ANY_SPEECH_STOPS = Rules.of(
    BargeInConfig(is_ignoring_backchannels=False),
    is_barge_in_enabled=True,
    is_replying_automatically=True,
)
PLAYED = "The capital of France is Paris, a city of about two million people."


def over_a_reply(
    rules: Rules = RULES, *, can_resume: bool = True
) -> tuple[TurnTaking, Floor | None]:
    turns = TurnTaking()
    floor = turns.on_utterance_start(RATE, rules, is_reply_audible=True, can_resume=can_resume)
    return turns, floor


@pytest.mark.parametrize(
    ("rules", "is_audible", "can_resume", "expected", "is_judging"),
    [
        (RULES, True, True, Floor.DUCK, True),  # held silent while the speech is judged
        (RULES, True, False, Floor.STOP, False),  # a socket client stops its own playback
        (RULES, False, True, Floor.STOP, False),  # nothing audible: nothing to hold
        (ANY_SPEECH_STOPS, True, True, Floor.STOP, False),
        (NO_BARGE_IN, True, True, None, False),
    ],
)
def test_speech_starting_over_a_reply(
    rules: Rules, is_audible: bool, can_resume: bool, expected: Floor | None, is_judging: bool
) -> None:
    turns = TurnTaking()
    floor = turns.on_utterance_start(
        RATE, rules, is_reply_audible=is_audible, can_resume=can_resume
    )
    assert floor is expected
    assert turns.is_judging_speech_over_reply is is_judging
    assert turns.is_in_utterance


@pytest.mark.parametrize(
    ("heard_ms", "is_paused", "expected"),
    [(400, False, None), (999, False, None), (1000, False, Floor.STOP), (1500, True, None)],
)
def test_speech_over_a_reply_that_goes_on_stops_it(
    heard_ms: int, is_paused: bool, expected: Floor | None
) -> None:
    turns, _ = over_a_reply()
    floor = turns.on_frames(RATE + heard_ms * RATE // 1000, RULES, is_paused=is_paused)
    assert floor is expected
    if expected is Floor.STOP:  # decided once: the next frame decides nothing more
        assert turns.on_frames(RATE * 10, RULES, is_paused=False) is None


@pytest.mark.parametrize(
    ("words", "floor", "is_users_words"),
    [
        ("Uh-huh.", None, True),
        ("(coughing)", None, True),
        ("Stop.", Floor.STOP, True),
        ("What about Lyon?", Floor.STOP, True),
        ("tell me about the moon instead", Floor.STOP, True),
        ("capital of France is Paris", None, False),  # its own voice come back
    ],
)
def test_partial_words_over_a_reply(words: str, floor: Floor | None, is_users_words: bool) -> None:
    turns, _ = over_a_reply()
    verdict = turns.on_partial(Words(words, 800, PLAYED), RULES)
    assert verdict.floor is floor
    assert verdict.is_users_words is is_users_words


@pytest.mark.parametrize("words", ["What up?", "Stop.", "Why?"])
def test_partial_words_of_speech_too_short_for_a_turn_decide_nothing(words: str) -> None:
    # An "uh-huh" over the reply, 400 ms in, was once decoded as "What up?" (its whole clip
    # as "But uh..."): the partial waits, and the utterance's end decides on all of it.
    turns, _ = over_a_reply()
    verdict = turns.on_partial(Words(words, 400, PLAYED), RULES)
    assert verdict.floor is None and verdict.is_users_words
    final = turns.on_final(
        Words(words, 400, PLAYED),
        RULES,
        over_reply_ms=turns.on_utterance_end(RATE + 400 * 16),
        has_held_reply=False,
    )
    assert final.floor is Floor.STOP


def test_partial_words_with_no_reply_playing_decide_nothing() -> None:
    verdict = TurnTaking().on_partial(Words("stop", 300, PLAYED), RULES)
    assert verdict.floor is None and verdict.is_users_words


@pytest.mark.parametrize(
    ("words", "voiced_ms", "floor", "outcome", "is_users_words"),
    [
        ("Uh-huh.", 300, Floor.PLAY_ON, Outcome.IGNORED, True),
        ("Yeah, okay.", 600, Floor.PLAY_ON, Outcome.IGNORED, True),
        ("I thought", 400, Floor.PLAY_ON, Outcome.IGNORED, True),  # too short to be a turn
        ("", 200, Floor.PLAY_ON, Outcome.IGNORED, True),  # a knock
        ("Paris, a city of about", 900, Floor.PLAY_ON, Outcome.IGNORED, False),  # echo
        ("Wait.", 300, Floor.STOP, Outcome.REPLY, True),
        ("How many people live there?", 900, Floor.STOP, Outcome.REPLY, True),
    ],
)
def test_the_words_of_speech_over_a_reply_decide_at_its_end(
    words: str, voiced_ms: int, floor: Floor, outcome: Outcome, is_users_words: bool
) -> None:
    turns, _ = over_a_reply()
    over_ms = turns.on_utterance_end(RATE + voiced_ms * RATE // 1000)
    assert over_ms == pytest.approx(voiced_ms)
    verdict = turns.on_final(
        Words(words, voiced_ms, PLAYED), RULES, over_reply_ms=over_ms, has_held_reply=False
    )
    assert (verdict.floor, verdict.outcome, verdict.is_users_words) == (
        floor,
        outcome,
        is_users_words,
    )


@pytest.mark.parametrize(("is_unclear", "floor"), [(True, Floor.PLAY_ON), (False, Floor.STOP)])
def test_a_short_question_over_a_reply_that_was_not_made_out_lets_it_play_on(
    is_unclear: bool, floor: Floor
) -> None:
    turns, _ = over_a_reply()
    over_ms = turns.on_utterance_end(RATE + 600 * RATE // 1000)
    heard = Words("What is that?", 600, PLAYED, is_unclear=is_unclear)
    verdict = turns.on_final(heard, RULES, over_reply_ms=over_ms, has_held_reply=False)
    assert verdict.floor is floor


@pytest.mark.parametrize(
    ("words", "is_speaking_again", "has_held", "rules", "outcome"),
    [
        ("What is the capital of France?", False, False, RULES, Outcome.REPLY),
        ("What is the capital of France?", False, True, RULES, Outcome.RELEASE_HELD),
        ("What is the capital", True, True, RULES, Outcome.KEEP_WORDS),
        ("", False, False, RULES, Outcome.NO_WORDS),
        (
            "What is the capital of France?",
            False,
            False,
            Rules.of(BargeInConfig(), is_barge_in_enabled=True, is_replying_automatically=False),
            Outcome.WAIT,
        ),
        # With barge-in off the user speaking again does not hold the reply back.
        ("What is the capital of France?", True, False, NO_BARGE_IN, Outcome.REPLY),
    ],
)
def test_what_an_ended_turn_leads_to(
    words: str, is_speaking_again: bool, has_held: bool, rules: Rules, outcome: Outcome
) -> None:
    turns = TurnTaking()
    turns.on_utterance_start(0, rules, is_reply_audible=False, can_resume=True)
    assert turns.on_utterance_end(RATE) is None  # it did not begin over a reply
    if is_speaking_again:
        turns.on_utterance_start(2 * RATE, rules, is_reply_audible=False, can_resume=True)
    verdict = turns.on_final(
        Words(words, 1000, ""), rules, over_reply_ms=None, has_held_reply=has_held
    )
    assert verdict.outcome is outcome
    assert verdict.floor is None


def test_the_reply_stays_held_when_the_user_already_speaks_again_after_an_acknowledgement() -> None:
    turns, _ = over_a_reply()
    over_ms = turns.on_utterance_end(RATE + 300 * RATE // 1000)
    turns.on_utterance_start(2 * RATE, RULES, is_reply_audible=True, can_resume=True)
    verdict = turns.on_final(
        Words("uh-huh", 300, PLAYED), RULES, over_reply_ms=over_ms, has_held_reply=False
    )
    # The newer speech is being judged: lifting the hold now would play over it.
    assert verdict.floor is None and verdict.outcome is Outcome.IGNORED


@pytest.mark.parametrize(
    ("rules", "is_audible", "is_judging", "changes_memory", "may"),
    [
        (RULES, True, False, False, True),  # a newer reply supersedes the one playing
        (RULES, False, True, False, False),  # speech over a reply is still being judged
        (RULES, False, False, True, False),  # "remember that…" is confirmed once stored
        (NO_BARGE_IN, True, False, False, False),  # the reply playing is not to be cut
        (NO_BARGE_IN, False, False, False, True),
    ],
)
def test_when_a_reply_may_begin_on_a_pause(
    rules: Rules, is_audible: bool, is_judging: bool, changes_memory: bool, may: bool
) -> None:
    turns = TurnTaking()
    if is_judging:
        turns.on_utterance_start(0, rules, is_reply_audible=True, can_resume=True)
    assert (
        turns.may_reply_early(
            rules, is_reply_audible=is_audible, asks_to_change_memory=changes_memory
        )
        is may
    )


@pytest.mark.parametrize(("is_onset", "floor"), [(True, Floor.DUCK), (False, Floor.PLAY_ON)])
def test_voice_edges_hold_and_release_the_reply_only_with_barge_in(
    is_onset: bool, floor: Floor
) -> None:
    turns = TurnTaking()
    assert turns.on_voice_edge(is_onset, RULES) is floor
    assert turns.on_voice_edge(is_onset, NO_BARGE_IN) is None


@pytest.mark.parametrize(
    ("rules", "is_unprompted", "expected"),
    [
        (RULES, False, Floor.STOP),  # the user's new turn supersedes the reply being written
        (RULES, True, None),  # a timer gone off follows "OK, a timer is set", cutting nothing
        (NO_BARGE_IN, False, None),  # barge-in off: the new reply queues behind it
        (NO_BARGE_IN, True, None),
    ],
)
def test_a_new_reply_over_one_still_being_written(
    rules: Rules, is_unprompted: bool, expected: Floor | None
) -> None:
    assert TurnTaking.on_new_reply(rules, is_unprompted=is_unprompted) is expected


@pytest.mark.parametrize(
    ("is_reply_audible", "expected"),
    [
        (True, Floor.STOP),  # the name said over a reply stops it at once
        (False, None),  # nothing playing: it only wakes Parley
    ],
)
def test_the_wake_word(is_reply_audible: bool, expected: Floor | None) -> None:
    turns, _floor = over_a_reply(NO_BARGE_IN)  # even with barge-in off
    assert turns.on_wake_word(is_reply_audible=is_reply_audible) is expected
    assert not turns.is_judging_speech_over_reply
