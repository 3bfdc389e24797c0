"""What Parley does to a transcript Whisper returns."""

from parley.models.whisper_stt import is_implausible, without_repetition


def test_a_sentence_whisper_repeats_after_itself_is_cut_and_real_speech_is_kept() -> None:
    assert without_repetition("What is the capital of France? What is the capital of France") == (
        "What is the capital of France?"
    )
    assert without_repetition("What is 2 plus 3? What is 2 plus 3? What is 2") == (
        "What is 2 plus 3?"
    )
    for kept in (
        "No, no, no.",
        "I think I think so.",
        "Tell me a joke. Tell me another one.",
        "What do bees make?",
        "",
    ):
        assert without_repetition(kept) == kept


def test_a_transcript_faster_than_speech_or_one_word_looping_is_implausible() -> None:
    assert is_implausible("5, 5, 5, 5, 5, 5, 5,", clip_s=1.1)  # "five five", decoded in a loop
    assert is_implausible("no no no no", clip_s=1.5)
    assert is_implausible("one two three four five six seven eight", clip_s=1.0)
    assert not is_implausible("five five", clip_s=1.1)
    assert not is_implausible("no no no", clip_s=1.0)
    assert not is_implausible("Go forward 10 meters.", clip_s=0.9)
    assert not is_implausible("How many legs does a spider have?", clip_s=1.9)
