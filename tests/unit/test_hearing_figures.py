"""The bench's transcript accuracy: live and whole-utterance word error rates, per set."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parley.bench.figures import word_errors
from parley.bench.hearing_figures import TranscriptsHeard, partial_figures, transcript_accuracy
from parley.pipeline.events import FinalTranscript, PartialTranscript, SpeechEnded


@dataclass
class Heard:
    prompt: str
    transcript: str
    audio_path: Path | None = None
    heard_audio: tuple[np.ndarray, ...] = ()

    @property
    def word_errors(self) -> int:
        return word_errors(self.prompt, self.transcript)[0]

    @property
    def reference_words(self) -> int:
        return word_errors(self.prompt, self.transcript)[1]


def test_each_set_gets_both_rates_and_the_utterances_heard_worse_live() -> None:
    turns = [
        Heard("what is a black hole", "what is a black hole"),
        Heard("can you explain what a black hole is", "can you explain what I'm like"),
    ]
    whole = ["what is a black hole", "can you explain what a black hole is"]
    accuracy = transcript_accuracy({"prompts": turns, "pause trial": []}, {"prompts": whole})
    assert list(accuracy) == ["prompts"]  # a set with no turns or no reference is left out
    prompts = accuracy["prompts"]
    assert prompts["utterances"] == 2
    assert prompts["whole_decode_wer"] == 0.0
    assert prompts["live_wer"] == round(4 / 13, 4)  # "I'm like" for "a black hole is"; 5 + 8 words
    assert [w["prompt"] for w in prompts["heard_worse"]] == [turns[1].prompt]


def test_partial_decodes_are_counted_per_turn_with_the_ends_that_took_one() -> None:
    ended = SpeechEnded(start_sample=0, last_voiced_sample=32_000, last_voiced_t_ns=0, t_ns=0)
    took_a_partial, decoded_again = TranscriptsHeard(), TranscriptsHeard()
    for decode_ms in (40.0, 60.0):
        took_a_partial.observe(PartialTranscript("what is", 900, 0, decode_ms=decode_ms))
    took_a_partial.observe(FinalTranscript("what is the time", ended, 0.0, 0, is_from_partial=True))
    decoded_again.observe(PartialTranscript("tell", 700, 0, decode_ms=50.0))
    decoded_again.observe(FinalTranscript("tell me a story", ended, 70.0, 0))
    figures = partial_figures([took_a_partial.metrics(), decoded_again.metrics(), {}])
    assert figures["turns"] == 2  # a turn with no transcripts observed is not counted
    assert figures["ends_taking_a_partial"] == 1
    assert figures["decode_ms"] == {"median": 50.0, "p90": 60.0, "n": 3}
    assert figures["per_turn"]["median"] == 1.5
