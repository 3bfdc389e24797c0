from parley.models.piper_words import group_starts
from parley.pipeline.heard_ledger import HeardLedger, word_starts


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


def test_a_timed_sentence_keeps_the_words_begun_before_the_cut() -> None:
    ledger = HeardLedger()
    ledger.begin_sentence("Paris is the capital")
    ledger.add_audio(1000)
    ledger.add_word_groups([0, 300, 450, 600])
    ledger.end_sentence()
    assert ledger.heard_text(299) == "Paris"
    assert ledger.heard_text(301) == "Paris is"
    assert ledger.heard_text(601) == "Paris is the capital"


def test_words_are_laid_over_joined_and_expanded_groups_by_count() -> None:
    # espeak says "on the" as one group: two words over one.
    assert word_starts([0, 100, 200], 4) == [0, 0, 100, 200]
    # ... and "42" as "forty two": one word over two groups.
    assert word_starts([0, 100, 200, 300], 3) == [0, 100, 200]
    assert word_starts([], 3) == []


def test_a_sentence_still_being_synthesised_falls_back_to_its_share_of_time() -> None:
    ledger = HeardLedger()
    ledger.begin_sentence("one two three four")
    ledger.add_audio(400)
    ledger.add_word_groups([0, 10])  # the first chunk's groups; more are coming
    assert ledger.heard_text(200) == "one two"


def test_piper_word_groups_start_after_each_space_phoneme() -> None:
    alignments = [
        ("^", 50),
        ("p", 10),
        ("a", 20),
        (" ", 5),
        ("i", 10),
        ("z", 10),
        (".", 5),
        ("$", 40),
    ]
    assert group_starts(alignments) == [50, 85]
