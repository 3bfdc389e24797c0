"""The reply side of one conversation: one reply at a time, each in its own TurnScope, stored
as the user heard it, and stopped in one place when the user talks over it. Every reply's
prompt comes from its ReplyContext."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from parley.backends.loaded import Backends, FixedReply
from parley.builtin_tools import END_CONVERSATION
from parley.client_functions import ClientFunctions
from parley.config import Settings
from parley.events import (
    ConversationEnded,
    FunctionCallRequested,
    ListenerEvent,
    ReplyInterrupted,
    TurnDone,
    TurnEvent,
    TurnStarted,
)
from parley.memory.store import ConversationStore
from parley.prompt import count_tokens
from parley.reply_context import ReplyContext
from parley.session_options import SessionOptions
from parley.speculation import HeldReply
from parley.tool_router import ToolAwareReply, Toolbox, ToolChoice
from parley.turn import AudioSink, TurnMetrics, TurnResult, TurnScope
from parley.turn_figures import TurnFigures

SessionObserver = Callable[[ListenerEvent | TurnEvent], None]

_KEEP_FINISHED_TURNS = 16


class Replies:
    def __init__(
        self,
        backends: Backends,
        *,
        store: ConversationStore,
        sink: AudioSink,
        conversation_id: str,
        user_id: str,
        observer: SessionObserver,
        toolbox: Toolbox | None,
        options: Callable[[], SessionOptions],
    ) -> None:
        self._backends = backends
        self._store = store
        self._sink = sink
        self._conversation_id = conversation_id
        self._user_id = user_id
        self._observer = observer
        self._toolbox = toolbox
        self._options = options
        self.context = ReplyContext(
            backends, store=store, conversation_id=conversation_id, user_id=user_id, options=options
        )
        self.client_functions = ClientFunctions(backends)
        self.results: list[TurnResult] = []
        self.has_ended = False  # the user said goodbye (the end_conversation tool)
        self._has_announced_end = False
        self._turn_id = 0
        self._scope: TurnScope | None = None
        # Recent replies by turn, for a client that later says how much of one was heard.
        self._finished: dict[int, tuple[int, TurnScope]] = {}
        self._stored: dict[int, asyncio.Event] = {}
        self._cut_turns: set[int] = set()
        self._background_tasks: set[asyncio.Task[str | None]] = set()

    @property
    def _settings(self) -> Settings:
        # Read afresh at each use, so a reloaded config file reaches the next turn.
        return self._backends.settings

    @property
    def live_scope(self) -> TurnScope | None:
        """The reply being generated, if any."""
        return self._scope

    @property
    def is_live(self) -> bool:
        return self._scope is not None and not self._scope.is_cancelled

    @property
    def is_audible(self) -> bool:
        """Whether the user may be hearing a reply: one is being generated, or the last one
        written is still playing."""
        if self.is_live:
            return True
        turn_id = self._turn_id
        finished = self._finished.get(turn_id)
        return (
            finished is not None
            and turn_id not in self._cut_turns
            and self._sink.played_samples(turn_id) < finished[1].ledger.total_samples
        )

    def played_text(self, *, ahead_ms: int = 1000) -> str:
        """The latest reply's words played so far, and those of the next ``ahead_ms`` (what
        is sounding in the room as this is asked, allowing for the sink's own lag)."""
        scope = self._scope
        if scope is None:
            finished = self._finished.get(self._turn_id)
            if finished is None:
                return ""
            scope = finished[1]
        ahead_samples = ahead_ms * self._settings.audio.output_sample_rate_hz // 1000
        return scope.ledger.heard_text(self._sink.played_samples(scope.turn_id) + ahead_samples)

    # ---- stopping a reply: the one place ---------------------------------------------------

    def cancel(self, reason: str) -> bool:
        """Stop the reply being generated (audio first). False when none is."""
        scope = self._scope
        if scope is None or scope.is_cancelled:
            return False
        scope.cancel()
        heard = scope.heard_text()
        played_ms = self._played_ms(scope.turn_id)
        self._announce(scope.turn_id, reason, True, heard, played_ms, scope.metrics.figures())
        return True

    def interrupt(self) -> bool:
        """Barge-in: stop what the user is hearing, now. A reply still being generated is
        cancelled; one written whole but still playing is cut at the sink and its stored text
        shortened to what was heard. False when nothing was playing."""
        if self.cancel("turn_detected"):
            return True
        turn_id = self._turn_id
        finished = self._finished.get(turn_id)
        if finished is None or turn_id in self._cut_turns:
            return False
        _message_id, scope = finished
        played_samples = self._sink.played_samples(turn_id)
        if played_samples >= scope.ledger.total_samples:
            return False
        self._sink.clear(turn_id)
        self._cut_turns.add(turn_id)
        audio_end_ms = self._played_ms(turn_id)
        heard = scope.ledger.heard_text(played_samples)
        task = asyncio.create_task(self.truncate(turn_id, audio_end_ms=audio_end_ms))
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        self._announce(
            turn_id, "turn_detected", False, heard, audio_end_ms, scope.metrics.figures()
        )
        return True

    def _played_ms(self, turn_id: int) -> int:
        return (
            self._sink.played_samples(turn_id) * 1000 // self._settings.audio.output_sample_rate_hz
        )

    def _announce(
        self,
        turn_id: int,
        reason: str,
        was_generating: bool,
        heard: str,
        audio_end_ms: int,
        figures: TurnFigures,
    ) -> None:
        self._observer(
            ReplyInterrupted(
                turn_id,
                reason,
                was_generating,
                heard,
                audio_end_ms,
                figures,
                time.perf_counter_ns(),
            )
        )

    async def truncate(self, turn_id: int, *, audio_end_ms: int) -> str | None:
        """The client says the user heard only ``audio_end_ms`` of a reply: store just that."""
        if (stored := self._stored.get(turn_id)) is not None:
            await stored.wait()  # the client may answer response.done before the row is written
        finished = self._finished.get(turn_id)
        if finished is None:
            return None
        message_id, scope = finished
        played_samples = audio_end_ms * self._settings.audio.output_sample_rate_hz // 1000
        heard = scope.ledger.heard_text(played_samples)
        await asyncio.to_thread(self._store.update_message, message_id, heard, is_interrupted=True)
        return heard

    def message_id_for_turn(self, turn_id: int) -> int | None:
        finished = self._finished.get(turn_id)
        return finished[0] if finished else None

    async def wait_for_background(self) -> None:
        while self._background_tasks:
            await asyncio.gather(*list(self._background_tasks))

    # ---- one reply -------------------------------------------------------------------------

    async def respond(
        self,
        user_text: str | None,
        *,
        metrics: TurnMetrics | None = None,
        held: HeldReply | None = None,
    ) -> TurnResult:
        """Reply to ``user_text`` (or to the conversation as it stands when None), to completion
        or cancellation, and store the reply as heard."""
        live = self._scope
        if live is not None and held is None:
            if self._options().is_barge_in_enabled:
                live.cancel()  # a newer reply supersedes one still being generated
            elif (stored := self._stored.get(live.turn_id)) is not None:
                await stored.wait()  # barge-in is off: no reply is cut; this one follows it
        self._turn_id += 1
        turn_id = self._turn_id
        self._sink.current_turn_id = turn_id
        self._stored[turn_id] = asyncio.Event()
        metrics = metrics or TurnMetrics(turn_id)
        metrics.turn_id = turn_id
        try:
            return await self._run(turn_id, user_text, metrics, held)
        finally:
            self._stored.pop(turn_id).set()

    async def _run(
        self, turn_id: int, user_text: str | None, metrics: TurnMetrics, held: HeldReply | None
    ) -> TurnResult:
        options = self._options()
        observer = held.observe if held is not None else self._observer
        if user_text is not None and held is None:
            await self.context.add_user_text(user_text)
        changes = self.context.take_memory_changes()
        # A speculation's words are not stored until the turn is confirmed: it may be discarded.
        history, messages = await self.context.build(
            user_text if held is not None else None,
            exclude_fact_ids=frozenset(changes.created_ids),  # just said: no reminder needed
        )
        request = history[-1].content
        if self.client_functions.has_outputs:
            # A client ran the function Parley asked for: its output informs this reply.
            messages = self.client_functions.with_outputs(messages)
        elif not changes.confirmations:
            call = await self.client_functions.plan(request, options)
            if call is not None:
                return await self._request_function_call(turn_id, request, call, metrics, observer)
        observer(TurnStarted(turn_id, request, time.perf_counter_ns()))
        reply_llm: Any = self._backends.llm
        tool_reply: ToolAwareReply | None = None
        if changes.confirmations:
            reply_llm = FixedReply(" ".join(changes.confirmations))
        elif self._toolbox is not None:
            reply_llm = tool_reply = self._toolbox.reply_for(self._backends.llm, request)
        # TurnDone waits until the reply is stored: a client that has response.done can rely on
        # the row being committed (a crash after it loses nothing the client was told of).
        finished: list[TurnDone] = []

        def observe_scope(event: ListenerEvent | TurnEvent) -> None:
            if isinstance(event, TurnDone):
                finished.append(event)
            else:
                observer(event)

        scope = TurnScope(
            turn_id,
            llm=reply_llm,
            tts=self._backends.tts_for(options.voice) if options.is_speaking else None,
            sink=self._sink,
            output_sample_rate_hz=self._settings.audio.output_sample_rate_hz,
            metrics=metrics,
            observer=observe_scope,
            gate=held.gate if held is not None else None,
            speed=options.speed,
            first_piece_max_words=self._settings.tts.first_piece_max_words,
        )
        self._scope = scope
        stored_user: asyncio.Task[None] | None = None
        if held is not None:
            held.scope = scope
            if user_text is not None:
                stored_user = asyncio.create_task(self._store_when_confirmed(held, user_text))
        scope.start(messages)
        # Counted while the model reads the prompt in its thread: the reply's usage figure.
        metrics.prompt_token_count = count_tokens(
            self._backends.llm_capabilities.token_counter, messages
        )
        try:
            try:
                await scope.wait()
            finally:
                if self._scope is scope:
                    self._scope = None
            if stored_user is not None:
                await stored_user
            if held is not None and not held.is_released:
                # A discarded speculation leaves no trace in the conversation.
                return self._result(turn_id, scope, request, metrics, tool_reply)
            result = self._result(turn_id, scope, request, metrics, tool_reply)
            return await self._store_reply(turn_id, scope, result)
        finally:
            for event in finished:
                observer(event)
            if self.has_ended and not self._has_announced_end:
                self._has_announced_end = True
                observer(ConversationEnded(turn_id, time.perf_counter_ns()))

    def _result(
        self,
        turn_id: int,
        scope: TurnScope,
        request: str,
        metrics: TurnMetrics,
        tool_reply: ToolAwareReply | None,
    ) -> TurnResult:
        tool_calls = (
            [{**call.as_dict(), "decision_ms": tool_reply.decision_ms} for call in tool_reply.calls]
            if tool_reply
            else []
        )
        return TurnResult(
            turn_id=turn_id,
            user_text=request,
            reply_text=scope.reply_text.strip(),
            heard_text=scope.heard_text(),
            was_cancelled=scope.is_cancelled,
            figures=metrics.figures(),
            tool_calls=tool_calls,
        )

    async def _store_reply(self, turn_id: int, scope: TurnScope, result: TurnResult) -> TurnResult:
        if any(call["name"] == END_CONVERSATION for call in result.tool_calls):
            self.has_ended = True  # announced after the reply's TurnDone, in _run
        message_id = await self._store.add_message_async(
            self._conversation_id,
            "assistant",
            result.heard_text,
            is_interrupted=scope.is_cancelled,
            metrics=result.figures.as_json(),
            tool_calls=result.tool_calls or None,
        )
        self.results.append(result)
        self._finished[turn_id] = (message_id, scope)
        while len(self._finished) > _KEEP_FINISHED_TURNS:
            del self._finished[next(iter(self._finished))]
        return result

    async def _request_function_call(
        self,
        turn_id: int,
        request: str,
        call: ToolChoice,
        metrics: TurnMetrics,
        observer: SessionObserver,
    ) -> TurnResult:
        now_ns = time.perf_counter_ns()
        observer(TurnStarted(turn_id, request, now_ns, kind="function_call"))
        arguments = json.dumps(call.arguments)
        call_id = "call_" + uuid.uuid4().hex[:20]
        observer(FunctionCallRequested(turn_id, call_id, call.tool.name, arguments, now_ns))
        metrics.done_t_ns = time.perf_counter_ns()
        observer(TurnDone(turn_id, False, "", metrics.figures(), metrics.done_t_ns))
        tool_calls = [
            {
                "name": call.tool.name,
                "arguments": call.arguments,
                "call_id": call_id,
                "by": "client",
            }
        ]
        result = TurnResult(turn_id, request, "", "", False, metrics.figures(), tool_calls)
        await self._store.add_message_async(
            self._conversation_id,
            "assistant",
            "",
            metrics=result.figures.as_json(),
            tool_calls=tool_calls,
        )
        self.results.append(result)
        return result

    async def _store_when_confirmed(self, held: HeldReply, user_text: str) -> None:
        await held.gate.wait()
        if held.is_released:
            await self.context.add_user_text(user_text)
