"""The loudspeaker-paced sink: ducking holds what has been heard; clearing drops the rest."""

import asyncio

import numpy as np

from parley.audio.frames import AudioReady
from parley.audio.virtual_devices import RealtimePlaybackSink


def _chunk(turn_id: int, seconds: float) -> AudioReady:
    samples = np.zeros(int(24_000 * seconds), np.int16)
    return AudioReady(
        turn_id=turn_id, sentence_index=0, samples=samples, sample_rate_hz=24_000, t_ns=0
    )


async def test_a_ducked_reply_is_not_heard_while_held_and_goes_on_after() -> None:
    sink = RealtimePlaybackSink(24_000)
    sink.tracks.open(1)
    await sink.play(_chunk(1, 2.0))
    await asyncio.sleep(0.05)
    sink.duck(True)
    held = sink.played_samples(1)
    assert sink.last_silenced_t_ns is not None
    await asyncio.sleep(0.05)
    assert sink.played_samples(1) == held  # nothing is heard while ducked
    sink.duck(False)
    await asyncio.sleep(0.05)
    assert sink.played_samples(1) > held
    sink.duck(True)
    sink.clear(1)  # the barge-in is confirmed: what was heard is what was played before the duck
    heard = sink.played_samples(1)
    await asyncio.sleep(0.05)
    assert sink.played_samples(1) == heard < 24_000 * 2


async def test_a_reply_held_between_two_pieces_is_silent_from_the_hold() -> None:
    """Voice over a reply whose speaker ran dry between two pieces: nothing was sounding, so
    nothing was silenced, but the hold is when the reply went quiet for good."""
    sink = RealtimePlaybackSink(24_000)
    sink.tracks.open(1)
    await sink.play(_chunk(1, 0.0))  # a reply has begun, and has nothing left to play
    sink.duck(True)
    assert sink.last_silenced_t_ns is None
    assert sink.last_ducked_t_ns is not None
