"""A reply's one status, through its life: held, live, playing, done; cut; discarded. The voice
is scripted (a tone per piece) and the sink a loudspeaker clocked in real time."""

from __future__ import annotations

import asyncio

from parley.audio.virtual_devices import RealtimePlaybackSink
from parley.pipeline.reply_handle import ReplyHandle, ReplyStatus
from parley.pipeline.speculation import HeldReply
from parley.pipeline.turn import TurnScope
from tests.unit.test_reply_faults import RATE, _scope


async def test_a_held_reply_waits_then_lives_plays_and_is_done() -> None:
    sink = RealtimePlaybackSink(RATE)
    held = HeldReply(lambda _event: None)
    handle = ReplyHandle(1, sink, held=held)
    held.on_release = lambda: sink.tracks.open(1)
    handle.scope = held.scope = _scope(1, sink, gate=held.gate)
    handle.scope.start([])
    await asyncio.sleep(0.02)
    assert handle.status is ReplyStatus.HELD and handle.played_samples == 0
    held.release()
    assert handle.status is ReplyStatus.LIVE
    await handle.scope.wait()
    assert handle.status is ReplyStatus.PLAYING  # written whole, still sounding
    assert handle.is_audible
    await sink.drain()
    assert handle.status is ReplyStatus.DONE and not handle.is_audible
    assert handle.heard_text().startswith("One. Two, three.")


def _started(sink: RealtimePlaybackSink) -> tuple[ReplyHandle, TurnScope]:
    """Reply 1, begun and taking the floor at once (not held)."""
    sink.tracks.open(1)
    handle = ReplyHandle(1, sink)
    handle.scope = scope = _scope(1, sink)
    scope.start([])
    return handle, scope


async def test_a_reply_cut_while_playing_keeps_only_what_was_heard() -> None:
    sink = RealtimePlaybackSink(RATE)
    handle, scope = _started(sink)
    await scope.wait()
    await asyncio.sleep(0.3)
    assert handle.cut()
    assert handle.status is ReplyStatus.CUT
    heard = handle.heard_text()
    assert heard and heard != scope.reply_text.strip()
    assert not handle.cut()  # nothing left to stop


async def test_a_live_reply_cut_is_cancelled_and_a_discarded_one_leaves_no_trace() -> None:
    sink = RealtimePlaybackSink(RATE)
    live, scope = _started(sink)
    await asyncio.sleep(0)
    assert live.status is ReplyStatus.LIVE and live.cut()
    await scope.wait()
    assert live.status is ReplyStatus.CUT and scope.is_cancelled

    held = HeldReply(lambda _event: None)
    speculative = ReplyHandle(2, sink, held=held)
    speculative.scope = held.scope = _scope(2, sink, gate=held.gate)
    speculative.scope.start([])
    await asyncio.sleep(0)
    held.discard()  # the user went on past the pause
    await speculative.scope.wait()
    assert speculative.status is ReplyStatus.DISCARDED
    assert speculative.played_samples == 0
