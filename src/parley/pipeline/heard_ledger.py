"""Which words of a reply reached the user: its pieces laid end to end on the turn's audio
timeline, each with where its words start when the voice says so.

A voice's word groups are espeak's words, not the text's: espeak joins some words ("on the" is
one group) and expands others ("42" is "forty two"). So the text's words are laid over the
groups by count: one to one when the counts agree, else each word at the group its share of the
count falls on (one word off at most around a joined or expanded word). A voice that cannot say
where its words fall gets the older estimate: a cut piece keeps its share of words by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def word_starts(group_starts: Sequence[int], word_count: int) -> list[int]:
    """The sample at which each of ``word_count`` text words starts, laid over the groups."""
    if not group_starts or word_count <= 0:
        return []
    if len(group_starts) == word_count:
        return list(group_starts)
    return [group_starts[index * len(group_starts) // word_count] for index in range(word_count)]


@dataclass(slots=True)
class _SpokenSentence:
    text: str
    start_sample: int
    sample_count: int = 0
    group_starts: list[int] | None = None  # from the sentence's start, in played samples
    is_complete: bool = False


@dataclass(slots=True)
class HeardLedger:
    """Which words reached the user: sentences laid end to end on the turn's audio timeline."""

    sentences: list[_SpokenSentence] = field(default_factory=list)
    total_samples: int = 0

    def begin_sentence(self, text: str) -> None:
        self.sentences.append(_SpokenSentence(text, self.total_samples))

    def add_audio(self, sample_count: int) -> None:
        self.sentences[-1].sample_count += sample_count
        self.total_samples += sample_count

    def add_word_groups(self, starts: Sequence[int]) -> None:
        """Where word groups of the current sentence start, from its start, in played samples."""
        sentence = self.sentences[-1]
        if sentence.group_starts is None:
            sentence.group_starts = []
        sentence.group_starts.extend(starts)

    def end_sentence(self) -> None:
        """The current sentence's audio is all laid down (its word groups are all known)."""
        if self.sentences:
            self.sentences[-1].is_complete = True

    def heard_text(self, played_samples: int) -> str:
        """The words played so far: a sentence cut mid-way keeps the words that had begun (or,
        from a voice that does not say where its words fall, its share of words by time)."""
        heard: list[str] = []
        for sentence in self.sentences:
            if sentence.sample_count == 0:
                break
            played_here = played_samples - sentence.start_sample
            if played_here >= sentence.sample_count:
                heard.append(sentence.text)
                continue
            if played_here > 0:
                words = sentence.text.split()
                if sentence.group_starts and sentence.is_complete:
                    starts = word_starts(sentence.group_starts, len(words))
                    kept = sum(1 for start in starts if start < played_here)
                else:
                    kept = int(len(words) * played_here / sentence.sample_count)
                if kept:
                    heard.append(" ".join(words[:kept]))
            break
        return " ".join(heard)
