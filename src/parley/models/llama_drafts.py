"""Draft tokens for speculative decoding in llama.cpp: guesses the large model checks in one
batch, keeping those it would have written itself.

Two kinds: the 0.5B model drafting for the 1.5B (they share a tokenizer), and prompt lookup,
which copies what followed the last words wherever they already occur in the prompt (a spoken
answer often restates the question: "The fastest land animal is ..."). A draft pays only when
it is nearly free: on 2 cores the 1.5B checks four tokens in about 2.7 of its own steps, and
the 0.5B spends 0.6 of one on each guess (`parley bench --drafts` measures both here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

TokenIds = npt.NDArray[np.intc]


@dataclass(slots=True)
class DraftCounts:
    """What a draft proposed, for its acceptance rate (the caller counts what was kept)."""

    calls: int = 0
    proposed: int = 0


def shared_prefix_length(cached: npt.ArrayLike, wanted: npt.ArrayLike) -> int:
    """How many tokens from the start a model's cache already holds of ``wanted``."""
    held, asked = np.asarray(cached), np.asarray(wanted)
    length = min(held.size, asked.size)
    differing = np.flatnonzero(held[:length] != asked[:length])
    return int(differing[0]) if differing.size else length


class SmallModelDraft:
    """Greedy guesses from a smaller model of the same tokenizer, read into its own cache.

    Its cache is kept across calls: each call reads only the tokens that differ from what it
    read last (the big model's accepted tokens), so drafting costs its few steps, not a prompt.
    """

    def __init__(self, llama: Any, *, draft_tokens: int = 3) -> None:
        self._llama = llama
        self._draft_tokens = draft_tokens
        self._eos = llama.token_eos()
        self._vocabulary = llama.n_vocab()
        self.counts = DraftCounts()

    def close(self) -> None:
        self._llama.close()

    def set_threads(self, threads: int, threads_batch: int) -> None:
        """The threads its next calls use (``spare_cores``); on the model's thread."""
        self._llama._ctx.set_n_threads(threads, threads_batch)

    def __call__(self, input_ids: TokenIds, /, **_kwargs: Any) -> TokenIds:
        llama = self._llama
        wanted = np.asarray(input_ids, dtype=np.intc)
        # Read at least the last token again: its logits are the first guess's.
        shared = min(
            shared_prefix_length(llama.input_ids[: llama.n_tokens], wanted), wanted.size - 1
        )
        llama.n_tokens = shared  # eval drops the cache beyond this point
        llama.eval(wanted[shared:].tolist())
        guesses: list[int] = []
        while len(guesses) < self._draft_tokens:
            logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(self._vocabulary,))
            token = int(np.argmax(logits))
            if token == self._eos:
                break
            guesses.append(token)
            if len(guesses) < self._draft_tokens:
                llama.eval([token])
        self.counts.calls += 1
        self.counts.proposed += len(guesses)
        return np.array(guesses, dtype=np.intc)


class PromptLookupDraft:
    """Guesses copied from the prompt: what followed the last one or two tokens there."""

    def __init__(self, *, draft_tokens: int = 4, max_ngram: int = 2) -> None:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        self._lookup = LlamaPromptLookupDecoding(
            max_ngram_size=max_ngram, num_pred_tokens=draft_tokens
        )
        self.counts = DraftCounts()

    def __call__(self, input_ids: TokenIds, /, **kwargs: Any) -> TokenIds:
        guesses: TokenIds = self._lookup(input_ids, **kwargs)
        self.counts.calls += 1
        self.counts.proposed += int(guesses.size)
        return guesses
