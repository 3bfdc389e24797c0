"""What a reply reads: the stored conversation, the facts recalled for the user's words
(beside them, in the user's voice), and the instructions. One path for the reply and for the
prefill that reads it ahead while the user is still speaking, so the cache the prefill leaves
is the one the reply uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from parley.config.settings import Settings
from parley.errors import BackendError
from parley.memory.facts import Forget, understand
from parley.memory.recall import MemoryChanges, MemoryRecall
from parley.memory.store import ConversationStore
from parley.models.contracts import ChatMessage
from parley.models.loaded import Backends
from parley.pipeline.prompt import build_prompt
from parley.pipeline.session_options import SessionOptions


class ReplyContext:
    def __init__(
        self,
        backends: Backends,
        *,
        store: ConversationStore,
        conversation_id: str,
        user_id: str,
        options: Callable[[], SessionOptions],
    ) -> None:
        self._backends = backends
        self._store = store
        self._conversation_id = conversation_id
        self._user_id = user_id
        self._options = options
        self._memory = (
            MemoryRecall(store, backends.embedder) if self._settings.memory.is_enabled else None
        )
        self._memory_changes = MemoryChanges()

    @property
    def _settings(self) -> Settings:
        # Read afresh at each use, so a reloaded config file reaches the next turn.
        return self._backends.settings

    def take_memory_changes(self) -> MemoryChanges:
        """What the last user message changed in memory (each change reported once)."""
        changes, self._memory_changes = self._memory_changes, MemoryChanges()
        return changes

    def asks_to_change_memory(self, user_text: str) -> bool:
        """Whether these words ask Parley to remember or forget something: the reply is then
        Parley's own confirmation, made when the words are stored."""
        if self._memory is None:
            return False
        return any(
            isinstance(action, Forget) or action.source == "explicit"
            for action in understand(user_text)
        )

    async def add_user_text(self, user_text: str, *, is_unclear: bool = False) -> int:
        """Put a user message into the conversation without replying yet; returns its id.

        What the user asks to remember or forget is applied to memory here (and the facts they
        only state, where memory.is_extracting is on).
        """
        message_id = await self._store.add_message_async(self._conversation_id, "user", user_text)
        if self._memory is not None and not is_unclear:  # nothing misheard is remembered
            self._memory_changes = await asyncio.to_thread(
                self._memory.observe_user_turn,
                self._user_id,
                user_text,
                is_extracting=self._settings.memory.is_extracting,
            )
        return message_id

    async def add_assistant_text(self, text: str) -> int:
        """An assistant message a client puts into the conversation (not spoken)."""
        return await self._store.add_message_async(self._conversation_id, "assistant", text)

    async def delete_message(self, message_id: int) -> None:
        await asyncio.to_thread(self._store.delete_message, message_id)

    async def build(
        self, user_text: str | None, *, exclude_fact_ids: frozenset[int] = frozenset()
    ) -> tuple[list[ChatMessage], list[ChatMessage]]:
        """The stored history (with ``user_text`` appended when it is not stored yet) and the
        prompt a reply to it reads. One path for the reply and for its prefill."""
        llm_config = self._settings.llm
        history = await asyncio.to_thread(
            self._store.history, self._conversation_id, max_turns=llm_config.history_turns
        )
        if user_text is not None:
            history.append(ChatMessage("user", user_text))
        if not history or history[-1].role != "user":
            raise BackendError("There is no user message to reply to: add one first.")
        facts: list[str] = []
        if self._memory is not None:
            facts = await asyncio.to_thread(
                self._memory.recall_for_prompt,
                self._user_id,
                history[-1].content,
                budget_chars=self._settings.memory.recall_budget_chars,
                exclude=exclude_fact_ids,
            )
        messages = build_prompt(
            system_prompt=self._options().instructions or llm_config.system_prompt,
            history=history,
            recalled_facts=facts,
            context_tokens=llm_config.context_tokens,
            reply_tokens=llm_config.max_reply_tokens,
        )
        return history, messages
