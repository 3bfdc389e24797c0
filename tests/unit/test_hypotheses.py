from collections.abc import Sequence

from parley.models.hypotheses import Hypothesis, most_likely, plain_words


class FakeScorer:
    """A language model's verdicts given by hand (the real one is in tests/integration)."""

    def __init__(self, log_probabilities: dict[str, float]) -> None:
        self._log_probabilities = log_probabilities
        self.asked: list[list[str]] = []

    def log_probabilities(self, texts: Sequence[str]) -> list[float]:
        self.asked.append(list(texts))
        return [self._log_probabilities[text] for text in texts]


def test_words_that_make_sense_win_over_words_that_sound_a_little_closer() -> None:
    heard = [
        Hypothesis("What is the largest manual?", -0.13),
        Hypothesis("What is the largest mammal?", -0.14),
    ]
    scorer = FakeScorer({heard[0].text: -40.0, heard[1].text: -25.0})
    assert most_likely(heard, scorer, weight=0.1) == heard[1]


def test_words_that_sound_far_off_lose_however_likely_they_are() -> None:
    heard = [Hypothesis("What is a hiker?", -0.2), Hypothesis("What is the weather?", -0.45)]
    scorer = FakeScorer({heard[0].text: -30.0, heard[1].text: -28.0})
    assert most_likely(heard, scorer, weight=0.1) == heard[0]


def test_words_heard_much_less_surely_than_the_first_are_not_weighed() -> None:
    heard = [Hypothesis("What is a hiker?", -0.2), Hypothesis("What is the weather?", -0.9)]
    scorer = FakeScorer({})
    assert most_likely(heard, scorer, weight=0.1) == heard[0]
    assert scorer.asked == []


def test_hypotheses_that_differ_only_in_spelling_or_case_ask_no_model() -> None:
    heard = [
        Hypothesis("Which planet is known as the red planet?", -0.05),
        Hypothesis("Which planet is known as the Red Planet!", -0.19),
    ]
    scorer = FakeScorer({})
    assert most_likely(heard, scorer, weight=0.1) == heard[0]
    assert scorer.asked == []


def test_each_wording_is_weighed_once_in_its_best_heard_form() -> None:
    heard = [
        Hypothesis("How many bones were in the body?", -0.04),
        Hypothesis("How many bones are in the body?", -0.28),
        Hypothesis("how many bones were in the body", -0.30),
    ]
    scorer = FakeScorer({heard[0].text: -30.0, heard[1].text: -20.0})
    assert most_likely(heard, scorer, weight=0.1) == heard[1]
    assert scorer.asked == [[heard[0].text, heard[1].text]]


def test_plain_words_ignore_case_and_punctuation() -> None:
    assert plain_words("What's the Red Planet?") == ("what's", "the", "red", "planet")
