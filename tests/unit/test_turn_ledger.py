from parley.pipeline.turn import HeardLedger


def ledger_of(*sentences: tuple[str, int]) -> HeardLedger:
    ledger = HeardLedger()
    for text, samples in sentences:
        ledger.begin_sentence(text)
        ledger.add_audio(samples)
    return ledger


def test_nothing_played_means_nothing_heard() -> None:
    assert ledger_of(("Hello there.", 1000)).heard_text(0) == ""


def test_whole_sentences_played_are_heard() -> None:
    ledger = ledger_of(("Paris is the capital.", 1000), ("It is big.", 500))
    assert ledger.heard_text(1000) == "Paris is the capital."
    assert ledger.heard_text(1500) == "Paris is the capital. It is big."


def test_a_sentence_cut_half_way_keeps_half_its_words() -> None:
    ledger = ledger_of(("One two.", 100), ("three four five six", 400))
    assert ledger.heard_text(100 + 200) == "One two. three four"


def test_a_sentence_without_audio_yet_is_not_heard() -> None:
    ledger = ledger_of(("Spoken.", 100))
    ledger.begin_sentence("Not yet synthesised.")
    assert ledger.heard_text(10_000) == "Spoken."
