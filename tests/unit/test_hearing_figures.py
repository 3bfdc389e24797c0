"""The bench's transcript accuracy: live and whole-utterance word error rates, per set."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parley.bench.figures import word_errors
from parley.bench.hearing_figures import transcript_accuracy


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
