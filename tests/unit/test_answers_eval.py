"""`parley eval --answers` judges each reply as a user would: right when it holds an accepted
word and nothing internal, asked again, misheard when a quarter of the question was heard
wrong, else wrong."""

from __future__ import annotations

from parley.bench.answer_set import ANSWER_SET, ANSWER_VOICES, MEMORY_QUESTIONS, AnswerCase
from parley.bench.answers import judge
from parley.config.backend_sections import LlamaCppConfig
from parley.pipeline.internal_words import ASK_AGAIN, InternalWords

INTERNAL = InternalWords([LlamaCppConfig().system_prompt])
MARS = AnswerCase("fact", "Which planet is known as the red planet?", ("mars",))


def verdict(heard: str, reply: str) -> str:
    return judge(MARS, "flite-slt", heard, reply, 300.0, INTERNAL).verdict


def test_each_reply_gets_the_verdict_a_user_would_give() -> None:
    assert verdict(MARS.question, "The red planet is Mars.") == "right"
    assert verdict("Clagot is no Asthma Red Clagot.", ASK_AGAIN) == "asked again"
    assert verdict("Clagot is no Asthma Red Clagot.", "Clagot is red.") == "misheard"
    assert verdict(MARS.question, "The red planet is Venus.") == "wrong"
    # A number written with a thousands comma is the number.
    grams = AnswerCase("units", "How many grams are in a kilogram?", ("1000", "thousand"))
    said = judge(grams, "flite-rms", grams.question, "There are 1,000 grams.", 1.0, INTERNAL)
    assert said.verdict == "right"
    # An accepted word counts with a plural's or a verb's ending, as a person reads it.
    language = AnswerCase("advice", "How can I learn a new language?", ("practise", "app"))
    advice = "Use apps, and keep practising every day."
    assert judge(language, "flite-rms", language.question, advice, 1.0, INTERNAL).verdict == "right"
    assert verdict(MARS.question, "The red planet is Marseille.") == "wrong"
    # Right words beside the instructions are not a right answer.
    answered = judge(
        MARS, "flite-slt", MARS.question, "Mars. No lists, no markdown.", 1.0, INTERNAL
    )
    assert (answered.verdict, answered.is_internal) == ("wrong", True)


def test_the_set_is_at_least_150_questions_of_every_kind_in_eight_voices() -> None:
    cases = [*ANSWER_SET, *MEMORY_QUESTIONS]
    assert len(cases) >= 150 and len({c.question for c in cases}) == len(cases)
    kinds = {c.kind for c in cases}
    assert {"fact", "arithmetic", "units", "dates", "definitions", "advice", "time"} <= kinds
    assert "memory" in kinds and len(ANSWER_VOICES) >= 8
    assert all(c.accepted for c in cases)
