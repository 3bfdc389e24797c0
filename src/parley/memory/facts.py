"""What to remember from what the user says, and what they ask to forget.

Rules, not a model: on two cores an extra LLM call per turn would cost more than a second, and
the facts worth keeping across conversations are said in a few recognisable ways. Facts are
rewritten from the user's first person into the third ("my" → "the user's") so that the LLM
reads them unambiguously later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Every pattern over user text runs in linear time: no lazy group is followed by a repeated
# class that could also match it (`.+?[.!?]*$` is quadratic on a run of dots, and the regex
# engine holds the GIL, so one such text would freeze every session). Trailing punctuation is
# stripped in Python instead.
_EXPLICIT = re.compile(
    r"^\s*(?:(?:please|can you|could you|would you|i want you to|i'd like you to|"
    r"i would like you to)\s+)?(?:please\s+)?(?:remember|note(?: down)?|make a note|write down|"
    r"save|store|keep in mind|don't forget|do not forget)\s*(?:(?:that|this)\s*:?\s*|:\s*)?"
    r"(?P<fact>.+)",
    re.IGNORECASE | re.DOTALL,
)
# "For the future, I live in Lisbon.": said to be kept, with no verb of remembering.
_FOR_LATER = re.compile(
    r"^\s*(?:for the future|for future reference|just so you know|so you know|fyi)[,:]?\s+"
    r"(?P<fact>.+)",
    re.IGNORECASE | re.DOTALL,
)
_AUTOMATIC = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bmy name is (?P<value>[a-z][\w' -]{0,40})",
        r"\bcall me (?P<value>[a-z][\w' -]{0,40})",
        # "is", or its contraction, which Whisper often writes without the apostrophe
        # ("my favourite colour's teal" -> "my favorite colors teal").
        r"\bmy (?:favou?rite|preferred) (?P<what>[a-z]{2,20}(?: [a-z]{2,20}){0,2})(?: is| are|'s|s) (?P<value>[\w' -]{1,40})",
        r"\bi(?:'m| am) (?:a )?(?P<value>vegetarian|vegan|pescatarian|allergic to [\w' -]{2,30}|lactose intolerant|diabetic)",
        r"\bi (?:live|am living) in (?P<value>\w[\w' -]{1,40})",
        r"\bi(?:'m| am) from (?P<value>\w[\w' -]{1,40})",
        r"\bi work as (?:an? )?(?P<value>\w[\w' -]{1,40})",
        r"\bmy birthday is (?P<value>\w[\w' -]{1,40})",
        r"\bi(?:'m| am) (?P<value>\d{1,3}) years old",
        r"\bi (?:don't|do not) (?:eat|drink|like) (?P<value>\w[\w' -]{1,40})",
    )
)
_FORGET = re.compile(
    r"^\s*(?:please\s+)?forget\s+(?:(?:about|that|what i (?:just )?said)\s*)?(?P<topic>.*)",
    re.IGNORECASE | re.DOTALL,
)
# Longer text is no fact to keep (a pasted document, an attack): it is not searched at all.
MAX_FACT_SOURCE_CHARS = 2_000
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|well|so|okay|ok|oh)\b[,!.]?\s*", re.IGNORECASE)
_PRONOUNS = (
    (r"\bI am\b", "the user is"),
    (r"\bI'm\b", "the user is"),
    (r"\bI've\b", "the user has"),
    (r"\bI\b", "the user"),
    (r"\bmy\b", "the user's"),
    (r"\bmine\b", "the user's"),
    (r"\bme\b", "the user"),
)


@dataclass(frozen=True, slots=True)
class Remember:
    text: str
    source: Literal["explicit", "automatic"]


@dataclass(frozen=True, slots=True)
class Forget:
    topic: str  # empty: the most recent memory


_AGREEMENT = (
    (r"\bthe user (?:don't|do not)\b", "the user doesn't"),
    (r"\bthe user have\b", "the user has"),
    (
        r"\bthe user (live|like|love|work|eat|drink|prefer|want|need|hate|play|own|speak|use)\b",
        r"the user \1s",
    ),
)


def third_person(text: str) -> str:
    for pattern, replacement in _PRONOUNS + _AGREEMENT:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    text = text.strip().rstrip(".!?")
    return text[0].upper() + text[1:] if text else text


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]


def _without_end_punctuation(text: str) -> str:
    return text.strip().rstrip(".!?").strip()


# What "remember …" may end with that points back to the sentence before.
_POINTING_BACK = {
    "", "that", "this", "it", "that for me", "this for me", "it for me", "that one", "for me",
}  # fmt: skip


# "…, please remember that.", "…, remember it for me.": the request at the sentence's end.
_REMEMBER_AFTER = re.compile(
    r"[\s,;]{1,3}(?:(?:please|so|and)\s)?(?:remember|note|keep in mind|don't forget)"
    r"(?:\s+(?:that|this|it))?(?:\s+for me)?(?:,?\s+please)?$",
    re.IGNORECASE,
)
# What a fact to keep cannot open with: a question ("remember what I said?"), an errand ("remember
# to buy milk" is a reminder's, with a time), or nothing but a pronoun.
_NOT_A_STATEMENT = re.compile(
    r"^(?:to|what|who|whom|whose|where|when|why|how|which|whether|if|do|does|did|can|could|"
    r"would|will|should)\b",
    re.IGNORECASE,
)
# A statement says something is, has or does something: a verb of being or having, or a person's
# own doings in the first person ("I play chess on Tuesdays", "my son plays football").
_STATEMENT_VERB = re.compile(
    r"\b(?:is|are|was|were|am|be|been|has|have|had|'s|'re|'m|'ve|i|my|our|we|me|mine)\b|"
    r"\b\w{3,}s\b(?!\S*\?)",
    re.IGNORECASE,
)


def is_statement(fact: str) -> bool:
    """Whether words asked to be kept read as a statement about the person or their world
    ("my sister is called Ana", "the wifi password is fishcake", "I play chess on Tuesdays"),
    not a question, an errand or a fragment."""
    fact = _without_end_punctuation(fact)
    words = fact.split()
    return (
        len(words) >= 2
        and not fact.endswith("?")
        and _NOT_A_STATEMENT.match(fact) is None
        and _STATEMENT_VERB.search(fact) is not None
    )


def fact_asked_to_keep(sentence: str, said_before: str | None = None) -> str | None:
    """The fact a sentence clearly asks Parley to remember, in the user's words, or None: a
    request to remember ("Remember that …", "…, please remember it", "My name is Ada. Remember
    that.") of a statement (``is_statement``)."""
    if (explicit := _EXPLICIT.match(sentence) or _FOR_LATER.match(sentence)) is not None:
        fact = _without_end_punctuation(explicit.group("fact"))
    elif (after := _REMEMBER_AFTER.search(_without_end_punctuation(sentence))) is not None:
        fact = _without_end_punctuation(sentence)[: after.start()].strip(" ,")
    else:
        return None
    if fact.lower().removesuffix("please").strip(" ,") in _POINTING_BACK:
        # "My name is Ada. Remember that.": the fact is the sentence before.
        if said_before is None or said_before.rstrip().endswith("?"):
            return None
        fact = _without_end_punctuation(_GREETING.sub("", said_before))
    fact = _GREETING.sub("", fact.lstrip(" ,;:-"))  # "Remember, …": no comma to keep
    return fact if is_statement(fact) else None


def understand(user_text: str, *, is_extracting: bool = False) -> list[Remember | Forget]:
    """The memory actions one user utterance asks for: to remember a fact, only when asked
    clearly (``fact_asked_to_keep``), or to forget one; with ``is_extracting`` (the config's
    memory.is_extracting, off unless the user turns it on), stable personal facts said
    without being asked too."""
    actions: list[Remember | Forget] = []
    if len(user_text) > MAX_FACT_SOURCE_CHARS:
        return actions
    previous: str | None = None  # the sentence before, which "remember that." points back to
    # Spaces are normalised first, so the patterns can ask for exactly one between words.
    for sentence in _sentences(" ".join(user_text.split())):
        said_before, previous = previous, sentence
        if (forget := _FORGET.match(sentence)) is not None:
            actions.append(Forget(_without_end_punctuation(forget.group("topic"))))
            continue
        if (fact := fact_asked_to_keep(sentence, said_before)) is not None:
            if actions and actions[-1] == Remember(third_person(fact), "automatic"):
                actions.pop()  # the sentence before, now asked for
            actions.append(Remember(third_person(fact), "explicit"))
            continue
        if not is_extracting or sentence.rstrip().endswith("?"):
            continue  # a question about a fact is not a statement of it
        sentence = _GREETING.sub("", sentence)
        for pattern in _AUTOMATIC:
            if pattern.search(sentence):
                actions.append(Remember(third_person(sentence), "automatic"))
                break
    return actions
