"""The bench's barge-in trial: a question spoken over the reply to another, timed from its
onset to the reply's silence."""

from __future__ import annotations

import logging

from parley.audio.pcm import decode_file
from parley.audio.virtual_devices import RealtimePlaybackSink, frames_then_over_the_reply
from parley.bench.prompts import Prompt
from parley.pipeline.events import ReplyInterrupted, SpeechStarted
from parley.pipeline.runtime import Runtime

log = logging.getLogger(__name__)


async def run_interruption(runtime: Runtime, first: Prompt, second: Prompt) -> float | None:
    """Start ``second`` while the reply to ``first`` plays; time from its onset to silence."""
    backends = runtime.backends
    rate_hz = backends.settings.audio.output_sample_rate_hz
    sink = RealtimePlaybackSink(rate_hz)
    onsets: list[int] = []
    interrupted: list[ReplyInterrupted] = []

    def observe(event: object) -> None:
        if isinstance(event, SpeechStarted):
            onsets.append(event.onset_t_ns)
        if isinstance(event, ReplyInterrupted) and event.reason == "turn_detected":
            interrupted.append(event)

    session = runtime.session(sink=sink, observer=observe)
    first_audio, second_audio = decode_file(first.path), decode_file(second.path)

    def reply_heard_for_half_a_second() -> bool:
        turn_id = sink.tracks.floor_turn_id
        return turn_id is not None and sink.played_samples(turn_id) >= rate_hz // 2

    # The first question, then silence until its reply has played for half a second (at most
    # 10 s), then the second question over the reply.
    frames = frames_then_over_the_reply(
        first_audio,
        second_audio,
        is_reply_heard=reply_heard_for_half_a_second,
        keep_going=lambda: session.is_busy,
        max_wait_ms=10_000,
    )
    await session.listen(frames)
    await session.wait_for_replies()
    silenced_ns = sink.last_silenced_t_ns
    if (silenced_ns is None or len(onsets) < 2 or silenced_ns < onsets[1]) and interrupted:
        # The words over the reply found it between two pieces, the speaker dry: it was held
        # silent from the moment they began, and stopped when they were judged.
        silenced_ns = sink.last_ducked_t_ns
    if len(onsets) < 2 or silenced_ns is None or silenced_ns < onsets[1]:
        log.info(
            "interruption not measured: %d onsets, reply silenced at %s, replies %r",
            len(onsets),
            silenced_ns,
            [r.reply_text for r in session.results],
        )
        return None
    return round((silenced_ns - onsets[1]) / 1e6, 1)
