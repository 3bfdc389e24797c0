"""Cut a streaming reply into speakable pieces, so speech starts on the first clause.

The chunker sees text as the LLM writes it and emits a piece as soon as a boundary is certain:
a sentence end needs the character after the punctuation (``3.`` might become ``3.14``), an
abbreviation or an initial is never a boundary, and a clause (comma, semicolon, colon, dash) is
cut only for the first piece of a reply or inside a long sentence, because each cut costs a
little prosody. Text is also made speakable: markdown, emoji and bare symbols are rewritten.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "approx",
        "dept",
        "est",
        "fig",
        "inc",
        "ltd",
        "no",
        "vol",
        "mt",
        "ft",
    ]
)
# What ends a sentence, a clause, and what may close either (a quote, a bracket): the chunker
# cuts pieces there, and the pieces' joins (pipeline.piece_joins) and the turn's cues read them.
SENTENCE_END = ".!?…"
CLAUSE_END = ",;:—–"
CLOSERS = "\"')]}»”’"

_MARKDOWN = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*•]\s+|^\s*\d+\.\s+(?=\D))", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\U00002600-\U000027bf\U0000fe0f\U0000200d]")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_SYMBOLS = (
    ("&", " and "),
    ("%", " percent"),
    ("°C", " degrees Celsius"),
    ("°F", " degrees Fahrenheit"),
    ("°", " degrees"),
    ("+", " plus "),
    ("=", " equals "),
    ("@", " at "),
    ("*", " "),
    ("#", " number "),
    ("~", " about "),
)
_CURRENCY = re.compile(r"([$€£])\s?(\d[\d,]*(?:\.\d+)?)")
_CURRENCY_WORDS = {"$": "dollars", "€": "euros", "£": "pounds"}
_SPACES = re.compile(r"\s+")


# Control characters a voice cannot say (tabs and line breaks stay: markdown is read by them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def speakable(text: str) -> str:
    """Rewrite written text into what a voice should say."""
    text = _CONTROL.sub(" ", text)  # a NUL reaches espeak's C code and fails the whole reply
    text = _LINK.sub(r"\1", text)
    text = _MARKDOWN.sub("", text)
    text = _EMOJI.sub("", text)
    text = _CURRENCY.sub(lambda m: f"{m.group(2)} {_CURRENCY_WORDS[m.group(1)]}", text)
    for symbol, words in _SYMBOLS:
        text = text.replace(symbol, words)
    return _SPACES.sub(" ", text).strip()


def _word_before(text: str, index: int) -> str:
    start = index
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:index]


def _is_sentence_end(buffer: str, index: int) -> bool:
    """Whether the punctuation at ``index`` ends a sentence (the next character is known)."""
    if buffer[index] != ".":
        return True
    word = _word_before(buffer, index).lstrip("\"'([{")
    if word.lower() in _ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial, as in "J. K. Rowling"
    if "." in word and all(len(part) <= 2 for part in word.split(".")):
        return False  # "U.S", "a.m"
    return not (word.isdigit() and buffer[: index - len(word)].strip() == "")  # "1." list marker


# Words that open a phrase: speech may pause before them without sounding cut off.
_PHRASE_OPENERS = frozenset(
    [
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "about",
        "to",
        "into",
        "by",
        "and",
        "but",
        "or",
        "so",
        "because",
        "which",
        "that",
        "who",
        "when",
        "where",
        "while",
        "if",
        "than",
        "as",
    ]
)
_EARLY_CUT_MIN_WORDS = 2


class SentenceChunker:
    """Incremental: ``push`` text deltas, get finished pieces; ``flush`` at the end of the reply."""

    def __init__(
        self,
        *,
        first_clause_min_words: int = 3,
        clause_min_words: int = 10,
        first_piece_max_words: int = 0,
    ) -> None:
        self._buffer = ""
        self._pieces_emitted = 0
        self._first_clause_min_words = first_clause_min_words
        self._clause_min_words = clause_min_words
        # Speech starts after this many words even with no punctuation yet (0: never).
        self._first_piece_max_words = first_piece_max_words

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        pieces: list[str] = []
        while (cut := self._find_cut()) is not None:
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self._emit(piece, pieces)
        return pieces

    def flush(self) -> list[str]:
        pieces: list[str] = []
        piece, self._buffer = self._buffer, ""
        self._emit(piece, pieces)
        return pieces

    def _emit(self, piece: str, into: list[str]) -> None:
        spoken = speakable(piece)
        if any(character.isalnum() for character in spoken):
            into.append(spoken)
            self._pieces_emitted += 1

    def _find_cut(self) -> int | None:
        buffer = self._buffer
        # The last character is never decided: what follows it may change its meaning.
        for index in range(len(buffer) - 1):
            character = buffer[index]
            if character == "\n":
                return index + 1
            if character in SENTENCE_END:
                end = index + 1
                while end < len(buffer) and buffer[end] in CLOSERS + SENTENCE_END:
                    end += 1
                if end >= len(buffer):
                    return None
                if buffer[end].isspace() and _is_sentence_end(buffer, index):
                    return end
            elif character in CLAUSE_END and buffer[index + 1].isspace():
                words = len(buffer[:index].split())
                needed = (
                    self._first_clause_min_words
                    if self._pieces_emitted == 0
                    else self._clause_min_words
                )
                if words >= needed:
                    return index + 1
        if self._pieces_emitted == 0 and self._first_piece_max_words:
            return self._early_first_cut(buffer)
        return None

    def _early_first_cut(self, buffer: str) -> int | None:
        """Where to start speaking before the first clause is finished: after a comma or
        before a word that opens a phrase ("Paris is the capital | of France"), once two words
        precede it, or after ``first_piece_max_words`` words when neither comes."""
        # Only whole words: the text after the last space may still be growing.
        complete = buffer[: buffer.rfind(" ") + 1] if " " in buffer else ""
        words = complete.split()
        if len(words) < _EARLY_CUT_MIN_WORDS + 1:
            return None
        position = 0
        for number, word in enumerate(words):
            position = complete.index(word, position)
            if number >= _EARLY_CUT_MIN_WORDS and word.lower() in _PHRASE_OPENERS:
                return position
            position += len(word)
            if number + 1 >= _EARLY_CUT_MIN_WORDS and word.endswith(","):
                return position
        if len(words) >= self._first_piece_max_words:
            return len(complete)
        return None
