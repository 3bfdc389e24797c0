"""The embedded LLM through llama-cpp-python.

llama.cpp reuses the longest common prefix of the previous prompt's KV cache, so the system
prompt is evaluated once at load and stays cached: each turn only reads its new tokens. The
model is shared by every session and is not reentrant, so a generation holds its lock from the
first token to the close of the stream.

Every call into the model runs on one thread of its own. llama.cpp does its matrix work in
OpenMP teams, one per calling thread; once a second thread has called it, libgomp counts more
threads than cores and stops spinning at the barriers of every team, and 7 prompt tokens took
~100 ms to read instead of ~50 (measured on 2 cores, after a 0.3 s idle, as at a pause).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from parley.config.settings import LlamaCppConfig, LlmConfig
from parley.errors import ModelLoadError
from parley.models.catalogue import LLM_WEIGHTS, QWEN_0_5B, check_gguf, llm_path
from parley.models.contracts import ChatMessage
from parley.models.llama_drafts import (
    DraftCounts,
    PromptLookupDraft,
    SmallModelDraft,
    shared_prefix_length,
)
from parley.models.spare_cores import SpareCores
from parley.models.thread_bridge import iterate_in_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
# A read-ahead reads the prompt this many tokens at a time, so that a reply waits at most one
# chunk for it (~120 ms on the 1.5B on 2 cores; a token alone costs ~45 ms, four ~120 ms).
_READ_AHEAD_CHUNK_TOKENS = 4


class LlamaCppLlm:
    def __init__(self, config: LlamaCppConfig, *, models_dir: Path) -> None:
        self._config = config
        self._models_dir = models_dir
        weights = LLM_WEIGHTS[config.model]
        path = config.model_path or llm_path(models_dir, weights)
        check_gguf(path, expected_size_bytes=None if config.model_path else weights.size_bytes)
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ModelLoadError(
                f"llama-cpp-python is not installed ({error}). Run `make run`, which builds it "
                "with the CPU flags this machine needs."
            ) from None
        # The model's one thread (see the module's docstring), from its load on.
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="parley-llama"
        )
        self._lock = threading.Lock()
        # Calls waiting for the model, counted from any thread (sessions of other event loops
        # call it too) and read on the model's thread by a read-ahead.
        self._calls_waiting = 0
        self._counting = threading.Lock()
        self._formatter: Any = None  # the chat template, made on first use
        # Each call takes as many threads as cores are spare: see spare_cores.
        self.spare_cores = SpareCores()
        self._llama: Any = self._thread.submit(self._load, Llama, path).result()
        self._warm_system_prompt()

    def _load(self, llama_class: Any, path: Path) -> Any:
        config = self._config
        try:
            return llama_class(
                model_path=str(path),
                n_ctx=config.context_tokens,
                n_threads=config.n_threads,
                n_threads_batch=config.n_threads_batch,
                seed=config.seed,
                draft_model=self._load_draft(llama_class),
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(
                f"llama.cpp cannot load {path} ({error}). Check that it is a whole GGUF file."
            ) from None

    def _load_draft(self, llama_class: Any) -> Any:
        """The speculative draft ``llm.draft`` names, loaded on the model's thread (or None)."""
        config = self._config
        if config.draft == "prompt-lookup":
            return PromptLookupDraft()
        if config.draft == "0.5b":
            small = llm_path(self._models_dir, QWEN_0_5B)
            check_gguf(small, expected_size_bytes=QWEN_0_5B.size_bytes)
            return SmallModelDraft(
                llama_class(
                    model_path=str(small),
                    n_ctx=config.context_tokens,
                    n_threads=config.n_threads,
                    n_threads_batch=config.n_threads_batch,
                    verbose=False,
                )
            )
        return None

    @property
    def threads(self) -> int:
        """The most threads it computes with: a model run beside it on its thread uses as many."""
        return self._config.n_threads

    def _fit_threads(self) -> None:
        """Threads for the call about to start, on the model's thread: no more than the cores
        other processes leave free (see spare_cores)."""
        config = self._config
        spare = self.spare_cores.threads_for(max(config.n_threads, config.n_threads_batch))
        threads, threads_batch = min(config.n_threads, spare), min(config.n_threads_batch, spare)
        self._llama._ctx.set_n_threads(threads, threads_batch)
        if isinstance(draft := self._llama.draft_model, SmallModelDraft):
            draft.set_threads(threads, threads_batch)

    @property
    def draft_counts(self) -> DraftCounts | None:
        """What the speculative draft proposed so far (None: no draft)."""
        draft = self._llama.draft_model
        return draft.counts if isinstance(draft, SmallModelDraft | PromptLookupDraft) else None

    def close(self) -> None:
        """Free the model and its draft, on the model's thread; unusable after."""
        with self._lock:
            draft = self._llama.draft_model
            if isinstance(draft, SmallModelDraft):
                self._thread.submit(draft.close).result()
            self._thread.submit(self._llama.close).result()
        self._thread.shutdown()

    def reconfigure(self, config: LlmConfig) -> None:
        """Take a reloaded config's per-reply keys; the loaded model stays as it is."""
        if isinstance(config, LlamaCppConfig):
            self._config = config

    def _warm_system_prompt(self) -> None:
        # Reading the system prompt is the slowest part of a cold first turn; do it at load.
        messages = [
            {"role": "system", "content": self._config.system_prompt},
            {"role": "user", "content": "Hello."},
        ]
        with self._lock:
            self._thread.submit(
                self._llama.create_chat_completion,
                messages=messages,
                max_tokens=1,
                temperature=0.0,
            ).result()

    @contextlib.asynccontextmanager
    async def _holding(self) -> AsyncIterator[None]:
        """The model, for one call or stream. It is waited for off its thread: a generation
        holds it between tokens, and its next token must not queue behind a call that waits."""
        acquiring = asyncio.ensure_future(asyncio.to_thread(self._lock.acquire))
        with self._counting:
            self._calls_waiting += 1  # a read-ahead in progress stops at its next chunk
        try:
            await asyncio.shield(acquiring)
        except asyncio.CancelledError:
            acquiring.add_done_callback(lambda _done: self._lock.release())
            raise
        finally:
            with self._counting:
                self._calls_waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def _generate(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        # On the model's thread, one token per hop; the caller holds the lock.
        chunks: Any = None
        self._fit_threads()
        try:
            chunks = self._llama.create_chat_completion(
                messages=[template_message(m) for m in messages],
                max_tokens=self._config.max_reply_tokens,
                temperature=self._config.temperature,
                repeat_penalty=self._config.repeat_penalty,
                stream=True,
            )
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text
        finally:
            if chunks is not None:
                chunks.close()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by this model's tokenizer (usage figures, not the budget)."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        async with self._holding():
            tokens = iterate_in_thread(self._generate(messages), executor=self._thread)
            async with contextlib.aclosing(tokens):  # closed on the model's thread, then freed
                async for text in tokens:
                    yield text

    def _complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any]
    ) -> dict[str, Any]:
        from llama_cpp.llama_grammar import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        self._fit_threads()
        response = self._llama.create_chat_completion(
            messages=[template_message(m) for m in messages],
            grammar=grammar,
            max_tokens=96,
            temperature=0.0,
        )
        text = response["choices"][0]["message"]["content"] or "{}"
        parsed = json.loads(text)
        return parsed if isinstance(parsed, dict) else {}

    async def complete_json(
        self, messages: list[ChatMessage], schema: dict[str, Any]
    ) -> dict[str, Any]:
        """A reply forced into ``schema`` by a grammar (tool arguments)."""
        async with self._holding():
            return await self._on_model_thread(self._complete_json, messages, schema)

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt's tokens exactly as a chat completion reads them (the model's template)."""
        llama = self._llama
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text_of(token: int) -> str:
                return str(llama._model.token_get_text(token)) if token != -1 else ""

            self._formatter = Jinja2ChatFormatter(
                template=llama.metadata["tokenizer.chat_template"],
                eos_token=text_of(llama.token_eos()),
                bos_token=text_of(llama.token_bos()),
                stop_token_ids=[llama.token_eos()],
            )
        shaped = self._formatter(messages=[template_message(m) for m in messages])
        tokens: list[int] = llama.tokenize(
            shaped.prompt.encode("utf-8"), add_bos=not shaped.added_special, special=True
        )
        return tokens

    def _prefill(self, messages: Sequence[ChatMessage]) -> None:
        # Read in small chunks, and stop between two when a call wants the model: a read-ahead
        # of the words so far must not hold up the reply to the words that ended the turn (the
        # 1.5B reads a question in ~350 ms). What was read stays in the cache either way.
        llama = self._llama
        tokens = self._prompt_tokens(messages)
        shared = shared_prefix_length(llama.input_ids[: llama.n_tokens], tokens)
        if shared >= len(tokens):
            return
        llama.n_tokens = shared  # eval drops the cache beyond this point
        self._fit_threads()
        for start in range(shared, len(tokens), _READ_AHEAD_CHUNK_TOKENS):
            if self._calls_waiting:
                return
            llama.eval(tokens[start : start + _READ_AHEAD_CHUNK_TOKENS])

    async def prefill(self, messages: Sequence[ChatMessage]) -> bool:
        """Read a likely prompt into the KV cache ahead of time (the user is still speaking).

        llama.cpp reuses the longest common prefix, so when the final prompt differs from this
        one only in its last words, the reply's first token comes after reading just those.
        """
        # Skipped, not queued, when the model is busy: a reply in progress matters more.
        if not self._lock.acquire(blocking=False):
            return False
        try:
            await self._on_model_thread(self._prefill, messages)
        finally:
            self._lock.release()
        return True

    def run_beside(self, call: Callable[[], T]) -> T:
        """Another llama.cpp model's ``call`` on this model's thread (see the module's
        docstring), from any thread but the event loop's, blocking; a read-ahead gives way to
        it at its next chunk."""
        with self._counting:
            self._calls_waiting += 1
        try:
            return self._thread.submit(contextvars.copy_context().run, call).result()
        finally:
            with self._counting:
                self._calls_waiting -= 1

    async def _on_model_thread(self, call: Callable[..., T], *args: Any) -> T:
        # Shielded: the call runs to its end on the model's thread even if the caller gives up,
        # and the lock is released only then.
        running = asyncio.wrap_future(
            self._thread.submit(contextvars.copy_context().run, call, *args)
        )
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            await asyncio.wait({running})
            raise


def template_message(message: ChatMessage) -> dict[str, Any]:
    """A message as llama.cpp's chat templates read it: a tool call's arguments as an object.
    The templates write them with ``tojson``, so the JSON string OpenAI's shape holds would be
    quoted twice, backslashes and all (``"{\\"city\\": \\"Paris\\"}"``), and the model copied that
    into what it said after the tool answered ("arguments, backslash city backslash")."""
    shaped = message.as_openai()
    for call in shaped.get("tool_calls", []):
        with contextlib.suppress(json.JSONDecodeError):
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return shaped
