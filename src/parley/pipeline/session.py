"""A conversation: the one place where Parley's stages are wired together.

    AudioSource ─ch─▶ Listener (VAD → Endpointer) ─Heard─▶ STT: partials while speaking, a final
                                                           │ at the end (or taken from a pause's
                                                           ▼ speculation)
                      Replies: TurnScope(turn_id): LLM ─ch─▶ chunker ─ch─▶ TTS ─▶ AudioSink

Speech that starts while a reply is live stops that reply (barge-in, decided here and announced
as one ReplyInterrupted); the conversation keeps only the words the user heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from parley.audio.frames import AudioFrame, Int16Array
from parley.audio.sink import AudioSink
from parley.config.settings import Settings
from parley.memory.store import LOCAL_USER, ConversationStore
from parley.models.contracts import Transcript
from parley.models.loaded import Backends
from parley.pipeline.channel import Channel
from parley.pipeline.events import (
    FinalTranscript,
    ListenerEvent,
    PartialTranscript,
    SpeechEnded,
    TurnEvent,
)
from parley.pipeline.listener import (
    Ducked,
    Heard,
    Listener,
    PartialDue,
    Paused,
    Resumed,
    UtteranceEnded,
    UtteranceStarted,
)
from parley.pipeline.replies import Replies
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.speculation import HeldReply, Speculation, Speculator
from parley.pipeline.turn import TurnMetrics, TurnResult
from parley.pipeline.turn_cues import sounds_unfinished
from parley.pipeline.turn_taking import Floor, Outcome, Rules, TurnTaking, Words
from parley.tools.router import Toolbox

log = logging.getLogger(__name__)

SessionObserver = Callable[[ListenerEvent | TurnEvent], None]


def _stamp_end_of_turn(
    metrics: TurnMetrics, final: FinalTranscript, turn_complete_probability: float | None
) -> None:
    metrics.last_voiced_t_ns = final.speech.last_voiced_t_ns
    metrics.speech_ended_t_ns = final.speech.t_ns
    metrics.stt_ms = round(final.stt_ms, 1)
    # Whisper's own time and the audio it decoded: its real-time factor, for monitors.
    metrics.stt_decode_ms = final.decode_ms
    metrics.stt_audio_ms = final.audio_ms
    metrics.turn_complete_probability = turn_complete_probability


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
        self._sink = sink
        self._observer = observer or (lambda _event: None)
        self.user_id = user_id
        self.conversation_id = conversation_id or store.create_conversation(user_id)
        # Replaced whole by a client (session.update); read at each frame and turn.
        self.options = SessionOptions.from_settings(self._settings)
        self._replies = Replies(
            backends,
            store=store,
            sink=sink,
            conversation_id=self.conversation_id,
            user_id=user_id,
            observer=self._observer,
            toolbox=toolbox,
            options=lambda: self.options,
        )
        self._speculator = Speculator(
            lambda audio: backends.stt.transcribe(audio),
            self._spawn_reply,
            self._observer,
            is_allowed=self._may_reply_early,
        )
        self._turn_tasks: set[asyncio.Task[None]] = set()
        # Barge-in, backchannels, echo and what an ended turn leads to: decided there, alone.
        self._floor = TurnTaking()
        self._finishing_tasks: set[asyncio.Task[None]] = set()  # turns ended, finals pending
        self._finishing: asyncio.Task[None] | None = None  # the last turn to end
        self._partial: asyncio.Task[Transcript] | None = None
        self._prefill_task: asyncio.Task[None] | None = None

    @property
    def _settings(self) -> Settings:
        # Read afresh at each use, so a reloaded config file reaches the next turn.
        return self._backends.settings

    @property
    def _rules(self) -> Rules:
        options = self.options
        return Rules.of(
            self._settings.barge_in,
            is_barge_in_enabled=options.is_barge_in_enabled,
            is_replying_automatically=options.is_replying_automatically,
        )

    # ---- what transports ask ----------------------------------------------------------------

    @property
    def results(self) -> list[TurnResult]:
        return self._replies.results

    @property
    def has_ended(self) -> bool:
        """The user said goodbye (the end_conversation tool)."""
        return self._replies.has_ended

    @property
    def is_busy(self) -> bool:
        """Whether the user is mid-utterance, a transcript is pending, or a reply is live."""
        return self.is_listening_busy or bool(self._turn_tasks)

    @property
    def is_listening_busy(self) -> bool:
        """Whether the user is mid-utterance or an ended turn's transcript is still pending."""
        return self._floor.is_in_utterance or bool(self._finishing_tasks)

    async def add_user_text(self, user_text: str) -> int:
        return await self._replies.context.add_user_text(user_text)

    async def add_assistant_text(self, text: str) -> int:
        return await self._replies.context.add_assistant_text(text)

    async def delete_message(self, message_id: int) -> None:
        await self._replies.context.delete_message(message_id)

    async def respond(
        self, user_text: str | None, *, metrics: TurnMetrics | None = None
    ) -> TurnResult:
        """Reply to ``user_text`` (or to the conversation as it stands when None)."""
        return await self._replies.respond(user_text, metrics=metrics)

    def interrupt(self) -> bool:
        return self._replies.interrupt()

    async def truncate_reply(self, turn_id: int, *, audio_end_ms: int) -> str | None:
        """The client heard only ``audio_end_ms`` of a reply: it is stored as far as that."""
        return await self._replies.truncate(turn_id, audio_end_ms=audio_end_ms)

    def message_id_for_turn(self, turn_id: int) -> int | None:
        return self._replies.message_id_for_turn(turn_id)

    def add_function_output(self, name: str, output: str, *, arguments: str) -> None:
        """A client ran a function Parley asked for: its output informs the next reply."""
        self._replies.client_functions.add_output(name, output, arguments=arguments)

    def cancel_reply(self, reason: str) -> bool:
        return self._replies.cancel(reason)

    async def wait_for_replies(self) -> None:
        while self._turn_tasks:
            await asyncio.gather(*list(self._turn_tasks))
        await self._replies.wait_for_background()

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
        listener = Listener(
            self._backends.new_vad(),
            self._settings.vad,
            self._settings.stt,
            frame_ms=self._settings.audio.frame_ms,
        )
        async for frame in mic:
            options = self.options
            listener.configure(
                threshold=options.vad_threshold, end_silence_ms=options.end_silence_ms
            )
            for heard in listener.push(frame):
                self._on_heard(heard, listener, options)
            if self._floor.is_judging_speech_over_reply:
                floor = self._floor.on_frames(
                    listener.heard_samples, self._rules, is_paused=listener.is_paused
                )
                if floor is Floor.STOP:
                    log.info("speech over the reply went on: the reply stops")
                self._carry_out(floor)
        self._speculator.abandon()  # the stream ended before the turn did
        if self._partial is not None:
            self._partial.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._partial
        if self._finishing is not None:
            await self._finishing  # the last turn's words are out before listening ends

    def _on_heard(self, heard: Heard, listener: Listener, options: SessionOptions) -> None:
        match heard:
            case Ducked(is_onset=is_onset):
                # Silence the reply the moment voice may be starting over it; if the voice
                # turns out too short to be speech (a click, a cough), it plays on.
                self._carry_out(self._floor.on_voice_edge(is_onset, self._rules))
            case UtteranceStarted(speech=speech):
                self._partial = None
                self._observer(speech)
                self._carry_out(
                    self._floor.on_utterance_start(
                        speech.start_sample,
                        self._rules,
                        is_reply_audible=self._replies.is_audible,
                        can_resume=self._sink.can_resume_held_playback,
                    )
                )
            case Paused(audio=audio, last_voiced_sample=last_voiced, is_covered_by_partial=covered):
                speculation = self._speculator.on_pause(
                    audio, last_voiced, self._partial if covered else None
                )
                if options.is_using_turn_model and self._backends.turn_model is not None:
                    self._judge_pause(listener, speculation, audio, options)
            case Resumed():
                self._speculator.abandon()  # the user went on: it was not the end
            case UtteranceEnded():
                self._end_turn(heard)
            case PartialDue() if not self._speculator.is_active and (
                self._partial is None or self._partial.done()
            ):
                # Not while a pause's transcript and reply are being worked on: on 2 cores a
                # partial decode then only slows the reply down, and the pause's transcript
                # already holds every word so far.
                listener.partial_started()
                self._partial = asyncio.create_task(
                    self._backends.stt.transcribe(listener.utterance_audio())
                )
                self._partial.add_done_callback(self._emit_partial)

    def _judge_pause(
        self,
        listener: Listener,
        speculation: Speculation,
        audio: Int16Array,
        options: SessionOptions,
    ) -> None:
        """Ask the turn model whether the voice sounds finished at this pause; if it does and
        the pause's transcript does not stop mid-sentence, the turn ends after the shorter
        silence (vad.turn_complete_silence_ms)."""
        turn_model = self._backends.turn_model
        assert turn_model is not None
        vad = self._settings.vad

        def words_heard(transcript: asyncio.Task[Transcript]) -> None:
            if transcript.cancelled() or transcript.exception() is not None:
                return
            text = transcript.result().text
            if sounds_unfinished(text):
                log.debug("the voice sounded finished but the words are not: %r", text)
                return
            listener.end_sooner(
                speculation.last_voiced_sample, end_silence_ms=vad.turn_complete_silence_ms
            )

        def decided(task: asyncio.Task[float]) -> None:
            if task.cancelled() or task.exception() is not None:
                log.debug("the turn model failed; the turn ends on silence", exc_info=True)
                return
            speculation.turn_complete_probability = probability = task.result()
            if probability >= options.turn_complete_threshold:
                # Both must agree: the voice sounds finished and the words read finished.
                speculation.transcript.add_done_callback(words_heard)

        task = asyncio.create_task(asyncio.to_thread(turn_model.completion_probability, audio))
        task.add_done_callback(decided)

    def _carry_out(self, floor: Floor | None) -> None:
        """What the turn-taking policy decided about the reply playing now."""
        match floor:
            case Floor.DUCK:
                self._sink.duck(True)
            case Floor.PLAY_ON:
                self._sink.duck(False)
            case Floor.STOP:
                self._replies.interrupt()
                self._sink.duck(False)  # cleared if it was playing; nothing is held
            case None:
                pass

    def _end_turn(self, ended: UtteranceEnded) -> None:
        self._observer(ended.speech)
        # Speech that began over a reply, judged when its words are known: how long it was.
        over_reply_ms = self._floor.on_utterance_end(ended.speech.last_voiced_sample)
        speculation = self._speculator.take(ended.speech.last_voiced_sample)
        partial = self._partial if ended.is_covered_by_partial else None
        if speculation is None and partial is None and self._partial is not None:
            self._partial.cancel()  # dropped unrun if still queued; else ours queues behind
        # Finished in a task of its own: the listener goes on reading frames (and hearing a
        # barge-in) while Whisper works, so no frame waits or is dropped behind a decode.
        # Finals come out in the order their turns ended.
        self._finishing = asyncio.create_task(
            self._complete_turn(
                self._finishing, ended.speech, ended.audio, speculation, partial, over_reply_ms
            )
        )
        self._finishing_tasks.add(self._finishing)
        self._finishing.add_done_callback(self._finishing_tasks.discard)
        self._partial = None

    async def _complete_turn(
        self,
        previous: asyncio.Task[None] | None,
        ended: SpeechEnded,
        audio: Int16Array,
        speculation: Speculation | None,
        partial: asyncio.Task[Transcript] | None,
        over_reply_ms: float | None,
    ) -> None:
        """The final transcript of a turn that ended, then its reply (or the held one released).
        Speech that began over a reply and was short is judged here by its words."""
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        started_ns = time.perf_counter_ns()
        transcript: Transcript | None = None
        early = speculation.transcript if speculation is not None else partial
        if early is not None:
            await asyncio.wait({early})
            if not early.cancelled() and early.exception() is None:
                transcript = early.result()  # else it failed: decoded again below
        if transcript is None:
            transcript = await self._backends.stt.transcribe(audio)
        now_ns = time.perf_counter_ns()
        final = FinalTranscript(
            text=transcript.text,
            speech=ended,
            stt_ms=(now_ns - started_ns) / 1e6,
            t_ns=now_ns,
            decode_ms=transcript.decode_ms,
            audio_ms=transcript.audio_ms,
        )
        held = speculation.held if speculation is not None else None
        if held is not None and (
            held.is_discarded or speculation is None or not speculation.metrics
        ):
            held = None
        verdict = self._floor.on_final(
            Words(final.text, over_reply_ms or 0.0, self._replies.played_text()),
            self._rules,
            over_reply_ms=over_reply_ms,
            has_held_reply=held is not None,
        )
        if verdict.is_users_words:
            self._observer(final)
        if verdict.floor is Floor.STOP:
            log.info("heard %r over the reply: the reply stops", final.text)
        self._carry_out(verdict.floor)
        probability = speculation.turn_complete_probability if speculation is not None else None
        match verdict.outcome:
            case Outcome.IGNORED:
                log.info("heard %r over the reply: not a turn, it plays on", final.text)
            case Outcome.KEEP_WORDS:
                if held is not None:
                    held.discard()
                await self._replies.context.add_user_text(final.text)
            case Outcome.RELEASE_HELD:
                assert held is not None and speculation is not None and speculation.metrics
                _stamp_end_of_turn(speculation.metrics, final, probability)
                held.release()
            case Outcome.REPLY:
                metrics = TurnMetrics(turn_id=0)
                _stamp_end_of_turn(metrics, final, probability)
                self._spawn_reply(final.text, metrics, None)
            case Outcome.NO_WORDS:
                log.info("an utterance held no words; no reply")
            case Outcome.WAIT:
                pass

    def _may_reply_early(self, text: str) -> bool:
        return self._floor.may_reply_early(
            self._rules,
            is_reply_audible=self._replies.is_audible,
            asks_to_change_memory=self._replies.context.asks_to_change_memory(text),
        )

    def _spawn_reply(self, text: str, metrics: TurnMetrics, held: HeldReply | None) -> None:
        task = asyncio.create_task(self._reply_task(text, metrics, held))
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    async def _reply_task(self, text: str, metrics: TurnMetrics, held: HeldReply | None) -> None:
        try:
            await self._replies.respond(text, metrics=metrics, held=held)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the reply to %r failed", text)
            raise

    def _emit_partial(self, task: asyncio.Task[Transcript]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        transcript = task.result()
        verdict = self._floor.on_partial(
            Words(transcript.text, transcript.audio_ms, self._replies.played_text()),
            self._rules,
        )
        if not verdict.is_users_words:
            return  # Parley's own voice come back: neither a barge-in nor the user's words
        if verdict.floor is Floor.STOP:
            log.info("heard %r over the reply: the reply stops", transcript.text)
        self._carry_out(verdict.floor)
        if transcript.text:
            self._observer(
                PartialTranscript(transcript.text, transcript.audio_ms, time.perf_counter_ns())
            )
            self._start_prefill(transcript.text)

    def _start_prefill(self, partial_text: str) -> None:
        """While the user still speaks, have the LLM read the prompt their words so far make."""
        reader = self._backends.llm_capabilities.prompt_reader
        if reader is None or not self._settings.llm.is_prefilling or self._prefill_task is not None:
            return

        async def run() -> None:
            try:
                _history, messages = await self._replies.context.build(partial_text)
                await reader.prefill(messages)
            except Exception:
                log.debug("prefill failed", exc_info=True)
            finally:
                self._prefill_task = None

        self._prefill_task = asyncio.create_task(run())
