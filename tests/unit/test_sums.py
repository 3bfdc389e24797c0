"""Sums asked aloud are worked out, not guessed by the model; anything more is the model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.memory.sqlite_store import SqliteStore
from parley.pipeline.events import ListenerEvent, TurnEvent
from parley.tools.sums import sum_answer
from tests.unit.test_replies import FakeHeldLlm, replies_over


@pytest.mark.parametrize(
    ("request_words", "answer"),
    [
        ("What is 11 plus 11?", "11 plus 11 is 22."),
        ("What is eleven plus eleven?", "11 plus 11 is 22."),
        ("what's 90 divided by 9", "90 divided by 9 is 10."),
        ("What is ninety divided by nine?", "90 divided by 9 is 10."),
        ("What is twenty five times four?", "25 times 4 is 100."),
        ("How much is a hundred minus one?", "100 minus 1 is 99."),
        ("So what is 3 x 4?", "3 times 4 is 12."),
        ("What is 2 + 3?", "2 plus 3 is 5."),
        ("Two hundred and five minus five", "205 minus 5 is 200."),
        ("What is 10 divided by 4?", "10 divided by 4 is 2.5."),
        ("What is 1,000 times 3?", "1000 times 3 is 3000."),
        ("What is 5 divided by 0?", "5 cannot be divided by zero."),
        # "Three" as an accent says it, where only a number can stand.
        ("What is 12 times free?", "12 times 3 is 36."),
        ("What is tree plus four?", "3 plus 4 is 7."),
        # More than a sum of two numbers: the model's to answer.
        ("Is it free plus shipping?", None),
        ("I have 2 kids plus 3 dogs.", None),
        ("What is 2 plus 3 apples?", None),
        ("What is half of fifty?", None),
        ("What is the capital of France?", None),
        ("Set a timer for 5 minutes.", None),
    ],
)
def test_a_sum_is_worked_out_and_anything_else_is_left(
    request_words: str, answer: str | None
) -> None:
    assert sum_answer(request_words) == answer


async def test_a_sum_is_answered_without_the_model(store: SqliteStore, tmp_path: Path) -> None:
    llm = FakeHeldLlm("Twelve.")  # what a small model said to "What is 11 plus 11?"
    events: list[ListenerEvent | TurnEvent] = []
    replies, _conversation = replies_over(llm, store, tmp_path, events)
    result = await replies.respond("What is 11 plus 11?")
    assert result.heard_text == "11 plus 11 is 22."
    assert not llm.asked.is_set()
