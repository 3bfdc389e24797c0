"""How a stored fact is said: facts are stored about "the user"; the model is told them in the
user's own voice beside the question, and speaks them back in the second person."""

from __future__ import annotations

import re
from collections.abc import Sequence

from parley.models.contracts import ChatMessage


def _person_rules(possessive: str, subject: str, be: str, have: str) -> tuple[tuple[str, str], ...]:
    return (
        (r"\bthe user's\b", possessive),
        (r"\bthe user is\b", f"{subject} {be}"),
        (r"\bthe user has\b", f"{subject} {have}"),
        (r"\bthe user doesn't\b", f"{subject} don't"),
        (r"\bthe user (\w+?)s\b", rf"{subject} \1"),
        (r"\bthe user\b", subject),
    )


_SECOND_PERSON = _person_rules("your", "you", "are", "have")
_FIRST_PERSON = _person_rules("my", "I", "am", "have")


def _rewrite(fact: str, rules: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in rules:
        fact = re.sub(pattern, replacement, fact, flags=re.IGNORECASE)
    return fact[0].upper() + fact[1:] if fact else fact


def second_person(fact: str) -> str:
    """Facts are stored about "the user"; the model speaks to them."""
    return _rewrite(fact, _SECOND_PERSON)


def first_person(fact: str) -> str:
    """A stored fact, as the user would say it."""
    return _rewrite(fact, _FIRST_PERSON)


_FACTS_OPEN = "(What I told you before: "


def with_recalled_facts(message: ChatMessage, facts: Sequence[str]) -> ChatMessage:
    """The user's message with the facts recalled for it right before it, in their own voice:
    a small model uses facts there, and ignores them in a system message."""
    remembered = ". ".join(first_person(fact) for fact in facts)
    return ChatMessage("user", f"{_FACTS_OPEN}{remembered}.)\n{message.content}")


def without_recalled_facts(message: ChatMessage) -> ChatMessage:
    """The user's words alone, for a turn where a tool's answer is what matters."""
    if (
        message.role == "user"
        and message.content.startswith(_FACTS_OPEN)
        and "\n" in message.content
    ):
        return ChatMessage("user", message.content.split("\n", 1)[1])
    return message
