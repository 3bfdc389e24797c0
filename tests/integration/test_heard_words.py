"""What was heard, to the word: Piper says where its words fall, so a reply cut at any sample is
stored up to the word that was playing there. Checked against Whisper, which hears the audio
up to that sample."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from parley.audio.frames import AudioReady, Int16Array
from parley.audio.sink import PlaybackTracks
from parley.models.loaded import FixedReply
from parley.pipeline.turn import TurnScope
from parley.pipeline.turn_figures import TurnMetrics

REPLY = (
    "The lighthouse keeper climbed the narrow stairs every evening, lit the great lamp, "
    "and watched the ships pass safely through the dark water below."
)


class RecordingLoudspeaker:
    """Stands in for a loudspeaker (none here): keeps every sample it is given to play."""

    can_resume_held_playback = True

    def __init__(self) -> None:
        self.tracks = PlaybackTracks()
        self.samples: list[Int16Array] = []

    async def play(self, chunk: AudioReady) -> None:
        self.samples.append(chunk.samples)

    def clear(self, turn_id: int) -> None:
        del turn_id

    def duck(self, is_ducked: bool) -> None:
        del is_ducked

    def played_samples(self, turn_id: int) -> int:
        del turn_id
        return sum(piece.size for piece in self.samples)


@pytest.mark.slow
async def test_a_reply_cut_at_any_sample_is_stored_to_the_word_playing_there(
    backends: Any, whisper_check: Callable[[np.ndarray, int], str]
) -> None:
    rate_hz = backends.settings.audio.output_sample_rate_hz
    assert backends.tts.has_word_timing, "Piper loads with its alignments (the onnx package)"
    loudspeaker = RecordingLoudspeaker()
    scope = TurnScope(
        1,
        llm=FixedReply(REPLY),
        tts=backends.tts,
        sink=loudspeaker,
        output_sample_rate_hz=rate_hz,
        metrics=TurnMetrics(),
        first_piece_max_words=3,
    )
    scope.start([])
    await scope.wait()
    audio = np.concatenate(loudspeaker.samples)
    assert all(sentence.group_starts for sentence in scope.ledger.sentences)
    words = REPLY.split()
    for share in (0.2, 0.35, 0.5, 0.65, 0.8):
        cut = int(audio.size * share)
        stored = scope.ledger.heard_text(cut).split()
        assert stored == words[: len(stored)]
        heard = whisper_check(audio[:cut], rate_hz).split()
        # Whisper may hear a word cut mid-way, or not: one word either way.
        assert abs(len(stored) - len(heard)) <= 1, (share, stored, heard)
