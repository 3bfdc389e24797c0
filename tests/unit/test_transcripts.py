"""What Parley does to a transcript Whisper returns."""

from parley.models.whisper_stt import without_repetition


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
