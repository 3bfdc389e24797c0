"""A conversation: the one place where Parley's stages are wired together.

    AudioSource ─ch─▶ inbox ─▶ Listener (VAD → Endpointer) ─Heard─▶ TurnTaking decides
                        ▲                                   │
                        └── Hearing: partials, the turn ◀───┘ finals (or the pause's speculation)
                            model, reading ahead            ▼
                      Replies: TurnScope(turn_id): LLM ─ch─▶ chunker ─ch─▶ TTS ─▶ AudioSink

Speech over a reply is judged by the turn-taking policy and carried out here, in one place
(barge-in is announced as one ReplyInterrupted); the conversation keeps only the words the user
heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from parley.audio.frames import AudioFrame
from parley.audio.sink import AudioSink
from parley.config.settings import Settings
from parley.memory.store import LOCAL_USER, ConversationStore
from parley.models.contracts import Transcript
from parley.models.loaded import Backends
from parley.pipeline.channel import Channel
from parley.pipeline.end_of_turn import PauseRules
from parley.pipeline.events import (
    FinalTranscript,
    PartialTranscript,
    SessionObserver,
)
from parley.pipeline.hearing import (
    AudioEnded,
    Hearing,
    Inbox,
    PartialDecoded,
    PauseJudged,
)
from parley.pipeline.listener import (
    Ducked,
    Heard,
    Hushed,
    Listener,
    PartialDue,
    Paused,
    Resumed,
    UtteranceEnded,
    UtteranceStarted,
)
from parley.pipeline.replies import Replies
from parley.pipeline.reply_handle import ReplyHandle
from parley.pipeline.session_options import SessionOptions, TurnDetection
from parley.pipeline.speculation import HeldReply, Speculation, Speculator
from parley.pipeline.transcript_task import transcribe_or_none
from parley.pipeline.turn import TurnResult
from parley.pipeline.turn_figures import TurnMetrics
from parley.pipeline.turn_taking import Floor, Outcome, Rules, TurnTaking, Words
from parley.tools.toolbox import Toolbox

log = logging.getLogger(__name__)


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
        self.options = SessionOptions()
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
            lambda audio: transcribe_or_none(backends.stt, audio),
            self._spawn_reply,
            self._observer,
            is_allowed=self._may_reply_early,
        )
        # Replies run past the listening that began them (a file's last answer is waited for
        # after its audio ends), so they are joined here, by wait_for_replies.
        self._turn_tasks: set[asyncio.Task[None]] = set()
        # Barge-in, backchannels, echo and what an ended turn leads to: decided there, alone.
        self._floor = TurnTaking()
        self._hearing: Hearing | None = None  # the listening side's model work, while listening

    @property
    def _settings(self) -> Settings:
        # Read afresh at each use, so a reloaded config file reaches the next turn.
        return self._backends.settings

    @property
    def _rules(self) -> Rules:
        return Rules.of_session(self._settings.barge_in, self.options)

    # ---- what transports ask ----------------------------------------------------------------

    @property
    def results(self) -> list[TurnResult]:
        return self._replies.results

    @property
    def is_busy(self) -> bool:
        """Whether the user is mid-utterance, a transcript is pending, or a reply is live."""
        return self.is_listening_busy or bool(self._turn_tasks)

    @property
    def is_listening_busy(self) -> bool:
        """Whether the user is mid-utterance or an ended turn's transcript is still pending."""
        is_finishing = self._hearing is not None and self._hearing.is_finishing
        return self._floor.is_in_utterance or is_finishing

    async def add_user_text(self, user_text: str) -> int:
        return await self._replies.context.add_user_text(user_text)

    async def add_assistant_text(self, text: str) -> int:
        return await self._replies.context.add_assistant_text(text)

    async def delete_message(self, message_id: int) -> None:
        await self._replies.context.delete_message(message_id)

    def respond(self, user_text: str | None, *, metrics: TurnMetrics | None = None) -> ReplyHandle:
        """Reply to ``user_text`` (or to the conversation as it stands when None): the reply's
        handle, begun; await it for the result."""
        return self._replies.respond(user_text, metrics=metrics)

    def announce(self, words: str) -> ReplyHandle:
        """Say ``words`` unprompted (a timer gone off), as a reply of its own: stored, heard
        through the sink, interruptible like any other."""
        return self._replies.respond(None, said=words)

    def interrupt(self) -> bool:
        return self._replies.interrupt()

    def hear_wake_word(self) -> None:
        """The wake word was heard: what it does to a reply is the turn-taking policy's."""
        self._carry_out(self._floor.on_wake_word(is_reply_audible=self._replies.is_audible))

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
        """Consume microphone frames until the source ends, replying to each finished utterance.

        One loop reads one inbox: the frames, and what the model work beside it (``Hearing``)
        found. All of that work runs in this TaskGroup; replies run on past it (see
        ``_spawn_reply``)."""
        # What the user said is never dropped: a source that runs ahead (a file fed --fast, a
        # socket client) waits here. The loop only runs VAD between frames (model work happens
        # in tasks), so a live source never fills it.
        inbox = Channel[Inbox](maxsize=64, overflow="block")

        async def pump() -> None:
            async for frame in frames:
                await inbox.send(frame)
            await inbox.send(AudioEnded())

        async with asyncio.TaskGroup() as group:
            stt, turn_model = self._backends.stt, self._backends.turn_model
            self._hearing = hearing = Hearing(
                stt, turn_model, report=inbox.send, spawn=group.create_task
            )
            group.create_task(pump())
            try:
                await self._listen(inbox, hearing)
            finally:
                self._speculator.abandon()  # the stream ended before the turn did
                await hearing.close()

    async def _listen(self, inbox: Channel[Inbox], hearing: Hearing) -> None:
        listener = Listener(
            self._backends.new_vad(),
            self._settings.vad,
            self._settings.stt,
            frame_ms=self._settings.audio.frame_ms,
        )
        async for item in inbox:
            match item:
                case AudioFrame():
                    self._on_frame(item, listener, hearing)
                case PartialDecoded(transcript=transcript):
                    self._on_partial(transcript)
                case PauseJudged(last_voiced_sample=sample, call=call):
                    listener.judge_pause(sample, call)
                case AudioEnded():
                    return

    def _on_frame(self, frame: AudioFrame, listener: Listener, hearing: Hearing) -> None:
        detection = self.options.turn_detection(self._settings.vad)
        listener.configure(
            threshold=detection.vad_threshold, end_silence_ms=detection.end_silence_ms
        )
        for heard in listener.push(frame):
            self._on_heard(heard, listener, hearing, detection)
        if self._floor.is_judging_speech_over_reply:
            floor = self._floor.on_frames(
                listener.heard_samples, self._rules, is_paused=listener.is_paused
            )
            if floor is Floor.STOP:
                log.info("speech over the reply went on: the reply stops")
            self._carry_out(floor)

    def _on_heard(
        self, heard: Heard, listener: Listener, hearing: Hearing, detection: TurnDetection
    ) -> None:
        match heard:
            case Ducked(is_onset=is_onset):
                # Silence the reply the moment voice may be starting over it; if the voice
                # turns out too short to be speech (a click, a cough), it plays on.
                self._carry_out(self._floor.on_voice_edge(is_onset, self._rules))
            case UtteranceStarted(speech=speech):
                hearing.partial = None  # the last utterance's: its turn has it
                self._observer(speech)
                self._carry_out(
                    self._floor.on_utterance_start(
                        speech.start_sample,
                        self._rules,
                        is_reply_audible=self._replies.is_audible,
                        can_resume=self._sink.can_resume_held_playback,
                    )
                )
            case Hushed(audio=audio, last_voiced_sample=last_voiced):
                if detection.is_using_turn_model:
                    hearing.hear_voice(audio, last_voiced)
            case Paused(audio=audio, last_voiced_sample=last_voiced, is_covered_by_partial=covered):
                is_judged = detection.is_using_turn_model
                voice = hearing.hear_voice(audio, last_voiced) if is_judged else None
                partial = hearing.partial if covered else None
                begun = self._speculator.on_pause(
                    audio, last_voiced, partial, spawn=hearing.spawn, after=voice
                )
                if voice is not None:
                    threshold = detection.turn_complete_threshold
                    rules = PauseRules.of(self._settings.vad, turn_complete_threshold=threshold)
                    hearing.judge_pause(begun, voice, rules)
            case Resumed():
                self._speculator.abandon()  # the user went on: it was not the end
            case UtteranceEnded(speech=speech, audio=audio):
                self._observer(speech)
                # Speech that began over a reply is judged when its words are known.
                over_reply_ms = self._floor.on_utterance_end(speech.last_voiced_sample)
                speculation = self._speculator.take(speech.last_voiced_sample)
                partial = hearing.partial if heard.is_covered_by_partial else None
                if speculation is None and partial is None:
                    hearing.drop_partial()  # ours queues behind it otherwise
                hearing.partial = None
                hearing.finish(
                    speech,
                    audio,
                    speculation=speculation,
                    partial=partial,
                    over_reply_ms=over_reply_ms,
                    then=self._on_final,
                )
            case PartialDue() if not self._speculator.is_active and not hearing.is_decoding_partial:
                # Not while a pause's transcript and reply are being worked on: on 2 cores a
                # partial decode then only slows the reply down, and the pause's transcript
                # already holds every word so far.
                listener.partial_started()
                hearing.decode_partial(listener.utterance_audio())

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

    async def _on_final(
        self,
        final: FinalTranscript,
        speculation: Speculation | None,
        over_reply_ms: float | None,
    ) -> None:
        """An ended turn's words are known: what they do to the reply playing, and what follows
        (the reply begun on the pause released, a new one, or none)."""
        held = speculation.held if speculation is not None else None
        if held is not None and held.is_discarded:
            held = None
        verdict = self._floor.on_final(
            Words(final.text, over_reply_ms or 0.0, self._replies.played_text(), final.is_unclear),
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
                await self._replies.after_a_cut()
                await self._replies.context.add_user_text(final.text)
            case Outcome.RELEASE_HELD:
                # held and its metrics are set together, when the pause's reply begins
                assert held is not None and speculation is not None
                assert speculation.metrics is not None
                speculation.metrics.stamp_end_of_turn(final, probability)
                held.release()
            case Outcome.REPLY:
                metrics = TurnMetrics()
                metrics.stamp_end_of_turn(final, probability)
                self._spawn_reply(final.text, metrics, None, final.is_unclear)
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

    def _spawn_reply(
        self, text: str, metrics: TurnMetrics, held: HeldReply | None, is_unclear: bool
    ) -> None:
        async def reply() -> None:
            try:
                await self._replies.respond(text, metrics=metrics, held=held, is_unclear=is_unclear)
            except Exception:
                log.exception("the reply to %r failed", text)
                raise

        task = asyncio.create_task(reply())
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    def _on_partial(self, transcript: Transcript) -> None:
        text, audio_ms = transcript.text, transcript.audio_ms
        spoken_ms = audio_ms - self._settings.vad.pre_roll_ms  # from the onset on
        verdict = self._floor.on_partial(
            Words(text, spoken_ms, self._replies.played_text(), transcript.is_unclear), self._rules
        )
        if not verdict.is_users_words:
            return  # Parley's own voice come back: neither a barge-in nor the user's words
        if verdict.floor is Floor.STOP:
            log.info("heard %r over the reply: the reply stops", text)
        self._carry_out(verdict.floor)
        if text:
            now_ns = time.perf_counter_ns()
            self._observer(PartialTranscript(text, audio_ms, now_ns, transcript.decode_ms))
            if self._settings.llm.is_prefilling and self._hearing is not None:
                self._hearing.read_ahead(
                    self._backends.llm_capabilities.prompt_reader,
                    lambda: self._replies.context.build(transcript.text),
                )
