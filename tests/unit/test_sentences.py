import pytest

from parley.pipeline.sentences import SentenceChunker, speakable


def chunk(text: str, *, step: int = 1) -> list[str]:
    chunker = SentenceChunker()
    pieces: list[str] = []
    for start in range(0, len(text), step):
        pieces += chunker.push(text[start : start + step])
    return pieces + chunker.flush()


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_sentences_are_cut_at_their_ends_whatever_the_token_size(step: int) -> None:
    assert chunk(
        "The capital of France is Paris. It is lovely in spring! Want more?", step=step
    ) == [
        "The capital of France is Paris.",
        "It is lovely in spring!",
        "Want more?",
    ]


def test_decimals_are_never_cut() -> None:
    assert chunk("Pi is about 3.14159 and e is 2.718.") == ["Pi is about 3.14159 and e is 2.718."]


def test_abbreviations_and_initials_are_not_sentence_ends() -> None:
    text = (
        "Dr. Smith met Mr. Jones at 5 p.m. near St. Paul's. J. K. Rowling was there, e.g. at noon."
    )
    assert chunk(text) == [
        "Dr. Smith met Mr. Jones at 5 p.m. near St. Paul's.",
        "J. K. Rowling was there, e.g. at noon.",
    ]


def test_the_first_clause_is_cut_early_so_speech_starts_sooner() -> None:
    pieces = chunk("Well, the answer is simple, it is forty two, and that is all.")
    assert pieces[0] == "Well, the answer is simple,"
    assert " ".join(pieces) == "Well, the answer is simple, it is forty two, and that is all."


def test_later_clauses_are_only_cut_in_long_sentences() -> None:
    pieces = chunk("Sure thing, here it is. Yes, no, maybe.")
    assert pieces == ["Sure thing, here it is.", "Yes, no, maybe."]


def test_thousands_separators_are_not_clause_boundaries() -> None:
    assert chunk("There are 1,000,000 people living there today.") == [
        "There are 1,000,000 people living there today."
    ]


def test_a_trailing_fragment_without_punctuation_is_flushed() -> None:
    assert chunk("The answer is forty two") == ["The answer is forty two"]


def test_markdown_emoji_and_symbols_become_speech() -> None:
    assert speakable("**Sure!** It costs $5 or 20% 😀 — see [the docs](http://x).") == (
        "Sure! It costs 5 dollars or 20 percent — see the docs."
    )
    assert speakable("# Title\n- first item") == "Title first item"


def test_pieces_without_words_are_dropped() -> None:
    assert chunk("Okay. ... !!") == ["Okay."]


def test_an_optional_early_first_piece_cuts_after_whole_words_only() -> None:
    chunker = SentenceChunker(first_piece_max_words=4)
    pieces: list[str] = []
    for character in "Paris is the capital of France. It is big.":
        pieces += chunker.push(character)
    assert pieces + chunker.flush() == ["Paris is the capital", "of France.", "It is big."]


def test_the_early_first_piece_ends_where_speech_may_pause() -> None:
    def pieces_of(text: str) -> list[str]:
        chunker = SentenceChunker(first_piece_max_words=5)
        pieces: list[str] = []
        for character in text:
            pieces += chunker.push(character)
        return pieces + chunker.flush()

    assert pieces_of("The largest planet in our solar system is Jupiter.") == [
        "The largest planet",
        "in our solar system is Jupiter.",
    ]
    assert pieces_of("Every week, there are 7 days.") == ["Every week,", "there are 7 days."]
    assert pieces_of("Two plus three equals five.") == ["Two plus three equals five."]
    assert pieces_of("A spider has eight legs and two body parts.") == [
        "A spider has eight legs",
        "and two body parts.",
    ]
    assert pieces_of("Cold.") == ["Cold."]


def test_control_characters_never_reach_the_voice() -> None:
    # A NUL in text to speak failed Piper's espeak bridge mid-response (found by the fuzzer).
    assert speakable("0\x00") == "0"
    assert speakable("one\x07two\x7f") == "one two"
