"""Two faults of a reply's lifetime, each reproduced before it was mended.

1. With barge-in off, a reply begun on a pause could start while the previous reply still
   played, and discarding it emptied the whole loudspeaker queue: the reply the user was
   listening to went silent with nobody speaking over it.
2. A sink whose client stopped reading raised a bare CancelledError out of the speaking stage;
   a TaskGroup counts such a child as cancelled and lets its siblings wait, so the chunker and
   the LLM stalled until the connection was torn down.

The LLM and the voice here are scripted (fixed words, a tone per piece): what is under test is
what the scope and the sinks do with them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from parley.audio.frames import AudioReady, Int16Array
from parley.audio.sink import AudioSink, PlaybackTracks
from parley.audio.virtual_devices import RealtimePlaybackSink
from parley.models.loaded import FixedReply
from parley.pipeline.turn import StrayCancellation, TurnScope
from parley.pipeline.turn_figures import TurnMetrics
from parley.server.realtime.audio_out import WebSocketAudioSink
from parley.server.realtime.outgoing import Outgoing

RATE = 24_000
REPLY = "One. Two, three. Four, five, six. Seven. Eight. Nine. Ten. Eleven. Twelve. Thirteen."


class ToneVoice:
    """Stands in for Piper: a quarter second of tone per piece, in two chunks."""

    sample_rate_hz = RATE

    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        del text, speed
        tone = (np.sin(np.arange(RATE // 8) / 8) * 8_000).astype(np.int16)
        for _ in range(2):
            await asyncio.sleep(0)
            yield tone


def _scope(
    turn_id: int,
    sink: AudioSink,
    *,
    gate: asyncio.Event | None = None,
    voice: ToneVoice | None = None,
) -> TurnScope:
    return TurnScope(
        turn_id,
        llm=FixedReply(REPLY),
        tts=voice or ToneVoice(),
        sink=sink,
        output_sample_rate_hz=RATE,
        metrics=TurnMetrics(),
        gate=gate,
    )


async def test_discarding_a_held_reply_leaves_the_reply_playing_under_it() -> None:
    sink = RealtimePlaybackSink(RATE)
    sink.tracks.open(1)
    await sink.play(
        AudioReady(1, 0, np.ones(RATE * 2, np.int16), RATE, 0)
    )  # two seconds of the last reply, written whole and playing
    await asyncio.sleep(0.05)
    # A reply begun on a pause takes the sink's turn, is held behind its gate, and is
    # discarded when the user goes on.
    sink.tracks.open(2)
    held = _scope(2, sink, gate=asyncio.Event())
    held.start([])
    await asyncio.sleep(0.05)
    held.cancel()
    await held.wait()
    playing_at = sink.played_samples(1)
    await asyncio.sleep(0.1)
    assert sink.played_samples(1) > playing_at  # the earlier reply still plays
    assert sink.played_samples(2) == 0


class _SilentClient:
    """A WebSocket whose client reads nothing: Outgoing's writer is never run for it."""

    async def send_text(self, text: str) -> None:
        raise AssertionError("nothing is written to a client that reads nothing")


async def test_a_client_that_stops_reading_ends_the_reply_as_heard() -> None:
    outgoing = Outgoing(
        _SilentClient(),  # type: ignore[arg-type]
        session_id="sess_test",
        max_send_stall_s=0.05,
        is_cleared=lambda _turn: False,
        on_drop=lambda: None,
    )

    async def send(turn_id: int, samples: Int16Array) -> bool:
        await outgoing.send_audio(turn_id, {"type": "response.output_audio.delta", "n": 1})
        return True

    sink = WebSocketAudioSink(send, client_rate_hz=lambda: RATE, pipeline_rate_hz=RATE)
    sink.tracks.open(1)
    # Small chunks, so that the client's 50 unread audio messages fill before the reply ends.
    scope = _scope(1, sink, voice=_ManyChunksVoice())
    scope.start([])
    await asyncio.wait_for(scope.wait(), timeout=5)
    assert scope.is_cancelled
    assert outgoing.drop_reason is not None and "read no audio" in outgoing.drop_reason
    assert scope.metrics.cancel_t_ns is not None


class _ManyChunksVoice(ToneVoice):
    async def synthesize(self, text: str, *, speed: float = 1.0) -> AsyncIterator[Int16Array]:
        del text, speed
        for _ in range(40):
            await asyncio.sleep(0)
            yield np.full(240, 1_000, np.int16)  # audible: silence is trimmed


class _CancellingSink:
    """A sink that ends its play with a CancelledError nobody asked for."""

    def __init__(self) -> None:
        self.tracks = PlaybackTracks()

    can_resume_held_playback = False

    async def play(self, chunk: AudioReady) -> None:
        raise asyncio.CancelledError

    def clear(self, turn_id: int) -> None:
        del turn_id

    def duck(self, is_ducked: bool) -> None:
        del is_ducked

    def played_samples(self, turn_id: int) -> int:
        return 0


async def test_a_stray_cancellation_in_a_stage_ends_the_reply_instead_of_stalling_it() -> None:
    scope = _scope(1, _CancellingSink())
    scope.start([])
    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(scope.wait(), timeout=5)
    assert raised.group_contains(StrayCancellation)
