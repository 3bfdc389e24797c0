"""A call's reply track: what it plays, what it counts as heard, and what it reports."""

import numpy as np

from parley.audio.frames import AudioReady
from parley.server.realtime.rtc_media import CALL_RATE_HZ, TrackAudioSink

PIPELINE_HZ = 22_050
FRAME = CALL_RATE_HZ // 50


def _chunk(turn_id: int, seconds: float, level: int = 8_000) -> AudioReady:
    samples = np.full(int(seconds * PIPELINE_HZ), level, np.int16)
    return AudioReady(
        turn_id=turn_id, sentence_index=0, samples=samples, sample_rate_hz=PIPELINE_HZ, t_ns=0
    )


def _sink() -> tuple[TrackAudioSink, list[tuple[str, int]]]:
    changes: list[tuple[str, int]] = []
    sink = TrackAudioSink(
        pipeline_rate_hz=PIPELINE_HZ, on_change=lambda change, turn: changes.append((change, turn))
    )
    sink.tracks.open(1)
    return sink, changes


async def test_the_track_counts_what_it_played_and_reports_start_and_stop() -> None:
    sink, changes = _sink()
    await sink.play(_chunk(1, 0.2))
    sink.end_of_audio(1)
    assert changes == []  # queued is not played
    frames = [sink.next_frame(FRAME) for _ in range(5)]  # 100 ms
    assert changes == [("started", 1)]
    assert all(np.abs(frame).max() > 1_000 for frame in frames[1:])
    assert abs(sink.played_samples(1) - PIPELINE_HZ // 10) <= PIPELINE_HZ // 100
    for _ in range(10):
        sink.next_frame(FRAME)
    assert changes == [("started", 1), ("stopped", 1)]
    assert abs(sink.played_samples(1) - PIPELINE_HZ // 5) <= PIPELINE_HZ // 100
    assert not np.any(sink.next_frame(FRAME))  # idle: silence


async def test_a_clear_silences_the_track_at_once_and_keeps_what_was_played() -> None:
    sink, changes = _sink()
    await sink.play(_chunk(1, 0.4))
    for _ in range(5):
        sink.next_frame(FRAME)
    played = sink.played_samples(1)
    sink.clear(1)
    assert changes == [("started", 1), ("cleared", 1)]
    assert not np.any(sink.next_frame(FRAME))
    await sink.play(_chunk(1, 0.2))  # late audio of a cleared turn is dropped
    assert not np.any(sink.next_frame(FRAME))
    assert sink.played_samples(1) == played


async def test_a_ducked_track_holds_the_reply_silent_and_resumes_where_it_was() -> None:
    sink, _changes = _sink()
    await sink.play(_chunk(1, 0.2))
    sink.next_frame(FRAME)
    played = sink.played_samples(1)
    sink.duck(True)
    assert not np.any(sink.next_frame(FRAME))
    assert sink.played_samples(1) == played
    sink.duck(False)
    assert np.any(sink.next_frame(FRAME))
    assert sink.played_samples(1) > played
