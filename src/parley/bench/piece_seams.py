"""The silence a listener hears where a reply's sentence was cut into pieces for speed.

A reply is spoken piece by piece (its first few words first), and inside a sentence a person
leaves no gap between words. At each join whose first piece does not end a sentence, the bench
counts the silence heard: the first piece's trailing quiet, the next piece's leading quiet, and
any time the loudspeaker ran dry waiting for the next piece (an underrun)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parley.audio.frames import AudioReady
from parley.pipeline.events import SentenceReady
from parley.pipeline.piece_joins import QUIET_LEVEL, trailing_silence_kept_ms


@dataclass
class _Piece:
    text: str
    leading_quiet: int = 0  # samples before its first loud one
    trailing_quiet: int = 0  # samples after its last loud one
    is_loud: bool = False
    underrun_ns: int = 0  # the loudspeaker's wait for its first chunk


@dataclass
class SeamListener:
    """Observes one reply's events (SentenceReady, AudioReady) as a session emits them."""

    pieces: dict[int, _Piece] = field(default_factory=dict)
    _playhead_ns: int | None = None  # when the audio queued so far will have played

    def observe(self, event: object) -> None:
        if isinstance(event, SentenceReady):
            self.pieces.setdefault(event.index, _Piece(event.text))
        elif isinstance(event, AudioReady) and event.samples.size:
            self._add_audio(event)

    def _add_audio(self, chunk: AudioReady) -> None:
        piece = self.pieces.setdefault(chunk.sentence_index, _Piece(""))
        duration_ns = chunk.samples.size * 1_000_000_000 // chunk.sample_rate_hz
        is_piece_start = not piece.is_loud and piece.leading_quiet == 0
        if is_piece_start and self._playhead_ns is not None and chunk.t_ns > self._playhead_ns:
            piece.underrun_ns += chunk.t_ns - self._playhead_ns
        start_ns = chunk.t_ns if self._playhead_ns is None else max(chunk.t_ns, self._playhead_ns)
        self._playhead_ns = start_ns + duration_ns
        loud = np.flatnonzero(np.abs(chunk.samples) > QUIET_LEVEL)
        if loud.size == 0:
            if piece.is_loud:
                piece.trailing_quiet += chunk.samples.size
            else:
                piece.leading_quiet += chunk.samples.size
            return
        if not piece.is_loud:
            piece.leading_quiet += int(loud[0])
            piece.is_loud = True
        piece.trailing_quiet = chunk.samples.size - 1 - int(loud[-1])

    def seams_ms(self, sample_rate_hz: int) -> list[float]:
        """The silence heard at each join inside a sentence, in order."""
        seams: list[float] = []
        order = sorted(self.pieces)
        for before, after in zip(order, order[1:], strict=False):
            first, second = self.pieces[before], self.pieces[after]
            if trailing_silence_kept_ms(first.text) is None or not (
                first.is_loud and second.is_loud
            ):
                continue  # a sentence's end, where a pause belongs
            quiet = first.trailing_quiet + second.leading_quiet
            seams.append(round(quiet * 1000 / sample_rate_hz + second.underrun_ns / 1e6, 1))
        return seams
