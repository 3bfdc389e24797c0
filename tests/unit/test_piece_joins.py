"""A reply's pieces join without the silence a voice frames each one with."""

from __future__ import annotations

import numpy as np

from parley.pipeline.piece_joins import PieceEdges, trailing_silence_kept_ms

RATE_HZ = 24_000
MS = RATE_HZ // 1000


def tone(ms: int) -> np.ndarray:
    return np.where(np.sin(np.arange(ms * MS) / 5.0) >= 0, 8_000, -8_000).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * MS, dtype=np.int16)


def played(piece: str, chunks: list[np.ndarray]) -> np.ndarray:
    edges = PieceEdges(piece, RATE_HZ)
    out = [edges.push(chunk) for chunk in chunks]
    out.append(edges.finish())
    return np.concatenate(out)


def test_how_a_piece_ends_decides_the_pause_after_it() -> None:
    assert trailing_silence_kept_ms("Paris is the capital of France.") is None
    assert trailing_silence_kept_ms('He said "yes."') is None
    assert trailing_silence_kept_ms("Well,") == 90
    assert trailing_silence_kept_ms("Paris is the") == 20


def test_a_cut_inside_a_phrase_leaves_almost_no_silence_either_side() -> None:
    audio = played("Paris is the", [np.concatenate([silence(40), tone(300), silence(150)])])
    assert audio.size == (10 + 300 + 20) * MS
    assert np.abs(audio[: 10 * MS]).max() == 0 and abs(int(audio[10 * MS])) == 8_000


def test_a_sentence_end_keeps_the_voice_s_own_pause() -> None:
    audio = played("It is.", [silence(40), tone(300), silence(170)])
    assert audio.size == (10 + 300 + 170) * MS


def test_a_pause_inside_a_piece_plays_in_full() -> None:
    audio = played("One, two and three", [tone(100), silence(120), tone(100), silence(150)])
    assert audio.size == (100 + 120 + 100 + 20) * MS


def test_quiet_speech_at_the_start_is_not_taken_for_framing() -> None:
    audio = played("Hm.", [silence(200), silence(200), tone(100)])
    assert audio.size == (400 + 100) * MS


def test_a_piece_of_silence_plays_as_it_was() -> None:
    assert played("...", [silence(50), silence(50)]).size == 100 * MS


def test_a_voice_too_quiet_to_tell_from_silence_loses_nothing() -> None:
    quiet = np.full(240, 100, dtype=np.int16)
    assert played("Paris is the", [quiet] * 40).size == 40 * 240


def test_nothing_is_held_back_from_speech() -> None:
    edges = PieceEdges("Paris is the", RATE_HZ)
    first = edges.push(np.concatenate([silence(40), tone(200)]))
    assert first.size == (10 + 200) * MS  # all the speech so far, at once
