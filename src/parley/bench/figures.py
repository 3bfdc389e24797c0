"""The bench's arithmetic: word errors and shares of turns, from figures already measured
(nothing here times anything); medians and p90s are ``ops.spread``'s."""

from __future__ import annotations

from typing import Any

from parley.ops.spread import spread


def speculative_share(metrics: list[dict[str, Any]]) -> float | None:
    """The share of replies begun on a pause, before the end of the turn was confirmed (and
    released when it was): the rest waited for the end of the turn to start."""
    timed = [
        m
        for m in metrics
        if m.get("llm_request_at_ms") is not None and m.get("endpoint_ms") is not None
    ]
    if not timed:
        return None
    early = sum(m["llm_request_at_ms"] < m["endpoint_ms"] for m in timed)
    return float(round(early / len(timed), 2))


def spread_by_kind(values: list[tuple[str, float | None]]) -> dict[str, dict[str, Any]]:
    """Median and p90 of a figure for each kind of prompt (fact, advice, joke, ...)."""
    by_kind: dict[str, list[float]] = {}
    for kind, value in values:
        if kind and value is not None:
            by_kind.setdefault(kind, []).append(value)
    return {kind: spread(found) for kind, found in sorted(by_kind.items())}


def premature_end_rate(turns_heard: list[int]) -> float | None:
    """The share of questions spoken with a pause in them whose turn ended at the pause (heard
    as more than one turn)."""
    if not turns_heard:
        return None
    return round(sum(count > 1 for count in turns_heard) / len(turns_heard), 2)


_NUMBER_WORDS: dict[str, str] = {
    str(number): word
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Word-level edit distance, after case and punctuation are set aside."""

    def words(text: str) -> list[str]:
        cleaned = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower())
        # "2" and "two", "colour" and "color" are the same word heard: not an error.
        return [_NUMBER_WORDS.get(w, w) for w in cleaned.replace("colour", "color").split()]

    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)
            )
        previous = current
    return previous[-1], len(ref)
