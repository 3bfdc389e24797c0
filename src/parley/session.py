"""A conversation: the one place where Parley's stages are wired together.

    AudioSource ─ch─▶ listener: VAD → Endpointer → STT (partials while speaking, final at the end)
                                                        │ FinalTranscript
                                                        ▼
                      TurnScope(turn_id): LLM ─ch─▶ chunker ─ch─▶ TTS ─▶ AudioSink

Speech that starts while a reply is live cancels that reply (barge-in); the conversation keeps
only the words the user heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parley.backends import (
    ChatMessage,
    Transcript,
    tool_exchange,
)
from parley.backends.loaded import Backends, FixedReply
from parley.builtin_tools import END_CONVERSATION
from parley.endpointing import Endpointer
from parley.errors import BackendError
from parley.events import (
    AudioFrame,
    ConversationEnded,
    FinalTranscript,
    FunctionCallRequested,
    Int16Array,
    ListenerEvent,
    PartialTranscript,
    SpeechEnded,
    SpeechStarted,
    TurnDone,
    TurnEvent,
    TurnStarted,
)
from parley.memory.recall import MemoryChanges, MemoryRecall
from parley.memory.store import LOCAL_USER, ConversationStore
from parley.prompt import build_prompt, without_recalled_facts
from parley.speculation import HeldReply, Speculation
from parley.stream import Channel
from parley.tool_router import (
    StaticTools,
    ToolAwareReply,
    Toolbox,
    ToolChoice,
    ToolRouter,
    speakable_result,
)
from parley.tools import ToolSpec
from parley.turn import AudioSink, TurnMetrics, TurnResult, TurnScope

log = logging.getLogger(__name__)

INPUT_SAMPLE_RATE_HZ = 16_000
# A partial that already covers this share of the utterance is good enough to be the final.
_PROMOTE_PARTIAL_COVERAGE = 0.95
_MIN_PARTIAL_AUDIO_MS = 600
_KEEP_FINISHED_TURNS = 16


@dataclass(frozen=True, slots=True)
class Interruption:
    """What a barge-in stopped: a reply mid-generation, or one that was still playing."""

    turn_id: int
    was_generating: bool
    audio_end_ms: int | None = None


SessionObserver = Callable[[ListenerEvent | TurnEvent], None]


def _stamp_end_of_turn(metrics: TurnMetrics, final: FinalTranscript) -> None:
    metrics.last_voiced_t_ns = final.speech.last_voiced_t_ns
    metrics.speech_ended_t_ns = final.speech.t_ns
    metrics.stt_ms = round(final.stt_ms, 1)


def _stream_time_ns(frame: AudioFrame, frame_end_sample: int, sample: int) -> int:
    """When ``sample`` entered the pipeline, given that ``frame`` (ending there) arrived at t_ns."""
    return frame.t_ns - (frame_end_sample - 1 - sample) * 1_000_000_000 // INPUT_SAMPLE_RATE_HZ


def _covers(partial_until_sample: int, start_sample: int, last_voiced_sample: int) -> bool:
    """Whether a partial transcript heard enough of the utterance to stand as its final."""
    spoken = max(1, last_voiced_sample + 1 - start_sample)
    return (partial_until_sample - start_sample) / spoken >= _PROMOTE_PARTIAL_COVERAGE


@dataclass
class _Utterance:
    start_sample: int
    samples: list[Int16Array] = field(default_factory=list)

    def audio(self, *, until_sample: int | None = None) -> Int16Array:
        joined = np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int16)
        if until_sample is not None:
            joined = joined[: max(0, until_sample - self.start_sample + 1)]
        return joined


class Session:
    """One conversation with one user, fed by one audio source and heard through one sink."""

    def __init__(
        self,
        backends: Backends,
        *,
        store: ConversationStore,
        sink: AudioSink,
        conversation_id: str | None = None,
        observer: SessionObserver | None = None,
        user_id: str = LOCAL_USER,
        toolbox: Toolbox | None = None,
    ) -> None:
        self._backends = backends
        self._settings = backends.settings
        self._store = store
        self._sink = sink
        self._observer = observer or (lambda _event: None)
        self.user_id = user_id
        if conversation_id is None:
            conversation_id = store.create_conversation(user_id)
        self.conversation_id = conversation_id
        self._memory = (
            MemoryRecall(store, backends.embedder) if self._settings.memory.is_enabled else None
        )
        self._memory_changes = MemoryChanges()
        self._toolbox = toolbox
        self._prefill_task: asyncio.Task[None] | None = None
        # Functions a realtime client offers (it runs them itself) and their pending outputs.
        self.client_tools: list[ToolSpec] = []
        self.client_tool_choice = "auto"
        self._tool_outputs: list[tuple[str, str, str]] = []  # name, arguments JSON, output
        self.has_ended = False  # the user said goodbye (the end_conversation tool)
        self._has_announced_end = False
        self.results: list[TurnResult] = []
        self._turn_id = 0
        self._scope: TurnScope | None = None
        self._turn_tasks: set[asyncio.Task[None]] = set()
        self._is_in_utterance = False  # the user is mid-utterance
        self._finishing_tasks: set[asyncio.Task[None]] = set()  # turns ended, finals pending
        # Options a client may change during the session (applied from the next turn).
        self.instructions: str | None = None  # a persona that overrides the configured one
        self.is_replying_automatically = True  # reply when a turn ends, without being asked
        self.is_barge_in_enabled = True
        self.is_speaking = True  # False: text-only replies
        self.speed = 1.0  # speaking rate relative to the voice's configured one
        self.vad_threshold = self._settings.vad.threshold
        self.end_silence_ms = self._settings.vad.end_silence_ms
        # Recent replies by turn, for a client that later says how much of one was heard.
        self._finished: dict[int, tuple[int, TurnScope]] = {}
        self._stored: dict[int, asyncio.Event] = {}
        self._cut_turns: set[int] = set()
        self._speculation: Speculation | None = None
        self._held_metrics: dict[int, TurnMetrics] = {}
        self._background_tasks: set[asyncio.Task[str | None]] = set()

    # ---- the reply side -------------------------------------------------------------------

    @property
    def is_busy(self) -> bool:
        """Whether the user is mid-utterance, a transcript is pending, or a reply is live."""
        return self.is_listening_busy or bool(self._turn_tasks)

    @property
    def is_listening_busy(self) -> bool:
        """Whether the user is mid-utterance or an ended turn's transcript is still pending."""
        return self._is_in_utterance or bool(self._finishing_tasks)

    @property
    def live_scope(self) -> TurnScope | None:
        return self._scope

    def interrupt(self) -> Interruption | None:
        """Barge-in: stop the reply the user is hearing, now.

        A reply still being generated is cancelled. A reply generated whole but still playing
        is cut at the sink, and its stored text shortened to what was heard. None when
        nothing was playing.
        """
        if self._scope is not None and not self._scope.is_cancelled:
            self._scope.cancel()
            return Interruption(self._scope.turn_id, was_generating=True)
        turn_id = self._turn_id
        finished = self._finished.get(turn_id)
        if finished is None or turn_id in self._cut_turns:
            return None
        _message_id, scope = finished
        played_samples = self._sink.played_samples(turn_id)
        if played_samples >= scope.ledger.total_samples:
            return None
        self._sink.clear()
        self._cut_turns.add(turn_id)
        audio_end_ms = played_samples * 1000 // self._settings.audio.output_sample_rate_hz
        task = asyncio.create_task(self.truncate_reply(turn_id, audio_end_ms=audio_end_ms))
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return Interruption(turn_id, was_generating=False, audio_end_ms=audio_end_ms)

    def message_id_for_turn(self, turn_id: int) -> int | None:
        finished = self._finished.get(turn_id)
        return finished[0] if finished else None

    async def add_user_text(self, user_text: str) -> int:
        """Put a user message into the conversation without replying yet; returns its id.

        Facts the user states, or asks to remember or forget, are applied to memory here.
        """
        message_id = await self._store.add_message_async(self.conversation_id, "user", user_text)
        if self._memory is not None and self._settings.memory.is_extracting:
            self._memory_changes = await asyncio.to_thread(
                self._memory.observe_user_turn, self.user_id, user_text
            )
        return message_id

    async def respond(
        self,
        user_text: str | None,
        *,
        metrics: TurnMetrics | None = None,
        held: HeldReply | None = None,
    ) -> TurnResult:
        """Reply to ``user_text`` (or to the conversation as it stands when None), to completion
        or cancellation, and store the reply as heard."""
        if self._scope is not None:
            self._scope.cancel()  # a newer reply supersedes one still being generated
        self._turn_id += 1
        turn_id = self._turn_id
        self._sink.current_turn_id = turn_id
        self._stored[turn_id] = asyncio.Event()
        metrics = metrics or TurnMetrics(turn_id)
        metrics.turn_id = turn_id
        try:
            return await self._run_turn(turn_id, user_text, metrics, held)
        finally:
            self._stored.pop(turn_id).set()

    async def _run_turn(
        self, turn_id: int, user_text: str | None, metrics: TurnMetrics, held: HeldReply | None
    ) -> TurnResult:
        llm_config = self._settings.llm
        observer = held.observe if held is not None else self._observer
        if user_text is not None and held is None:
            await self.add_user_text(user_text)
        history = await asyncio.to_thread(
            self._store.history, self.conversation_id, max_turns=llm_config.history_turns
        )
        if held is not None and user_text is not None:
            # Not stored until the turn is confirmed: a speculation may still be discarded.
            history.append(ChatMessage("user", user_text))
        if not history or history[-1].role != "user":
            raise BackendError("There is no user message to reply to: add one first.")
        facts: list[str] = []
        changes, self._memory_changes = self._memory_changes, MemoryChanges()
        if self._memory is not None:
            facts = await asyncio.to_thread(
                self._memory.recall_for_prompt,
                self.user_id,
                history[-1].content,
                budget_chars=self._settings.memory.recall_budget_chars,
                exclude=frozenset(changes.created_ids),  # just said: the model needs no reminder
            )
        messages = build_prompt(
            system_prompt=self.instructions or llm_config.system_prompt,
            history=history,
            recalled_facts=facts,
            context_tokens=self._settings.llm.context_tokens,
            reply_tokens=llm_config.max_reply_tokens,
        )
        if self._tool_outputs:
            # A client ran the function Parley asked for: its output informs this reply.
            outputs, self._tool_outputs = self._tool_outputs, []
            exchange = tool_exchange(
                [(name, arguments, speakable_result(output)) for name, arguments, output in outputs]
            )
            messages = [*messages[:-1], without_recalled_facts(messages[-1]), *exchange]
        elif self.client_tools and self.client_tool_choice != "none" and not changes.confirmations:
            call = await self._plan_client_call(history[-1].content)
            if call is not None:
                return await self._request_function_call(
                    turn_id, history[-1].content, call, metrics, observer
                )
        observer(TurnStarted(turn_id, history[-1].content, time.perf_counter_ns()))
        reply_llm: Any = self._backends.llm
        tool_reply: ToolAwareReply | None = None
        if changes.confirmations:
            reply_llm = FixedReply(" ".join(changes.confirmations))
        elif self._toolbox is not None:
            reply_llm = tool_reply = self._toolbox.reply_for(
                self._backends.llm, history[-1].content
            )
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
            tts=self._backends.tts if self.is_speaking else None,
            sink=self._sink,
            output_sample_rate_hz=self._settings.audio.output_sample_rate_hz,
            metrics=metrics,
            observer=observe_scope,
            gate=held.gate if held is not None else None,
            speed=self.speed,
            first_piece_max_words=self._settings.tts.first_piece_max_words,
        )
        self._scope = scope
        stored_user: asyncio.Task[None] | None = None
        if held is not None:
            held.scope = scope
            if user_text is not None:
                stored_user = asyncio.create_task(self._store_when_confirmed(held, user_text))
        scope.start(messages)
        try:
            try:
                await scope.wait()
            finally:
                if self._scope is scope:
                    self._scope = None
            return await self._store_reply(
                turn_id, scope, history[-1].content, metrics, tool_reply, held, stored_user
            )
        finally:
            for event in finished:
                observer(event)
            if self.has_ended and not self._has_announced_end:
                self._has_announced_end = True
                observer(ConversationEnded(turn_id, time.perf_counter_ns()))

    async def _store_reply(
        self,
        turn_id: int,
        scope: TurnScope,
        user_text: str,
        metrics: TurnMetrics,
        tool_reply: ToolAwareReply | None,
        held: HeldReply | None,
        stored_user: asyncio.Task[None] | None,
    ) -> TurnResult:
        heard = scope.heard_text()
        tool_calls = (
            [{**call.as_dict(), "decision_ms": tool_reply.decision_ms} for call in tool_reply.calls]
            if tool_reply
            else []
        )
        if any(call["name"] == END_CONVERSATION for call in tool_calls):
            self.has_ended = True  # announced after the reply's TurnDone, in _run_turn
        result = TurnResult(
            turn_id=turn_id,
            user_text=user_text,
            reply_text=scope.reply_text.strip(),
            heard_text=heard,
            was_cancelled=scope.is_cancelled,
            metrics=metrics.as_dict(),
            tool_calls=tool_calls,
        )
        if stored_user is not None:
            await stored_user
        if held is not None and not held.is_released:
            return result  # a discarded speculation leaves no trace in the conversation
        message_id = await self._store.add_message_async(
            self.conversation_id,
            "assistant",
            heard,
            is_interrupted=scope.is_cancelled,
            metrics=result.metrics,
            tool_calls=tool_calls or None,
        )
        self.results.append(result)
        self._finished[turn_id] = (message_id, scope)
        while len(self._finished) > _KEEP_FINISHED_TURNS:
            del self._finished[next(iter(self._finished))]
        return result

    def add_tool_output(self, name: str, output: str, *, arguments: str = "{}") -> None:
        """A client's result for a function call; used by the next reply."""
        self._tool_outputs.append((name, arguments, output))

    async def _plan_client_call(self, request: str) -> ToolChoice | None:
        tools = list(self.client_tools)
        writer: Any = self._backends.llm if hasattr(self._backends.llm, "complete_json") else None
        forced = self.client_tool_choice
        router = ToolRouter(
            StaticTools(tools),
            self._backends.embedder,
            writer,
            threshold=0.0 if forced != "auto" else self._settings.mcp.route_threshold,
        )
        if forced not in {"auto", "required"}:
            chosen = next((tool for tool in tools if tool.name == forced), None)
            if chosen is None:
                return None
            return ToolChoice(chosen, await router.write_arguments(chosen, request), 1.0)
        return await router.decide(request)

    async def _request_function_call(
        self,
        turn_id: int,
        user_text: str,
        call: ToolChoice,
        metrics: TurnMetrics,
        observer: SessionObserver,
    ) -> TurnResult:
        now_ns = time.perf_counter_ns()
        observer(TurnStarted(turn_id, user_text, now_ns, kind="function_call"))
        arguments = json.dumps(call.arguments)
        call_id = "call_" + uuid.uuid4().hex[:20]
        observer(FunctionCallRequested(turn_id, call_id, call.tool.name, arguments, now_ns))
        metrics.done_t_ns = time.perf_counter_ns()
        observer(TurnDone(turn_id, False, "", metrics.as_dict(), metrics.done_t_ns))
        tool_calls = [
            {
                "name": call.tool.name,
                "arguments": call.arguments,
                "call_id": call_id,
                "by": "client",
            }
        ]
        result = TurnResult(turn_id, user_text, "", "", False, metrics.as_dict(), tool_calls)
        await self._store.add_message_async(
            self.conversation_id, "assistant", "", metrics=result.metrics, tool_calls=tool_calls
        )
        self.results.append(result)
        return result

    async def _store_when_confirmed(self, held: HeldReply, user_text: str) -> None:
        await held.gate.wait()
        if held.is_released:
            await self.add_user_text(user_text)

    async def truncate_reply(self, turn_id: int, *, audio_end_ms: int) -> str | None:
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

    def _start_reply(self, final: FinalTranscript) -> None:
        metrics = TurnMetrics(turn_id=0)
        _stamp_end_of_turn(metrics, final)
        self._spawn_reply(final.text, metrics, None)

    def _spawn_reply(self, text: str, metrics: TurnMetrics, held: HeldReply | None) -> None:
        task = asyncio.create_task(self._reply_task(text, metrics, held))
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    def _speculate(
        self, audio: Int16Array, last_voiced_sample: int, partial: asyncio.Task[Transcript] | None
    ) -> Speculation:
        """On a pause: transcribe now, and once the words are known start the reply, held."""
        transcript = (
            partial
            if partial is not None
            else asyncio.create_task(self._backends.stt.transcribe(audio, is_final=True))
        )
        speculation = Speculation(last_voiced_sample, transcript)

        def start_held_reply(task: asyncio.Task[Transcript]) -> None:
            if self._speculation is not speculation or task.cancelled() or task.exception():
                return
            text = task.result().text
            if text and self.is_replying_automatically:
                speculation.held = HeldReply(self._observer)
                self._held_metrics[id(speculation.held)] = metrics = TurnMetrics(turn_id=0)
                self._spawn_reply(text, metrics, speculation.held)

        transcript.add_done_callback(start_held_reply)
        return speculation

    def _abandon_speculation(self) -> None:
        speculation, self._speculation = self._speculation, None
        if speculation is not None and speculation.held is not None:
            speculation.held.discard()
            self._held_metrics.pop(id(speculation.held), None)

    async def _reply_task(
        self, text: str, metrics: TurnMetrics, held: HeldReply | None = None
    ) -> None:
        try:
            await self.respond(text, metrics=metrics, held=held)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the reply to %r failed", text)
            raise

    async def wait_for_replies(self) -> None:
        while self._turn_tasks or self._background_tasks:
            await asyncio.gather(*list(self._turn_tasks), *list(self._background_tasks))

    # ---- the listening side ---------------------------------------------------------------

    async def listen(self, frames: AsyncIterator[AudioFrame]) -> None:
        """Consume microphone frames until the source ends, replying to each finished utterance."""
        # What the user said is never dropped: a source that runs ahead (a file fed --fast, a
        # socket client) waits here. The loop below only runs VAD between frames (model work
        # happens in tasks), so a live source never fills it.
        mic = Channel[AudioFrame](maxsize=50, overflow="block")

        async def pump() -> None:
            try:
                async for frame in frames:
                    await mic.send(frame)
            finally:
                mic.close()

        async with asyncio.TaskGroup() as group:
            group.create_task(pump())
            group.create_task(self._listen(mic))

    async def _listen(self, mic: Channel[AudioFrame]) -> None:
        settings = self._settings
        vad = self._backends.new_vad()
        endpointer = Endpointer(
            sample_rate_hz=INPUT_SAMPLE_RATE_HZ,
            frame_samples=vad.frame_samples,
            threshold=settings.vad.threshold,
            min_speech_ms=settings.vad.min_speech_ms,
            end_silence_ms=settings.vad.end_silence_ms,
            pause_silence_ms=settings.vad.speculative_silence_ms,
            max_utterance_ms=int(settings.vad.max_utterance_s * 1000),
        )
        pre_roll_samples = INPUT_SAMPLE_RATE_HZ * settings.vad.pre_roll_ms // 1000
        # Frames kept so that a turn's audio can start a little before the detected onset.
        recent: deque[AudioFrame] = deque(
            maxlen=(settings.vad.pre_roll_ms + 2 * vad.frame_samples * 1000 // INPUT_SAMPLE_RATE_HZ)
            // settings.audio.frame_ms
            + 2
        )
        pending = np.zeros(0, dtype=np.int16)
        pending_start = 0
        utterance: _Utterance | None = None
        partial: asyncio.Task[Transcript] | None = None
        partial_until_sample = 0
        last_partial_started_ns = 0
        stream_sample = 0
        finishing: asyncio.Task[None] | None = None

        async for frame in mic:
            endpointer.configure(threshold=self.vad_threshold, end_silence_ms=self.end_silence_ms)
            recent.append(frame)
            if utterance is not None:
                utterance.samples.append(frame.samples)
            if pending.size == 0:
                pending_start = frame.start_sample
            pending = np.concatenate([pending, frame.samples])
            stream_sample = frame.start_sample + frame.samples.size
            while pending.size >= vad.frame_samples:
                window, pending = pending[: vad.frame_samples], pending[vad.frame_samples :]
                window_end = pending_start + vad.frame_samples
                pending_start = window_end
                boundary = endpointer.push(
                    vad.speech_probability(window), frame_end_sample=window_end
                )
                if boundary is None:
                    continue
                if boundary.kind in {"onset", "false_start"}:
                    # Silence the reply the moment voice may be starting over it; if the voice
                    # turns out too short to be speech (a click, a cough), it plays on.
                    if self.is_barge_in_enabled:
                        self._sink.duck(boundary.kind == "onset")
                    continue
                if boundary.kind == "start":
                    start = max(0, boundary.sample - pre_roll_samples)
                    utterance = _Utterance(start_sample=start)
                    for kept in recent:
                        end = kept.start_sample + kept.samples.size
                        if end > start:
                            utterance.samples.append(
                                kept.samples[max(0, start - kept.start_sample) :]
                            )
                    utterance.start_sample = max(start, recent[0].start_sample)
                    self._is_in_utterance = True
                    self._emit(
                        SpeechStarted(
                            start_sample=boundary.sample,
                            onset_t_ns=_stream_time_ns(frame, stream_sample, boundary.sample),
                            t_ns=time.perf_counter_ns(),
                        )
                    )
                    if self.is_barge_in_enabled:
                        self.interrupt()  # barge-in: the user talks over the reply
                        self._sink.duck(False)  # cleared if it was playing; nothing is held
                    continue
                if boundary.kind == "pause" and utterance is not None:
                    covers = partial is not None and _covers(
                        partial_until_sample, utterance.start_sample, boundary.sample
                    )
                    self._speculation = self._speculate(
                        utterance.audio(until_sample=boundary.sample + INPUT_SAMPLE_RATE_HZ // 10),
                        boundary.sample,
                        partial if covers else None,
                    )
                    continue
                if boundary.kind == "resume":
                    self._abandon_speculation()  # the user went on: it was not the end
                    continue
                # The turn ended.
                assert utterance is not None
                ended = SpeechEnded(
                    start_sample=utterance.start_sample,
                    last_voiced_sample=boundary.sample,
                    last_voiced_t_ns=_stream_time_ns(frame, stream_sample, boundary.sample),
                    t_ns=time.perf_counter_ns(),
                )
                self._emit(ended)
                speculation, self._speculation = self._speculation, None
                if speculation is not None and speculation.last_voiced_sample != boundary.sample:
                    self._speculation = speculation
                    self._abandon_speculation()
                    speculation = None
                audio = utterance.audio(until_sample=boundary.sample + INPUT_SAMPLE_RATE_HZ // 10)
                # Finished in a task of its own: this loop goes on reading frames (and hearing a
                # barge-in) while Whisper works, so no frame waits or is dropped behind a decode.
                # Finals come out in the order their turns ended.
                finishing = asyncio.create_task(
                    self._complete_turn(
                        finishing, ended, audio, speculation, partial, partial_until_sample
                    )
                )
                self._finishing_tasks.add(finishing)
                finishing.add_done_callback(self._finishing_tasks.discard)
                partial, utterance = None, None
                self._is_in_utterance = False
            # Throttled partial transcripts while the user is still speaking.
            if utterance is not None and settings.stt.is_streaming:
                now_ns = time.perf_counter_ns()
                audio_ms = (stream_sample - utterance.start_sample) * 1000 // INPUT_SAMPLE_RATE_HZ
                if (
                    (partial is None or partial.done())
                    and audio_ms >= _MIN_PARTIAL_AUDIO_MS
                    and now_ns - last_partial_started_ns
                    >= settings.stt.partial_interval_ms * 1_000_000
                ):
                    last_partial_started_ns = now_ns
                    partial_until_sample = stream_sample
                    partial = asyncio.create_task(
                        self._backends.stt.transcribe(utterance.audio(), is_final=False)
                    )
                    partial.add_done_callback(self._emit_partial)
        self._abandon_speculation()  # the stream ended before the turn did
        if partial is not None:
            partial.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await partial
        if finishing is not None:
            await finishing  # the last turn's words are out before listening ends

    async def _complete_turn(
        self,
        previous: asyncio.Task[None] | None,
        ended: SpeechEnded,
        audio: Int16Array,
        speculation: Speculation | None,
        partial: asyncio.Task[Transcript] | None,
        partial_until_sample: int,
    ) -> None:
        """The final transcript of a turn that ended, then its reply (or the held one released)."""
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        if speculation is not None:
            final = await self._finalise_speculation(speculation, ended)
        else:
            final = await self._finalise(audio, ended, partial, partial_until_sample)
        self._emit(final)
        held = speculation.held if speculation is not None else None
        if final.text and self._is_in_utterance and self.is_barge_in_enabled:
            # The user is already speaking again: a reply now would be talked over at once.
            # Keep their words; the reply answers them with the utterance now under way.
            if held is not None and not held.is_discarded:
                held.discard()
                self._held_metrics.pop(id(held), None)
            await self.add_user_text(final.text)
        elif held is not None and not held.is_discarded:
            metrics = self._held_metrics.pop(id(held))
            _stamp_end_of_turn(metrics, final)
            held.release()
        elif final.text and self.is_replying_automatically:
            self._start_reply(final)
        elif not final.text:
            log.info("an utterance held no words; no reply")

    async def _finalise_speculation(
        self, speculation: Speculation, ended: SpeechEnded
    ) -> FinalTranscript:
        started_ns = time.perf_counter_ns()
        transcript = await speculation.transcript
        now_ns = time.perf_counter_ns()
        return FinalTranscript(
            text=transcript.text, speech=ended, stt_ms=(now_ns - started_ns) / 1e6, t_ns=now_ns
        )

    async def _finalise(
        self,
        audio: Int16Array,
        ended: SpeechEnded,
        partial: asyncio.Task[Transcript] | None,
        partial_until_sample: int,
    ) -> FinalTranscript:
        started_ns = time.perf_counter_ns()
        transcript: Transcript | None = None
        if partial is not None:
            if _covers(partial_until_sample, ended.start_sample, ended.last_voiced_sample):
                transcript = await partial
            elif not partial.done():
                partial.cancel()  # its thread finishes under the model lock; ours queues behind
        if transcript is None:
            transcript = await self._backends.stt.transcribe(audio, is_final=True)
        now_ns = time.perf_counter_ns()
        return FinalTranscript(
            text=transcript.text,
            speech=ended,
            stt_ms=(now_ns - started_ns) / 1e6,
            t_ns=now_ns,
        )

    def _emit_partial(self, task: asyncio.Task[Transcript]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        transcript = task.result()
        if transcript.text:
            self._emit(
                PartialTranscript(transcript.text, transcript.audio_ms, time.perf_counter_ns())
            )
            self._start_prefill(transcript.text)

    def _start_prefill(self, partial_text: str) -> None:
        """While the user still speaks, have the LLM read the prompt their words so far make."""
        prefill = getattr(self._backends.llm, "prefill", None)
        if (
            prefill is None
            or not self._settings.llm.is_prefilling
            or self._prefill_task is not None
        ):
            return

        async def run() -> None:
            try:
                history = await asyncio.to_thread(
                    self._store.history,
                    self.conversation_id,
                    max_turns=self._settings.llm.history_turns,
                )
                messages = build_prompt(
                    system_prompt=self.instructions or self._settings.llm.system_prompt,
                    history=[*history, ChatMessage("user", partial_text)],
                    recalled_facts=[],
                    context_tokens=self._settings.llm.context_tokens,
                    reply_tokens=self._settings.llm.max_reply_tokens,
                )
                await prefill(messages)
            except Exception:
                log.debug("prefill failed", exc_info=True)
            finally:
                self._prefill_task = None

        self._prefill_task = asyncio.create_task(run())

    def _emit(self, event: ListenerEvent | TurnEvent) -> None:
        self._observer(event)
