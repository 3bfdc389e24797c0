"""``response.create``'s per-response options: the session's options for this one response.

Parley honours what can mean something locally (instructions, text or audio, the client's
tools and tool choice) and refuses, with the reason, what it cannot do: a response outside the
conversation (``conversation: "none"``) or over items the client lists (``input``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from parley.config.settings import ServerConfig
from parley.pipeline.session_options import SessionOptions
from parley.server.realtime.inbound import reply_changes
from parley.server.realtime.protocol import ClientEventError

_KNOWN = frozenset(
    {
        "instructions",
        "output_modalities",
        "tools",
        "tool_choice",
        "metadata",
        "conversation",
        "input",
        "max_output_tokens",
        "audio",
        "prompt",
    }
)


def response_options(
    response: Any, *, options: SessionOptions, limits: ServerConfig
) -> SessionOptions:
    """The options one response runs with: the session's, changed by ``response``."""
    if response is None:
        return options
    if not isinstance(response, dict):
        raise ClientEventError("invalid_event", "response.create's `response` is an object.")
    if unknown := sorted(set(response) - _KNOWN):
        raise ClientEventError(
            "invalid_event", f"response.create has no option {', '.join(map(repr, unknown))}."
        )
    if response.get("conversation", "auto") != "auto":
        raise ClientEventError(
            "unsupported_response",
            "Parley's responses are always part of the conversation (conversation: 'auto'); "
            "ask out-of-band questions on a second session.",
        )
    if response.get("input") is not None:
        raise ClientEventError(
            "unsupported_response",
            "Parley answers from the conversation itself; add items with "
            "conversation.item.create instead of response.input.",
        )
    if response.get("prompt") is not None:
        raise ClientEventError(
            "unsupported_response", "Stored prompts are OpenAI's; send instructions instead."
        )
    audio = response.get("audio") or {}
    if (audio.get("output") or {}).get("voice") is not None:
        raise ClientEventError(
            "unsupported_response", "Choose the voice with session.update (audio.output.voice)."
        )
    changes = reply_changes(response, "response", "invalid_event", limits)
    # max_output_tokens and metadata are accepted and not applied: the reply's length is the
    # model's setting, and response.metadata carries Parley's own figures for the turn.
    return dataclasses.replace(options, **changes)
