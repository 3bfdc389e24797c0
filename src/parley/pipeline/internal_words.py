"""Words Parley must never say: its own instructions. A small model given a question it cannot
make out sometimes answers with its system prompt ("No lists, no markdown, no emoji."), or
repeats a tool's orders; those words are Parley's, not a reply.

A piece of a reply is internal when it shares a run of ``RUN_WORDS`` words with an instruction
of the prompt that the user did not say themselves. The persona's own sentence ("You are
Parley, a friendly voice assistant…") is not an instruction: asked who it is, Parley may say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from parley.models.contracts import ChatMessage

RUN_WORDS = 4
# What Parley says when every piece of a reply was its instructions: the model did not make out
# what was asked (most often a misheard question), so it is asked back.
ASK_AGAIN = "Sorry, could you say that again?"

_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PERSONA = re.compile(r"^\s*you are\b", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _runs(text: str, length: int = RUN_WORDS) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + length]) for i in range(len(words) - length + 1)}


class InternalWords:
    def __init__(self, instructions: Sequence[str], *, said_by_user: Sequence[str] = ()) -> None:
        # Runs of every length from 2 to RUN_WORDS: the longest judge a piece; the shorter
        # tell a piece too short to judge alone that may begin one (see ``may_begin``).
        runs: set[tuple[str, ...]] = set()
        for instruction in instructions:
            for sentence in _SENTENCE_END.split(instruction):
                if not _PERSONA.match(sentence):
                    for length in range(2, RUN_WORDS + 1):
                        runs |= _runs(sentence, length)
        for words in said_by_user:
            for length in range(2, RUN_WORDS + 1):
                runs -= _runs(words, length)  # the user's own words may be said back to them
        self._runs = frozenset(runs)

    @classmethod
    def of_prompt(cls, messages: Sequence[ChatMessage]) -> InternalWords:
        """The instructions of a reply's prompt: its system messages."""
        return cls(
            [m.content for m in messages if m.role == "system"],
            said_by_user=[m.content for m in messages if m.role == "user"],
        )

    def is_internal(self, piece: str) -> bool:
        return not self._runs.isdisjoint(_runs(piece))

    def may_begin(self, piece: str) -> bool:
        """Whether a piece too short to judge (a first piece cut for speed: "No lists,") is
        itself a run of the instructions, and so must be judged with the piece after it."""
        words = tuple(_words(piece))
        return 2 <= len(words) < RUN_WORDS and words in self._runs


class PieceGuard:
    """A reply's pieces, in order, less those that repeat the instructions. A piece too short to
    judge alone is judged with its neighbours: one that may begin a run of the instructions
    waits for the next; one that follows a withheld piece and runs on from it is withheld too."""

    def __init__(self, internal: InternalWords) -> None:
        self._internal = internal
        self._held: str | None = None
        self._last_withheld: str | None = None
        self.said = 0
        self.withheld = 0
        self._withheld_pieces: list[str] = []

    def take(self, piece: str) -> list[str]:
        """The pieces to say now: none, this one, or a held one and this one."""
        internal, said = self._internal, []
        if self._held is not None:
            before, self._held = self._held, None
            if internal.is_internal(f"{before} {piece}"):
                self.withheld += 2
                self._withheld_pieces += [before, piece]
                self._last_withheld = piece
                return []
            said.append(before)
        runs_on = (
            self._last_withheld is not None
            and internal.may_begin(piece)
            and internal.is_internal(f"{self._last_withheld} {piece}")
        )
        if runs_on or internal.is_internal(piece):
            self.withheld += 1
            self._withheld_pieces.append(piece)
            self._last_withheld = piece
        elif internal.may_begin(piece):
            self._held = piece
        else:
            said.append(piece)
        if said:
            self._last_withheld = None
        self.said += len(said)
        return said

    def take_withheld(self) -> list[str]:
        """The pieces withheld since last asked."""
        withheld, self._withheld_pieces = self._withheld_pieces, []
        return withheld

    def finish(self) -> list[str]:
        """What is left to say at the reply's end: a held piece nothing followed, or, when
        every piece was withheld, a request to say it again."""
        if self._held is not None:
            held, self._held = self._held, None
            self.said += 1
            return [held]
        if self.withheld and not self.said:
            self.said += 1
            return [ASK_AGAIN]
        return []


def without_piece(text: str, piece: str) -> str:
    """``text`` with the first place it says ``piece`` taken out (the chunker may have joined
    the piece's words with other spaces than the model wrote)."""
    words = piece.split()
    if not words:
        return text
    found = re.search(r"\s+".join(map(re.escape, words)), text)
    if found is None:
        return text
    return text[: found.start()] + text[found.end() :].lstrip()
