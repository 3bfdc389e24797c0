import pytest

from parley.memory.fact_voice import first_person, second_person
from parley.memory.facts import Forget, Remember, third_person, understand
from parley.models.contracts import ChatMessage
from parley.pipeline.prompt import build_prompt


def test_nothing_is_kept_that_the_user_did_not_ask_to_keep() -> None:
    for said in (
        "My favourite colour is teal.",
        "I'm vegetarian.",
        "Hi, my name is Alice. What time is it?",
        # A misheard question ("Which planet is known as the red planet?"), as Whisper wrote it.
        "Clagot is no Asthma Red Clagot.",
        "And so my fellow Americans, ask not what your country can do for you.",
    ):
        assert understand(said) == [], said


def test_stable_personal_facts_are_picked_up_in_the_third_person_when_extracting() -> None:
    assert understand("My favourite colour is teal.", is_extracting=True) == [
        Remember("The user's favourite colour is teal", "automatic")
    ]
    assert understand("Hi, my name is Alice. What time is it?", is_extracting=True) == [
        Remember("The user's name is Alice", "automatic")
    ]
    assert understand("I'm vegetarian.", is_extracting=True) == [
        Remember("The user is vegetarian", "automatic")
    ]
    assert understand("I live in Lyon.", is_extracting=True) == [
        Remember("The user lives in Lyon", "automatic")
    ]


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("my favourite food is curry, please remember it", "The user's favourite food is curry"),
        ("My phone number ends in 42, remember that.", "The user's phone number ends in 42"),
        (
            "Keep in mind my son plays football on Saturdays.",
            "The user's son plays football on Saturdays",
        ),
        ("Remember the wifi password is fishcake.", "The wifi password is fishcake"),
        ("Can you remember that I like jazz?", "The user likes jazz"),
        ("Please remember, I live in Lisbon.", "The user lives in Lisbon"),
        (
            "Don't forget that my mother's birthday is in May.",
            "The user's mother's birthday is in May",
        ),
    ],
)
def test_a_request_to_remember_keeps_a_statement_wherever_it_is_asked(said: str, kept: str) -> None:
    assert understand(said) == [Remember(kept, "explicit")]


@pytest.mark.parametrize(
    "said",
    [
        "Remember to buy milk.",  # an errand: a reminder's, not a fact
        "Remember what I said?",
        "Remember me?",
        "Remember the milk.",
        "Do you remember my name?",
        "Note that.",
    ],
)
def test_a_request_to_remember_no_statement_keeps_nothing(said: str) -> None:
    assert understand(said) == []


def test_explicit_requests_to_remember_and_forget() -> None:
    assert understand("Please remember that my sister is called Ana.") == [
        Remember("The user's sister is called Ana", "explicit")
    ]
    assert understand("Forget that.") == [Forget("")]
    assert understand("Forget about my birthday.") == [Forget("my birthday")]


def test_remember_that_after_a_statement_remembers_the_statement_once() -> None:
    # Not the fact "that": Parley once confirmed "Okay, I'll remember that that."
    assert understand("My name is Ada. Please remember that.") == [
        Remember("The user's name is Ada", "explicit")
    ]
    assert understand("I live in Porto. Remember this for me, please.") == [
        Remember("The user lives in Porto", "explicit")
    ]
    assert understand("Remember that.") == []
    assert understand("Is my name Ada? Remember that.") == []


def test_questions_and_small_talk_are_not_facts() -> None:
    assert understand("What is my favourite colour?") == []
    assert understand("What is the capital of France?") == []
    assert understand("Tell me a joke.") == []


def test_person_conversions() -> None:
    assert third_person("I don't eat pork") == "The user doesn't eat pork"
    assert second_person("The user's favourite colour is teal") == "Your favourite colour is teal"
    assert second_person("The user lives in Lyon") == "You live in Lyon"
    assert first_person("The user is vegetarian") == "I am vegetarian"


def test_the_prompt_keeps_system_and_current_turn_and_drops_the_oldest_history_to_fit() -> None:
    history = []
    for number in range(40):
        history.append(ChatMessage("user", f"question {number} " + "word " * 40))
        history.append(ChatMessage("assistant", f"answer {number} " + "word " * 40))
    history.append(ChatMessage("user", "What is my favourite colour?"))
    prompt = build_prompt(
        system_prompt="You are Parley.",
        history=history,
        recalled_facts=["The user's favourite colour is teal"],
        context_tokens=1024,
        reply_tokens=120,
    )
    assert prompt[0] == ChatMessage("system", "You are Parley.")
    assert prompt[-1].role == "user"
    assert prompt[-1].content.endswith("What is my favourite colour?")
    assert "My favourite colour is teal" in prompt[-1].content
    assert prompt[1].role == "user", "kept history starts at a user turn"
    kept = prompt[1:-1]
    assert 0 < len(kept) < 80
    assert kept[-1].content.startswith("answer 39"), "the newest history is what is kept"
    total_chars = sum(len(m.content) for m in prompt)
    assert total_chars / 3.5 < 1024 - 120


def test_word_errors_count_words_not_spellings() -> None:
    from parley.bench.figures import word_errors

    assert word_errors("What is two plus three?", "What is 2 plus 3?") == (0, 5)
    assert word_errors("What colour is the sky?", "What color is the sky") == (0, 5)
    assert word_errors(
        "How many legs does a spider have?", "How many legs done aside to have?"
    ) == (3, 7)


def test_fact_rules_stay_linear_on_adversarial_text() -> None:
    """A text made to backtrack (long runs of dots or spaces after a trigger phrase) is handled in
    a subprocess that must finish well within its bound: the regex engine holds the GIL, so a
    quadratic pattern would freeze every session of a server, not only this one."""
    import subprocess
    import sys

    script = """
from parley.memory.facts import MAX_FACT_SOURCE_CHARS, understand
size = MAX_FACT_SOURCE_CHARS - 20
for unit in ('.', ' ', 'a', '!', 'a ', '. ', "' ", '-', ',', ';', ', ', 'remember '):
    for prefix in ('', 'remember ', 'forget ', 'my favourite ', 'i live in ', 'my name is ', 'i am '):
        understand(prefix + unit * size + 'x', is_extracting=True)
        understand(prefix + unit * size + ' remember it')
understand('remember x' + '.' * 60000 + 'x')
print('ok')
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=True
    )
    assert done.stdout.strip() == "ok"


def test_an_explicit_fact_keeps_its_words_without_its_final_punctuation() -> None:
    assert understand("Remember that my code is 1.2.3!!!") == [
        Remember("The user's code is 1.2.3", "explicit")
    ]
    assert understand("remember my code is x" + "." * 1000 + "x") == [
        Remember("The user's code is x" + "." * 1000 + "x", "explicit")
    ]


def test_the_prompt_leaves_out_the_oldest_turns_and_refuses_what_cannot_fit() -> None:
    import pytest

    from parley.errors import ContextTooLongError
    from parley.pipeline.prompt import fit_to_context

    history = [ChatMessage("system", "Be brief.")]
    for number in range(300):
        history += [
            ChatMessage("user", f"note {number} " + "blah " * 30),
            ChatMessage("assistant", "Noted."),
        ]
    history.append(ChatMessage("user", "What is the capital of France?"))
    fitted = fit_to_context(history, context_tokens=2048, reply_tokens=120)
    assert fitted[0] == history[0] and fitted[-1] == history[-1]
    assert fitted[1].role == "user" and fitted[1].content.startswith("note ")
    assert "note 299 " in fitted[-3].content and "note 0 " not in " ".join(
        m.content for m in fitted
    )
    with pytest.raises(ContextTooLongError, match="llm.context_tokens"):
        fit_to_context(
            [ChatMessage("user", "word " * 10_000)], context_tokens=2048, reply_tokens=120
        )


def test_a_tool_answer_enters_the_prompt_with_the_tool_role_after_the_call() -> None:
    from parley.models.contracts import tool_exchange

    exchange = tool_exchange([("get_current_time", '{"timezone": "Asia/Tokyo"}', "It is 9 AM.")])
    assert [m.role for m in exchange] == ["assistant", "tool"]
    call, answer = (m.as_openai() for m in exchange)
    assert call["tool_calls"][0]["function"] == {
        "name": "get_current_time",
        "arguments": '{"timezone": "Asia/Tokyo"}',
    }
    assert answer == {
        "role": "tool",
        "content": "It is 9 AM.",
        "tool_call_id": call["tool_calls"][0]["id"],
    }
    assert all(m.role != "system" for m in exchange)
