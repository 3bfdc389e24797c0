"""`parley bench --drafts`: the embedded LLMs alone and with speculative drafts, in one sitting.

Each configuration answers the bench's requests as text, with Parley's system prompt (read once
at load, as in a session): the time to the first token with the question unread (a reply that
starts from the final transcript) and read ahead (the read-ahead had the words already), the
time to the first piece the voice speaks, tokens per second after the first, and the share of
drafted tokens the model kept.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from parley.bench.prompts import DEFAULT_PROMPTS
from parley.config.settings import LlamaCppConfig, Settings
from parley.errors import ConfigError
from parley.models.contracts import ChatMessage
from parley.models.llama_cpp_llm import LlamaCppLlm
from parley.ops.machine import cpu_line, describe_cpu
from parley.ops.spread import spread

# (name, llm.model, llm.draft)
CONFIGURATIONS = (
    ("0.5b alone", "0.5b", "none"),
    ("1.5b alone", "1.5b", "none"),
    ("1.5b, 0.5b drafting", "1.5b", "0.5b"),
    ("1.5b, prompt lookup", "1.5b", "prompt-lookup"),
)
_IDLE_S = 0.3  # before each request, as at a pause (the model's threads have gone to sleep)


@dataclass(slots=True)
class _Timed:
    first_token_ms: float
    first_piece_ms: float
    tokens: int
    tokens_per_s: float | None


async def _timed_reply(llm: LlamaCppLlm, messages: list[ChatMessage], piece_words: int) -> _Timed:
    started = time.perf_counter()
    first = piece = last = None
    text, tokens = "", 0
    async for delta in llm.stream(messages):
        last = time.perf_counter()
        first = first or last
        tokens += 1
        text += delta
        if piece is None and (len(text.split()) > piece_words or text.rstrip()[-1:] in ".,?!"):
            piece = last
    assert first is not None and last is not None, "the model said nothing"
    return _Timed(
        round((first - started) * 1000, 1),
        round(((piece or last) - started) * 1000, 1),
        tokens,
        round((tokens - 1) / (last - first), 1) if tokens > 1 and last > first else None,
    )


async def _measure(settings: Settings, llm: LlamaCppLlm, limit: int | None) -> dict[str, Any]:
    system = ChatMessage("system", settings.llm.system_prompt)
    piece_words = settings.tts.first_piece_max_words
    cold: list[_Timed] = []
    read_ahead: list[_Timed] = []
    for request in DEFAULT_PROMPTS[:limit]:
        messages = [system, ChatMessage("user", request.text)]
        await asyncio.sleep(_IDLE_S)
        cold.append(await _timed_reply(llm, messages, piece_words))
        await llm.prefill(messages)
        await asyncio.sleep(_IDLE_S)
        read_ahead.append(await _timed_reply(llm, messages, piece_words))
    counts = llm.draft_counts
    row: dict[str, Any] = {
        "first_token_ms": spread([t.first_token_ms for t in cold]),
        "first_token_read_ahead_ms": spread([t.first_token_ms for t in read_ahead]),
        "first_piece_read_ahead_ms": spread([t.first_piece_ms for t in read_ahead]),
        "tokens_per_s": spread([t.tokens_per_s for t in cold + read_ahead if t.tokens_per_s]),
        "acceptance": None,
    }
    if counts is not None and counts.proposed:
        # Every round of checking keeps its accepted guesses and one token of the model's own.
        tokens = sum(t.tokens for t in cold + read_ahead)
        own_steps = len(cold + read_ahead) + counts.calls
        row["acceptance"] = round(max(0, tokens - own_steps) / counts.proposed, 3)
        row["drafted"] = counts.proposed
    return row


def run_draft_trial(settings: Settings, *, limit: int | None = None) -> dict[str, Any]:
    if not isinstance(settings.llm, LlamaCppConfig) or settings.llm.model_path is not None:
        raise ConfigError(
            "`parley bench --drafts` times the embedded models: use llm.backend llama_cpp "
            "without llm.model_path."
        )
    rows: dict[str, Any] = {}
    for name, model, draft in CONFIGURATIONS:
        config = settings.llm.model_copy(update={"model": model, "draft": draft})
        llm = LlamaCppLlm(config, models_dir=settings.models_dir)
        try:
            rows[name] = asyncio.run(_measure(settings, llm, limit))
        finally:
            llm.close()
    return {"machine": describe_cpu(), "requests": len(DEFAULT_PROMPTS[:limit]), "rows": rows}


def format_draft_table(report: dict[str, Any]) -> str:
    lines = [
        f"measured on {cpu_line(report['machine'])}, {report['requests']} requests as text",
        f"{'configuration':<22}{'first token':>12}{'read ahead':>12}{'first piece':>12}"
        f"{'tokens/s':>10}{'kept':>7}",
    ]
    for name, row in report["rows"].items():
        kept = "-" if row["acceptance"] is None else f"{row['acceptance']:.0%}"
        lines.append(
            f"{name:<22}{row['first_token_ms']['median']:>12}"
            f"{row['first_token_read_ahead_ms']['median']:>12}"
            f"{row['first_piece_read_ahead_ms']['median']:>12}"
            f"{row['tokens_per_s']['median']:>10}{kept:>7}"
        )
    lines.append("medians in ms; first piece: after the read-ahead, as the voice gets it")
    return "\n".join(lines)
