"""Where a Piper chunk's word groups start, from the voice's phoneme alignments.

Piper reports how many samples each phoneme took, and a space phoneme ends a word group. A group
is espeak's word, not the text's: the heard-text ledger lays the text's words over them.
"""

from __future__ import annotations

from collections.abc import Sequence

_WORD_BREAK = " "


def group_starts(alignments: Sequence[tuple[str, int]]) -> list[int]:
    """The sample at which each word group starts, from (phoneme, sample count) pairs that
    begin with the sentence's start marker and end with its end marker."""
    starts: list[int] = []
    at_sample = 0
    is_word_next = True
    for index, (phoneme, samples) in enumerate(alignments):
        is_marker = index == 0 or index == len(alignments) - 1
        if not is_marker and phoneme != _WORD_BREAK and is_word_next:
            starts.append(at_sample)
            is_word_next = False
        if phoneme == _WORD_BREAK:
            is_word_next = True
        at_sample += samples
    return starts
