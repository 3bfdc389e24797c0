"""Each reply's track at a sink, kept once (`PlaybackTracks`) for every kind of sink: only the
reply with the floor plays, a superseded reply's late audio is dropped, and a cleared reply
keeps where it stopped."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from parley.audio.frames import AudioReady
from parley.audio.sink import AudioSink, PlaybackTracks
from parley.audio.virtual_devices import CollectingSink
from parley.server.realtime.audio_out import WebSocketAudioSink
from parley.server.realtime.rtc_media import TrackAudioSink


def test_only_the_reply_with_the_floor_is_admitted_until_it_is_cleared() -> None:
    tracks = PlaybackTracks()
    assert not tracks.admits(1)  # no reply has the floor yet
    tracks.open(1)
    assert tracks.admits(1) and tracks.has_floor(1)
    tracks.open(2)  # a newer reply takes the floor: the first one's late audio is stale
    assert not tracks.admits(1) and tracks.admits(2)
    assert tracks.clear(2, played_samples=480)
    assert not tracks.admits(2) and tracks.has_floor(2)
    assert tracks.cleared_at(2) == 480 and tracks.cleared_at(1) is None
    assert not tracks.clear(2, played_samples=960)  # the first stop stands
    tracks.hear(2, 240)  # the listener's own account wins
    assert tracks.cleared_at(2) == 240


def test_the_stops_remembered_are_bounded() -> None:
    tracks = PlaybackTracks()
    for turn_id in range(1, 1_001):
        tracks.clear(turn_id, played_samples=turn_id)
    assert tracks.cleared_at(1) is None  # a long session's oldest are forgotten
    assert tracks.cleared_at(1_000) == 1_000


def _chunk(turn_id: int, samples: int = 2_400) -> AudioReady:
    return AudioReady(turn_id, 0, np.ones(samples, np.int16), sample_rate_hz=24_000, t_ns=0)


async def _sent(_turn_id: int, _samples: object) -> bool:
    return True


def _collecting() -> AudioSink:
    return CollectingSink()


def _socket() -> AudioSink:
    return WebSocketAudioSink(_sent, client_rate_hz=lambda: 24_000, pipeline_rate_hz=24_000)


def _call() -> AudioSink:
    return TrackAudioSink(pipeline_rate_hz=24_000, on_change=lambda _change, _turn: None)


@pytest.mark.parametrize("make_sink", [_collecting, _socket, _call])
async def test_every_sink_plays_only_the_reply_with_the_floor(
    make_sink: Callable[[], AudioSink],
) -> None:
    sink = make_sink()
    sink.tracks.open(1)
    await sink.play(_chunk(1))
    sink.tracks.open(2)
    await sink.play(_chunk(1))  # a superseded reply's late audio
    await sink.play(_chunk(2))
    sink.clear(2)
    await sink.play(_chunk(2))  # after the barge-in: dropped
    assert sink.tracks.cleared_at(2) == sink.played_samples(2)
    assert sink.tracks.is_cleared(2) and not sink.tracks.is_cleared(1)
    if isinstance(sink, CollectingSink):
        assert sink.audio(1).size == 2_400 and sink.audio(2).size == 2_400
