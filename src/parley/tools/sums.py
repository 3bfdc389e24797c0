"""Sums asked aloud ("What is eleven plus eleven?", "what's 90 divided by 9"), worked out here.

A language model of 1.5B parameters answered "What is 11 plus 11?" with "Twelve." and "90
divided by 9" with "1": a request that is only a sum of two numbers is answered exactly,
without the model, and at once. Anything more ("what is 2 plus 3 apples and a pear", "I have 2
kids plus 3 dogs") is left to the model.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from fractions import Fraction

from parley.tools.when import spoken_numbers

_OPERATIONS: dict[str, tuple[str, Callable[[Fraction, Fraction], Fraction]]] = {
    "plus": ("plus", operator.add),
    "+": ("plus", operator.add),
    "add": ("plus", operator.add),
    "minus": ("minus", operator.sub),
    "take away": ("minus", operator.sub),
    "-": ("minus", operator.sub),
    "times": ("times", operator.mul),
    "multiplied by": ("times", operator.mul),
    "x": ("times", operator.mul),
    "*": ("times", operator.mul),
    "divided by": ("divided by", operator.truediv),
    "over": ("divided by", operator.truediv),
    "/": ("divided by", operator.truediv),
}
_NUMBER = r"\d+(?:\.\d+)?"
_OPERATION = "|".join(re.escape(name) for name in sorted(_OPERATIONS, key=len, reverse=True))
_SUM = re.compile(
    r"(?:(?:so|and|ok|okay|hey|please|parley)\s+)*"
    r"(?:(?:what is|what's|whats|how much is|how much's|calculate|compute|work out|tell me)\s+)?"
    rf"(?P<first>{_NUMBER})\s*(?P<operation>{_OPERATION})\s*(?P<second>{_NUMBER})"
    r"(?:\s+(?:please|equal|equals))?"
)
_MULTIPLIERS = {"hundred": 100, "thousand": 1000}
# "Three" said with its "th" as "f" (London) or "t" (the Caribbean, Ireland), and heard so:
# read as three only where a number must stand, beside a sum's operation ("12 times free").
_THREE_AS_HEARD = re.compile(
    rf"(?P<before>\b(?:{_OPERATION}) )(?:free|tree)\b|\b(?:free|tree)(?= (?:{_OPERATION})\b)"
)


def _with_multipliers(text: str) -> str:
    """ "3 hundred" → "300", "a hundred and 5" → "105" (spoken_numbers reads words up to 99)."""
    out: list[str] = []
    is_and_held = False  # an "and" after a round hundred: joined to a number that follows
    for word in text.split():
        if is_and_held:
            is_and_held = False
            if word.isdigit():
                out[-1] = str(int(out[-1]) + int(word))
                continue
            out.append("and")
        if word in _MULTIPLIERS and out and out[-1].isdigit():
            out[-1] = str(int(out[-1]) * _MULTIPLIERS[word])
        elif word in _MULTIPLIERS and (not out or out[-1] == "a"):
            out[-1:] = [str(_MULTIPLIERS[word])]
        elif word == "and" and out and out[-1].isdigit() and int(out[-1]) % 100 == 0:
            is_and_held = True
        elif word.isdigit() and out and out[-1].isdigit() and int(out[-1]) % 100 == 0:
            out[-1] = str(int(out[-1]) + int(word))
        else:
            out.append(word)
    return " ".join([*out, "and"] if is_and_held else out)


def _said(number: Fraction) -> str:
    if number.denominator == 1:
        return str(number.numerator)
    return f"{float(number):.2f}".rstrip("0").rstrip(".")


def sum_answer(request: str) -> str | None:
    """The answer to a request that is only a sum of two numbers; None for anything else."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", request.lower().replace("what's", "what is"))
    text = re.sub(r"[?.!,]", " ", text)
    text = _with_multipliers(
        spoken_numbers(_THREE_AS_HEARD.sub(r"\g<before>three", " ".join(text.split())))
    )
    found = _SUM.fullmatch(" ".join(text.split()))
    if found is None:
        return None
    first, second = Fraction(found["first"]), Fraction(found["second"])
    said, operation = _OPERATIONS[found["operation"]]
    if said == "divided by" and second == 0:
        return f"{_said(first)} cannot be divided by zero."
    return f"{_said(first)} {said} {_said(second)} is {_said(operation(first, second))}."
