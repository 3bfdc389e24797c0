"""What the words at a pause say about the end of the turn.

The turn model hears how the voice sounds; it has never read the words. A transcript that
stops on a word no English sentence ends with ("the capital of", "and", "my name is") or that
trails off (an ellipsis, a comma) is plainly unfinished, whatever the voice sounded like, so
the turn then waits for the full silence instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parley.config.settings import BargeInConfig
from parley.pipeline.sentences import SENTENCE_END

# Words that cannot close a sentence: articles, conjunctions, prepositions, possessives,
# a copula waiting for its complement, and fillers.
_UNFINISHED_LAST_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "so",
        "because",
        "if",
        "when",
        "while",
        "than",
        "that",
        "which",
        "whose",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "about",
        "as",
        "into",
        "onto",
        "like",
        "my",
        "your",
        "his",
        "her",
        "their",
        "our",
        "its",
        "is",
        "are",
        "was",
        "were",
        "am",
        "um",
        "uh",
        "er",
        "erm",
    ]
)
_TRAILING_OFF = ("...", "…", ",", ";", ":", "-", "—")
_WORD = re.compile(r"[a-z']+")


def sounds_unfinished(text: str) -> bool:
    """Whether a transcript taken at a pause plainly stops mid-sentence."""
    stripped = text.strip()
    if not stripped:
        return True
    if stripped.endswith(_TRAILING_OFF):
        return True
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] in _UNFINISHED_LAST_WORDS


def trails_off(text: str) -> bool:
    """Whether a transcript taken at a pause plainly waits for more: it trails off (an
    ellipsis, a comma) or stops on a word no sentence ends with and no full stop or question
    mark follows ("what is the capital of"). Stricter than ``sounds_unfinished``: English ends
    questions on prepositions and copulas ("Where are you from?", "than he was."), and Whisper
    marks those ends, so a turn is held open for the rest only when nothing ended it."""
    stripped = text.strip()
    if not stripped or stripped.endswith(_TRAILING_OFF):
        return bool(stripped)
    return sounds_unfinished(stripped) and not stripped.endswith(tuple(SENTENCE_END))


# The stop words that ask rather than command (barge_in.stop_words holds them too).
_QUESTION_WORDS = frozenset(["what", "why", "how", "who", "where", "when", "which"])

# What Whisper writes for sounds that are not words: "[BLANK_AUDIO]", "(coughing)", "*knock*".
_NOT_WORDS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")


@dataclass(frozen=True, slots=True)
class AcknowledgementRule:
    """What speech over a reply must be to let the reply play on (config: barge_in)."""

    backchannel_words: frozenset[str]
    stop_words: frozenset[str]
    max_words: int
    short_speech_ms: int

    @classmethod
    def from_config(cls, barge_in: BargeInConfig) -> AcknowledgementRule:
        return cls(
            backchannel_words=frozenset(w.lower() for w in barge_in.backchannel_words),
            stop_words=frozenset(w.lower() for w in barge_in.stop_words),
            max_words=barge_in.max_backchannel_words,
            short_speech_ms=barge_in.short_speech_ms,
        )

    def is_acknowledgement(self, text: str, *, voiced_ms: float, is_unclear: bool = False) -> bool:
        """Whether words heard over a reply only acknowledge it ("uh-huh", "yeah", "okay"),
        are no words at all (a cough, a knock), or were too short to be anything but that,
        rather than asking for the turn ("stop", "wait", a question). ``is_unclear``: the
        recogniser was unsure of the words (Transcript.is_unclear)."""
        words = _WORD.findall(_NOT_WORDS.sub(" ", text.lower()))
        if not words:
            return True
        is_short = voiced_ms < self.short_speech_ms
        # Short words Whisper was unsure of stop the reply only by a command ("stop", "wait"):
        # an "uh-huh" over Parley's voice is decoded now and then as a question or a sentence
        # ("What is that?", "It's a flat tyre."). Over 132 such decodes (echo cancelled), 26
        # stopped the reply before, 3 now; of 144 short questions and commands said over it
        # in six voices, 108 stopped it before and 98 now (6 of the 10 heard right, unsure).
        if is_short and is_unclear:
            return (self.stop_words - _QUESTION_WORDS).isdisjoint(words)
        if not self.stop_words.isdisjoint(words) or text.rstrip().endswith("?"):
            return False
        if len(words) > self.max_words:
            return False
        return self.backchannel_words.issuperset(words) or is_short


def is_own_echo(heard: str, played: str) -> bool:
    """Whether words heard over a reply are that reply's own voice come back through the
    microphone: two or more of them, in the order the reply just spoke them. An echo canceller
    lets some of the echo through while something else sounds in the room (a cough, a knock,
    the user), and Whisper then transcribes Parley to itself."""
    heard_words = _WORD.findall(_NOT_WORDS.sub(" ", heard.lower()))
    played_words = _WORD.findall(played.lower())
    if len(heard_words) < 2:
        return False
    run = len(heard_words)
    return any(
        played_words[start : start + run] == heard_words
        for start in range(len(played_words) - run + 1)
    )
