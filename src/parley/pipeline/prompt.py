"""The LLM prompt for one turn, within the model's context window.

Policy, in order of what is kept: the system prompt (static, so llama.cpp keeps it in its KV
cache), the user's words for this turn with the facts recalled for it, then the recent history,
newest first, as much as fits.
Older turns that do not fit are left out of the prompt (they stay in the database, and what
mattered in them is reachable through recall); the prompt never overflows the context.
"""

from __future__ import annotations

from collections.abc import Sequence

from parley.errors import ContextTooLongError
from parley.memory.fact_voice import with_recalled_facts
from parley.models.contracts import ChatMessage, TokenCounter

_CHARS_PER_TOKEN = 3.5  # a cautious estimate for English with a BPE vocabulary
_TEMPLATE_TOKENS_PER_MESSAGE = 6


def estimate_tokens(message: ChatMessage) -> int:
    return int(len(message.content) / _CHARS_PER_TOKEN) + _TEMPLATE_TOKENS_PER_MESSAGE


def count_text_tokens(counter: TokenCounter | None, text: str) -> int:
    """Tokens of ``text``, by the model's own tokenizer when it has one (the embedded llama.cpp
    model), else estimated at ~4 characters a token."""
    return counter.count_tokens(text) if counter is not None else int(len(text) / _CHARS_PER_TOKEN)


def count_tokens(counter: TokenCounter | None, messages: Sequence[ChatMessage]) -> int:
    """A prompt's tokens, with what the chat template adds to each message."""
    return sum(
        count_text_tokens(counter, m.content) + _TEMPLATE_TOKENS_PER_MESSAGE for m in messages
    )


def build_prompt(
    *,
    system_prompt: str,
    history: Sequence[ChatMessage],
    recalled_facts: Sequence[str],
    context_tokens: int,
    reply_tokens: int,
) -> list[ChatMessage]:
    """``history`` ends with the user's message for this turn."""
    system = ChatMessage("system", system_prompt)
    current, earlier = list(history[-1:]), list(history[:-1])
    if recalled_facts and current:
        # Right beside the question, in the user's own voice: a small model uses facts there,
        # and ignores them in a system message. The stored message stays as it was said.
        current = [with_recalled_facts(current[0], recalled_facts)]
    return fit_to_context(
        [system, *earlier, *current], context_tokens=context_tokens, reply_tokens=reply_tokens
    )


def fit_to_context(
    messages: Sequence[ChatMessage], *, context_tokens: int, reply_tokens: int
) -> list[ChatMessage]:
    """The messages that fit the model's window with room for the reply: every system message
    and the last message always, then as much recent history as fits; older turns are left out.

    Raises ContextTooLongError when the system messages and the last message alone do not fit.
    """
    if not messages:
        return []
    last = messages[-1]
    systems = [m for m in messages[:-1] if m.role == "system"]
    earlier = [m for m in messages[:-1] if m.role != "system"]
    needed = sum(map(estimate_tokens, [*systems, last]))
    budget = context_tokens - reply_tokens - needed
    if budget < 0:
        raise ContextTooLongError(
            f"The instructions and the last message need about {needed:,} tokens, and the model's "
            f"window holds {context_tokens:,} with {reply_tokens:,} kept for the reply "
            "(llm.context_tokens, llm.max_reply_tokens). Shorten them."
        )
    kept: list[ChatMessage] = []
    for message in reversed(earlier):
        cost = estimate_tokens(message)
        if cost > budget:
            break
        kept.append(message)
        budget -= cost
    kept.reverse()
    # A history that starts with the assistant's words reads oddly; start at a user turn.
    while kept and kept[0].role != "user":
        kept.pop(0)
    return [*systems, *kept, last]
