"""How likely a small language model finds words a person says to an assistant.

Whisper tiny.en hears the accents it was not trained on as words that sound alike but make no
sense ("What is the largest manual?", "the boiling buoyant of water"), and the sense is often
among its other beam hypotheses ("mammal", "point"). The small LLM, reading each hypothesis as
a user's message, tells the likely ones from the rest; `WhisperStt` weighs that against
Whisper's own score.

The model is SmolLM2-135M (`catalogue.SENTENCE_SCORER`), with every position's logits kept. It
chose as well as the 0.5B did (254 and 232 of the sets the 0.5B got 258 and 233 right of) at a
quarter of its cost: on two cores a token takes it ~13 ms, the 0.5B ~45. llama.cpp must be
called from one thread only (see `llama_cpp_llm`), so its work runs where the caller says: on
the reply model's thread when that is llama.cpp too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from parley.errors import ModelLoadError
from parley.models.llama_drafts import shared_prefix_length
from parley.models.spare_cores import SpareCores

T = TypeVar("T")
# Runs a call on the thread llama.cpp is used from, and returns its result.
Runner = Callable[[Callable[[], T]], T]

# What the words are read after: the chat template's start of a user's message.
_BEFORE_WORDS = "<|im_start|>system\nYou are a voice assistant.<|im_end|>\n<|im_start|>user\n"
_AFTER_WORDS = "<|im_end|>"  # so that words cut short score as unlikely to end there
_CONTEXT_TOKENS = 160


class LlamaSentenceScorer:
    def __init__(
        self, model_path: Path, *, threads: int, spare_cores: SpareCores, run: Runner[Any]
    ) -> None:
        """``threads`` at most, fewer when ``spare_cores`` says other processes keep cores busy."""
        self._run = run
        self._threads = threads
        self._spare_cores = spare_cores
        self._lock = threading.Lock()  # one scoring at a time: they share the cache
        try:
            from llama_cpp import Llama

            self._llama: Any = run(
                lambda: Llama(
                    model_path=str(model_path),
                    n_ctx=_CONTEXT_TOKENS,
                    n_batch=_CONTEXT_TOKENS,
                    n_threads=threads,
                    n_threads_batch=threads,
                    logits_all=True,
                    verbose=False,
                )
            )
        except (ImportError, ValueError, RuntimeError) as error:
            raise ModelLoadError(
                f"llama.cpp cannot load {model_path} to weigh what Whisper heard ({error}). "
                "Run `parley models install`, or set stt.hypotheses to 1."
            ) from None
        self._prefix: list[int] = self._tokens(_BEFORE_WORDS)
        run(lambda: self._llama.eval(self._prefix))

    def _tokens(self, text: str) -> list[int]:
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def log_probabilities(self, texts: Sequence[str]) -> list[float]:
        """Each text's log-probability as a whole user's message (natural log; blocking)."""
        with self._lock:
            read: list[float] = self._run(lambda: self._read_all(texts))
        return read

    def _read_all(self, texts: Sequence[str]) -> list[float]:
        threads = self._spare_cores.threads_for(self._threads)
        self._llama._ctx.set_n_threads(threads, threads)
        return [self._read(text) for text in texts]

    def _read(self, text: str) -> float:
        llama, start = self._llama, len(self._prefix)
        room = _CONTEXT_TOKENS - start
        tokens = self._tokens(text.strip())[: room - 1] + self._tokens(_AFTER_WORDS)
        # Hypotheses mostly share their opening words: only what differs is read again.
        shared = shared_prefix_length(llama.input_ids[start : llama.n_tokens], tokens)
        shared = min(shared, len(tokens) - 1)  # the last token's logits come from an eval
        llama.n_tokens = start + shared
        llama.eval(tokens[shared:])
        # Row i holds the logits after position i: token k is predicted at row start + k - 1.
        logits = np.asarray(llama.scores[start - 1 : start - 1 + len(tokens)], dtype=np.float32)
        peak = logits.max(axis=1)
        normaliser = peak + np.log(np.exp(logits - peak[:, None]).sum(axis=1))
        chosen = logits[np.arange(len(tokens)), tokens]
        return float((chosen - normaliser).sum())

    def close(self) -> None:
        self._run(self._llama.close)
