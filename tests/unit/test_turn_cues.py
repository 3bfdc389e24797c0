import pytest

from parley.turn_cues import sounds_unfinished


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
