"""What a reply says and from what, decided before it is spoken: its prompt (or fixed words,
when there is nothing to ask the model), a client's function to call instead of replying, and
what writes the words (fixed words, a worked-out sum, the model with or without tools)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parley.memory.recall import MemoryChanges
from parley.models.contracts import ChatMessage
from parley.models.loaded import Backends, FixedReply
from parley.pipeline.client_functions import AnsweredFromOutputs, ClientFunctions
from parley.pipeline.events import SessionObserver
from parley.pipeline.internal_words import ASK_AGAIN
from parley.pipeline.reply_context import ReplyContext
from parley.pipeline.reply_handle import ReplyHandle
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.speculation import HeldReply
from parley.pipeline.turn import TurnResult
from parley.pipeline.turn_figures import TurnFigures, TurnMetrics
from parley.tools.sums import sum_answer
from parley.tools.toolbox import Toolbox

StoreReply = Callable[[str, TurnFigures, list[Any]], Awaitable[None]]


@dataclass
class ReplyPlan:
    """What a reply answers: the request's words, the prompt, the memory changes to confirm,
    and a client function's outputs made plain when the reply answers them."""

    request: str
    messages: list[ChatMessage]
    changes: MemoryChanges
    outputs_said: str | None = None


class ReplyPlanner:
    def __init__(
        self,
        backends: Backends,
        *,
        context: ReplyContext,
        client_functions: ClientFunctions,
        toolbox: Toolbox | None,
        options: Callable[[], SessionOptions],
        results: list[TurnResult],
        stored_in: StoreReply,
    ) -> None:
        self._backends = backends
        self._context = context
        self._client_functions = client_functions
        self._toolbox = toolbox
        self._options = options
        self._results = results
        self._stored_in = stored_in

    async def prompt(
        self, user_text: str | None, held: HeldReply | None, said: str | None, is_asked_again: bool
    ) -> ReplyPlan:
        # Parley speaking first (a timer) says its words, no model; so does a question not made
        # out, which is asked again rather than answered as another question. Nothing to answer:
        # no prompt (a client's function outputs wait for the user).
        if said is not None:
            return ReplyPlan(user_text or "", [], MemoryChanges(confirmations=[said]))
        if is_asked_again:
            return ReplyPlan(user_text or "", [], MemoryChanges(confirmations=[ASK_AGAIN]))
        changes = self._context.take_memory_changes()
        # A speculation's words are not stored until the turn is confirmed: it may be discarded.
        history, messages = await self._context.build(
            user_text if held is not None else None,
            exclude_fact_ids=frozenset(changes.created_ids),  # just said: no reminder
        )
        prompt = ReplyPlan(history[-1].content, messages, changes)
        if self._client_functions.has_outputs:
            # A client ran the function Parley asked for: its output informs this reply.
            prompt.messages, prompt.outputs_said = self._client_functions.with_outputs(messages)
        return prompt

    async def call_client_function(
        self,
        handle: ReplyHandle,
        prompt: ReplyPlan,
        user_text: str | None,
        metrics: TurnMetrics,
        observer: SessionObserver,
    ) -> TurnResult | None:
        """A client's function this request calls, asked of the client instead of a reply;
        None when it calls none."""
        call = await self._client_functions.plan(prompt.request, self._options())
        if call is None:
            return None
        held = handle.held
        if held is not None:
            # A spoken turn's call waits until the turn is confirmed, and its words are stored
            # first: the client's output is answered from them.
            await held.gate.wait()
            if not held.is_released:
                return TurnResult(handle.turn_id, prompt.request, "", "", True, metrics.figures())
            if user_text is not None:
                await self._context.add_user_text(user_text)
        result = await self._client_functions.request_call(
            handle.turn_id, prompt.request, call, metrics, observer, self._stored_in
        )
        self._results.append(result)
        return result

    def reply_model(self, prompt: ReplyPlan) -> Any:
        """What writes the reply's words: fixed words (an announcement, a question asked again,
        a memory change confirmed), a worked-out sum, the model answering a client's outputs,
        or the model with the tools."""
        if prompt.changes.confirmations:
            return FixedReply(" ".join(prompt.changes.confirmations))
        if (worked_out := sum_answer(prompt.request)) is not None:
            return FixedReply(worked_out)  # a sum: exact, and without the model
        if prompt.outputs_said is not None:
            return AnsweredFromOutputs(self._backends.llm, prompt.outputs_said)
        if self._toolbox is not None:
            return self._toolbox.reply_for(self._backends.llm, prompt.request)
        return self._backends.llm
