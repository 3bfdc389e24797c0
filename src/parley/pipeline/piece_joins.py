"""How a reply's spoken pieces join: the silence a voice puts around each piece, trimmed to
what the text between them calls for.

A reply is synthesised piece by piece so that speech starts on its first few words, and a
voice frames every piece as if it were a whole utterance: Piper puts ~40 ms of silence before
it and ~110-190 ms after. Laid end to end, "Paris is the" and "capital of France." then have
~190 ms of silence in the middle of a phrase, where a person leaves none, and the reply's first
sound comes ~40 ms after its first audio. So each piece's leading silence is cut to
``LEAD_KEPT_MS`` and its trailing silence to what its last character calls for: a sentence's
end keeps the voice's own pause, a clause's (a comma) a short one, a cut inside a phrase almost
none.

Trimming is done as the audio streams, without holding speech back: a chunk's trailing quiet
samples are held until the next chunk shows whether they were a pause inside the piece (then
they play in full) or its end (then they are trimmed).
"""

from __future__ import annotations

import numpy as np

from parley.audio.frames import Int16Array
from parley.pipeline.sentences import CLAUSE_END, CLOSERS, SENTENCE_END

# Below this a sample is silence (about -40 dBFS): a voice's frame around a piece is digital
# near-silence, and the quietest speech sounds are well above it.
QUIET_LEVEL = 300
LEAD_KEPT_MS = 10
# Trailing silence kept after a piece, by how the piece ends.
CLAUSE_PAUSE_MS = 90  # a comma, semicolon, colon or dash
WORD_JOIN_MS = 20  # a piece cut after a few words, inside a phrase
# A piece that starts with more silence than this is starting with quiet speech, not framing.
MAX_LEAD_TRIMMED_MS = 300


def trailing_silence_kept_ms(piece: str) -> int | None:
    """How much of a piece's trailing silence is kept (None: all of it, at a sentence's end)."""
    last = piece.rstrip().rstrip(CLOSERS)[-1:]
    if not last or last in SENTENCE_END:
        return None
    if last in CLAUSE_END:
        return CLAUSE_PAUSE_MS
    return WORD_JOIN_MS


class PieceEdges:
    """One piece's audio, chunk by chunk, with its framing silence trimmed. Feed each chunk to
    ``push`` and play what it returns; play what ``finish`` returns at the piece's end."""

    def __init__(self, piece: str, sample_rate_hz: int) -> None:
        self._lead_kept = sample_rate_hz * LEAD_KEPT_MS // 1000
        self._lead_max = sample_rate_hz * MAX_LEAD_TRIMMED_MS // 1000
        kept_ms = trailing_silence_kept_ms(piece)
        self._tail_kept = None if kept_ms is None else sample_rate_hz * kept_ms // 1000
        self._is_leading = True
        self._lead: list[Int16Array] = []  # leading silence seen so far
        self._lead_samples = 0
        self._held = np.zeros(0, dtype=np.int16)  # quiet samples that may be the piece's tail
        self._is_heard = False  # whether any sample was above the quiet level
        self.lead_cut_samples = 0  # of the voice's lead-in, cut from the piece's start

    def push(self, samples: Int16Array) -> Int16Array:
        """The part of ``samples`` that can play now."""
        if self._is_leading:
            samples = self._after_lead(samples)
            if samples.size == 0:
                return samples
        loud = np.flatnonzero(np.abs(samples) > QUIET_LEVEL)
        if loud.size == 0:
            self._held = np.concatenate([self._held, samples])
            return np.zeros(0, dtype=np.int16)
        self._is_heard = True
        end = int(loud[-1]) + 1
        ready = np.concatenate([self._held, samples[:end]])
        self._held = samples[end:].copy()
        return ready

    def finish(self) -> Int16Array:
        """The piece's last samples: its trailing silence, cut to what its end calls for."""
        if self._is_leading:  # nothing but silence: let it play as it was
            self._is_leading = False
            return np.concatenate(self._lead) if self._lead else np.zeros(0, dtype=np.int16)
        held, self._held = self._held, np.zeros(0, dtype=np.int16)
        if self._tail_kept is None or not self._is_heard:
            return held  # a sentence's end, or a voice too quiet to tell from silence: all of it
        return held[: self._tail_kept]

    def _after_lead(self, samples: Int16Array) -> Int16Array:
        loud = np.flatnonzero(np.abs(samples) > QUIET_LEVEL)
        if loud.size == 0 and self._lead_samples + samples.size <= self._lead_max:
            self._lead.append(samples)
            self._lead_samples += samples.size
            return np.zeros(0, dtype=np.int16)
        self._is_leading = False
        seen = np.concatenate([*self._lead, samples])
        self._lead.clear()
        first_loud = self._lead_samples + (int(loud[0]) if loud.size else samples.size)
        if first_loud > self._lead_max:
            return seen  # quiet speech, not a voice's framing: nothing is cut
        self.lead_cut_samples = max(0, first_loud - self._lead_kept)
        return seen[self.lead_cut_samples :]
