import pytest

from parley.config.settings import BargeInConfig
from parley.pipeline.turn_cues import (
    AcknowledgementRule,
    is_own_echo,
    sounds_unfinished,
    trails_off,
)


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of",
        "My name is",
        "I'd like a coffee and",
        "Tell me about the...",
        "Well, so,",
        "Can you um",
        "",
    ],
)
def test_words_that_stop_mid_sentence_are_unfinished(text: str) -> None:
    assert sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "What time is it?",
        "Who are you?",
        "Stop.",
        "Tell me a story about a brave knight",
    ],
)
def test_finished_sentences_are_not(text: str) -> None:
    assert not sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    ["What is the capital of", "Can you tell me the name of the...", "Remind me to...", "Well,"],
)
def test_words_that_wait_for_more_hold_the_turn_open(text: str) -> None:
    assert trails_off(text)


@pytest.mark.parametrize(
    "text",
    [
        # Ended on a preposition or a copula, and Whisper marked the end: not held open.
        "Where are you from?",
        "Do you know where my keys are?",
        "He might have been more respectable than he was.",
        "Please remember that.",
        "What time is it?",
        "",
    ],
)
def test_ended_sentences_do_not_hold_the_turn_open(text: str) -> None:
    assert not trails_off(text)


def _rule() -> AcknowledgementRule:
    return AcknowledgementRule.from_config(BargeInConfig())


@pytest.mark.parametrize(
    ("text", "voiced_ms"),
    [
        ("Uh-huh.", 500),
        ("Yeah, okay.", 900),
        ("Mm-hmm", 800),
        ("", 400),  # a cough or a knock that passed the VAD
        ("(coughing)", 450),
        ("I thought.", 450),  # a short "uh-huh" over Parley's voice, misheard
    ],
)
def test_acknowledgements_let_the_reply_play_on(text: str, voiced_ms: float) -> None:
    assert _rule().is_acknowledgement(text, voiced_ms=voiced_ms)


@pytest.mark.parametrize(
    ("text", "voiced_ms"),
    [
        ("Stop.", 350),
        ("Wait, stop.", 700),
        ("What?", 300),
        ("Okay, but what about Paris then?", 1500),
        ("I thought you said Rome", 1200),
    ],
)
def test_a_stop_a_question_or_a_sentence_stops_the_reply(text: str, voiced_ms: float) -> None:
    assert not _rule().is_acknowledgement(text, voiced_ms=voiced_ms)


@pytest.mark.parametrize(
    ("text", "voiced_ms", "is_unclear", "is_acknowledgement"),
    [
        # An "uh-huh" over Parley's voice, decoded as a question Whisper was unsure of.
        ("What is that?", 600, True, True),
        ("What is that?", 600, False, False),  # a short question made out stops the reply
        ("What are you doing?", 600, True, True),  # more words than a backchannel, a guess
        ("What is that?", 900, True, False),  # longer than short speech: a turn all the same
        ("Wait.", 300, True, False),  # a stop word stops it, made out or not
        ("No, no.", 500, True, False),
    ],
)
def test_a_short_question_stops_the_reply_only_when_it_was_made_out(
    text: str, voiced_ms: float, is_unclear: bool, is_acknowledgement: bool
) -> None:
    rule = _rule()
    assert rule.is_acknowledgement(text, voiced_ms=voiced_ms, is_unclear=is_unclear) is (
        is_acknowledgement
    )


def test_words_heard_over_a_reply_that_it_just_spoke_in_order_are_its_own_echo() -> None:
    played = "Once upon a time, there was a brave knight. It was a dark night"
    # Seen on this machine: AEC3 let "It was..." through under a knock.
    assert is_own_echo("It was...", played)
    assert is_own_echo("a brave knight", played)
    # The user's own words, or the reply's words in another order, are not.
    assert not is_own_echo("What is the capital of France?", played)
    assert not is_own_echo("was it", played)
    assert not is_own_echo("stop", played)  # one word could be anyone's
    assert not is_own_echo("It was", "")
