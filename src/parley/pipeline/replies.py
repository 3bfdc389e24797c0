"""The reply side of one conversation: one reply at a time, each in its own TurnScope, stored
as the user heard it, and stopped in one place when the user talks over it. Every reply's
prompt comes from its ReplyContext."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from parley.audio.sink import AudioSink
from parley.config.settings import Settings
from parley.memory.store import ConversationStore
from parley.models.loaded import Backends
from parley.pipeline.client_functions import ClientFunctions
from parley.pipeline.events import (
    ListenerEvent,
    ReplyInterrupted,
    SessionObserver,
    TurnDone,
    TurnEvent,
    TurnStarted,
)
from parley.pipeline.prompt import count_tokens
from parley.pipeline.reply_context import ReplyContext
from parley.pipeline.reply_handle import ReplyHandle, ReplyStatus
from parley.pipeline.reply_plan import ReplyPlan, ReplyPlanner
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.speculation import HeldReply
from parley.pipeline.turn import TurnResult, TurnScope
from parley.pipeline.turn_figures import TurnFigures, TurnMetrics
from parley.pipeline.turn_taking import Floor, Rules, TurnTaking
from parley.tools.tool_reply import ToolAwareReply
from parley.tools.toolbox import Toolbox

_KEEP_RECENT_REPLIES = 16


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
        self._planner = ReplyPlanner(
            backends,
            context=self.context,
            client_functions=self.client_functions,
            toolbox=toolbox,
            options=options,
            results=self.results,
            stored_in=self._stored_in,
        )
        self._last_turn_id = 0
        # The reply the user hears, or is about to: confirmed, never a held one.
        self._current: ReplyHandle | None = None
        # Recent replies by turn, for a client that later says how much of one was heard.
        self._handles: dict[int, ReplyHandle] = {}
        self._background_tasks: set[asyncio.Task[str | None]] = set()

    @property
    def _settings(self) -> Settings:
        # Read afresh at each use, so a reloaded config file reaches the next turn.
        return self._backends.settings

    @property
    def is_audible(self) -> bool:
        """Whether the user may be hearing a reply: one is being written, or the last one
        written is still playing."""
        return self._current is not None and self._current.is_audible

    def played_text(self, *, ahead_ms: int = 1000) -> str:
        """The current reply's words played so far, and those of the next ``ahead_ms`` (what
        is sounding in the room as this is asked, allowing for the sink's own lag)."""
        if self._current is None:
            return ""
        ahead_samples = ahead_ms * self._settings.audio.output_sample_rate_hz // 1000
        return self._current.played_text(ahead_samples=ahead_samples)

    # ---- stopping a reply: the one place ---------------------------------------------------

    def cancel(self, reason: str) -> bool:
        """Stop the reply being written (audio first). False when none is."""
        current = self._current
        if current is None or current.status is not ReplyStatus.LIVE:
            return False
        if not current.cut():
            return False  # not begun: nothing is being written or heard yet
        self._announce(current, reason, True, current.heard_text())
        return True

    def interrupt(self) -> bool:
        """Barge-in: stop what the user is hearing, now. A reply still being written is
        cancelled; one written whole but still playing is cut at the sink and its stored text
        shortened to what was heard. False when nothing was playing."""
        if self.cancel("turn_detected"):
            return True
        current = self._current
        if current is None or not current.cut():
            return False
        audio_end_ms = self._played_ms(current)
        task = asyncio.create_task(self.truncate(current.turn_id, audio_end_ms=audio_end_ms))
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        self._announce(current, "turn_detected", False, current.heard_text())
        return True

    def _played_ms(self, handle: ReplyHandle) -> int:
        return handle.played_samples * 1000 // self._settings.audio.output_sample_rate_hz

    def _announce(self, handle: ReplyHandle, reason: str, was_generating: bool, heard: str) -> None:
        scope = handle.scope
        assert scope is not None  # only a reply with a scope is ever stopped
        self._observer(
            ReplyInterrupted(
                handle.turn_id,
                reason,
                was_generating,
                heard,
                self._played_ms(handle),
                scope.metrics.figures(),
                time.perf_counter_ns(),
            )
        )

    async def truncate(self, turn_id: int, *, audio_end_ms: int) -> str | None:
        """The client says the user heard only ``audio_end_ms`` of a reply: store just that."""
        handle = self._handles.get(turn_id)
        if handle is None:
            return None
        await handle.stored.wait()  # the client may answer response.done before the row is written
        if handle.message_id is None:
            return None
        played_samples = audio_end_ms * self._settings.audio.output_sample_rate_hz // 1000
        heard = handle.heard_text(played_samples)
        await asyncio.to_thread(
            self._store.update_message, handle.message_id, heard, is_interrupted=True
        )
        return heard

    async def after_a_cut(self) -> None:
        """A reply just cut is stored before the words that cut it ("Wait, stop."): its row,
        written as its teardown ends, comes first in the conversation."""
        current = self._current
        if current is not None and current.status is ReplyStatus.CUT:
            await current.stored.wait()

    def message_id_for_turn(self, turn_id: int) -> int | None:
        handle = self._handles.get(turn_id)
        return handle.message_id if handle is not None else None

    async def wait_for_background(self) -> None:
        while self._background_tasks:
            await asyncio.gather(*list(self._background_tasks))

    # ---- one reply -------------------------------------------------------------------------

    def respond(
        self,
        user_text: str | None,
        *,
        metrics: TurnMetrics | None = None,
        held: HeldReply | None = None,
        said: str | None = None,
        is_unclear: bool = False,
    ) -> ReplyHandle:
        """Begin a reply to ``user_text`` (or to the conversation as it stands when None): its
        handle, at once; awaiting the handle gives its result once it has run to completion or
        cancellation and is stored as heard. A held reply takes the floor only when it is
        released. Words not made out (``is_unclear``) are asked again, not answered, and nothing
        in them is remembered."""
        self._last_turn_id += 1
        handle = ReplyHandle(self._last_turn_id, self._sink, held=held)
        self._handles[handle.turn_id] = handle
        while len(self._handles) > _KEEP_RECENT_REPLIES:
            del self._handles[next(iter(self._handles))]
        handle.begin(self._reply(handle, user_text, metrics, said, is_unclear))
        return handle

    async def _reply(
        self,
        handle: ReplyHandle,
        user_text: str | None,
        metrics: TurnMetrics | None,
        said: str | None,
        is_unclear: bool,
    ) -> TurnResult:
        """Take the floor (or wait for the held reply's release), then run and store it."""
        held = handle.held
        if held is None:
            previous = self._current
            if previous is not None and previous.status is ReplyStatus.LIVE:
                rules = Rules.of_session(self._settings.barge_in, self._options())
                if TurnTaking.on_new_reply(rules, is_unprompted=said is not None) is Floor.STOP:
                    previous.cut()
                # Either way the previous reply is stored (as far as heard) first, and read by
                # this reply's prompt: a cut's teardown takes one model item at most.
                await previous.stored.wait()
            self._take_floor(handle)
        else:
            held.on_release = lambda: self._take_floor(handle)
        metrics = metrics or TurnMetrics()
        try:
            return await self._run(handle, user_text, metrics, said, is_unclear)
        finally:
            if not handle.stored.is_set():
                handle.mark_stored(None)  # discarded, failed or a function call: no row

    def _take_floor(self, handle: ReplyHandle) -> None:
        previous = self._current
        if previous is not None and previous is not handle and previous.status is ReplyStatus.LIVE:
            previous.cut()  # a held reply released over one still being written supersedes it
        self._current = handle
        self._sink.tracks.open(handle.turn_id)

    async def _run(
        self,
        handle: ReplyHandle,
        user_text: str | None,
        metrics: TurnMetrics,
        said: str | None,
        is_unclear: bool,
    ) -> TurnResult:
        """Plan the reply (its prompt, or a client's function to call instead), speak it in its
        scope, then store it as heard."""
        held = handle.held
        observer = held.observe if held is not None else self._observer
        is_asked_again = is_unclear and said is None and user_text is not None
        if user_text is not None and held is None:
            await self.context.add_user_text(user_text, is_unclear=is_asked_again)
        prompt = await self._planner.prompt(user_text, held, said, is_asked_again)
        if prompt.outputs_said is None and not prompt.changes.confirmations:
            called = await self._planner.call_client_function(
                handle, prompt, user_text, metrics, observer
            )
            if called is not None:
                return called
        kind = "announcement" if said is not None else "message"
        observer(TurnStarted(handle.turn_id, prompt.request, time.perf_counter_ns(), kind))
        return await self._speak(handle, prompt, user_text, metrics, observer, is_asked_again)

    async def _speak(
        self,
        handle: ReplyHandle,
        prompt: ReplyPlan,
        user_text: str | None,
        metrics: TurnMetrics,
        observer: SessionObserver,
        is_asked_again: bool,
    ) -> TurnResult:
        turn_id, held, options = handle.turn_id, handle.held, self._options()
        reply_llm = self._planner.reply_model(prompt)
        tool_reply = reply_llm if isinstance(reply_llm, ToolAwareReply) else None
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
        handle.scope = scope
        stored_user: asyncio.Task[None] | None = None
        if held is not None:
            held.scope = scope
            if user_text is not None:
                stored_user = asyncio.create_task(
                    self._store_when_confirmed(held, user_text, scope, is_asked_again)
                )
        scope.start(prompt.messages)
        # Counted while the model reads the prompt in its thread: the reply's usage figure.
        metrics.prompt_token_count = count_tokens(
            self._backends.llm_capabilities.token_counter, prompt.messages
        )
        try:
            await scope.wait()
            if stored_user is not None:
                await stored_user
            result = self._result(turn_id, scope, prompt.request, metrics, tool_reply)
            if held is not None and not held.is_released:
                return result  # a discarded speculation leaves no trace in the conversation
            return await self._store_reply(handle, result)
        finally:
            for event in finished:
                observer(event)

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

    async def _stored_in(self, text: str, figures: TurnFigures, calls: list[Any]) -> None:
        await self._store.add_message_async(
            self._conversation_id, "assistant", text, metrics=figures.as_json(), tool_calls=calls
        )

    async def _store_reply(self, handle: ReplyHandle, result: TurnResult) -> TurnResult:
        message_id = await self._store.add_message_async(
            self._conversation_id,
            "assistant",
            result.heard_text,
            is_interrupted=result.was_cancelled,
            metrics=result.figures.as_json(),
            tool_calls=result.tool_calls or None,
        )
        self.results.append(result)
        handle.mark_stored(message_id)
        return result

    async def _store_when_confirmed(
        self, held: HeldReply, user_text: str, scope: TurnScope, is_unclear: bool
    ) -> None:
        await held.gate.wait()
        if held.is_released:
            # Once the reply is heard: storing the words (and reading them for facts to keep)
            # would otherwise share the two cores with the voice's first sound.
            await scope.first_sound.wait()
            await self.context.add_user_text(user_text, is_unclear=is_unclear)
