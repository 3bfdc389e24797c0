"""One Wyoming client: its events read in order, each acted on by the program it is for
(``describe``; speech-to-text's ``transcribe`` and ``audio-*``; text-to-speech's
``synthesize*``; the agent's ``transcript``), and every event to it written from one lock.

Model work runs in tasks beside the reading, so a client can stream text while earlier
sentences are spoken and audio while earlier words are decoded. A fault in what the client sent
is an ``error`` event: the connection goes on after one it can read past (an unknown event, bad
audio), and closes after one it cannot (a malformed header, a length that is too large). A
client that vanishes stops only its own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.ping import Pong

from parley.models.voices import offline_voices
from parley.ops.metrics import ServerMetrics
from parley.pipeline.runtime import Runtime
from parley.server.wyoming.agent import Agent
from parley.server.wyoming.audio_in import AudioFormat, AudioFormatError, AudioIn
from parley.server.wyoming.framing import FrameError, read_event
from parley.server.wyoming.programs import wyoming_info
from parley.server.wyoming.speech import Speech, TextTooLong
from parley.server.wyoming.transcript_stream import TranscriptStream
from parley.server.wyoming.transcription import Transcription, end_silence_for

log = logging.getLogger(__name__)

# Events a client may send that ask nothing of Parley.
_IGNORED = {"select-program", "pong", "detection", "voice-started", "voice-stopped"}


class WyomingConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        runtime: Runtime,
        agent: Agent,
        metrics: ServerMetrics,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._runtime = runtime
        self._settings = runtime.settings
        self._config = self._settings.wyoming
        self._agent = agent
        self._metrics = metrics
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        # speech-to-text: the request under way
        self._transcription: Transcription | None = None
        self._transcript: TranscriptStream | None = None
        self._audio_in = AudioIn()
        self._audio_format: AudioFormat | None = None
        self._language: str | None = None
        # text-to-speech: the streamed request under way
        self._speech: Speech | None = None

    async def serve(self) -> None:
        try:
            while True:
                try:
                    event = await asyncio.wait_for(
                        read_event(self._reader, max_bytes=self._config.max_event_bytes),
                        timeout=self._config.idle_timeout_s,
                    )
                except TimeoutError:
                    await self._error("idle", "Nothing was sent for a while: goodbye.")
                    return
                except FrameError as error:
                    await self._error(error.code, str(error))
                    return
                if event is None:
                    return
                await self._on_event(event)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("a Wyoming client went away")
        finally:
            await self._stop()

    # ---- events ----------------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        data = event.data
        match event.type:
            case "describe" | "ping":
                await self._answer_probe(event.type, data)
            case "transcribe":
                self._start_transcription(data)
            case "audio-start":
                await self._on_audio_start(data)
            case "audio-chunk":
                await self._on_audio_chunk(data, event.payload or b"")
            case "audio-stop":
                self._answer_transcription()
            case "synthesize":
                await self._on_synthesize(data)
            case "synthesize-start":
                await self._synthesize(data, is_streaming=True, text=None)
            case "synthesize-chunk":
                await self._add_speech_text(data.get("text"))
            case "synthesize-stop":
                self._finish_speech()
            case "transcript":
                self._handle(data)
            case other if other not in _IGNORED:
                await self._error(
                    "unknown_event",
                    f"Parley does not know the event {other!r}; it serves describe, transcribe "
                    "and audio-*, synthesize*, and transcript (its conversation agent).",
                )

    async def _answer_probe(self, kind: str, data: dict[str, Any]) -> None:
        """What Parley serves (``describe``), or that it is alive (``ping``)."""
        if kind == "describe":
            await self.write(wyoming_info(self._settings).event())
        else:
            await self.write(Pong(text=data.get("text")).event())

    async def _on_synthesize(self, data: dict[str, Any]) -> None:
        # Inside a stream, older servers' "synthesize" repeats what the chunks carry: ignored.
        if self._speech is None:
            await self._synthesize(data, is_streaming=False, text=data.get("text"))

    # ---- speech-to-text --------------------------------------------------------------------

    def _start_transcription(self, data: dict[str, Any]) -> None:
        self._drop_transcription()
        self._language = data.get("language") if isinstance(data.get("language"), str) else None
        backends = self._runtime.backends
        self._transcript = TranscriptStream(self.write, language=self._language)
        self._transcription = Transcription(
            backends.stt,
            backends.new_vad(),
            self._settings,
            end_silence_ms=end_silence_for(
                data.get("vad_sensitivity"), self._settings.vad.end_silence_ms
            ),
            max_audio_s=self._config.max_audio_s,
            on_partial=self._transcript.partial,
        )

    async def _on_audio_start(self, data: dict[str, Any]) -> None:
        if self._transcription is None or self._transcription.is_ended:
            self._start_transcription({"language": self._language})
        try:
            self._audio_format = AudioFormat.of(data)
        except AudioFormatError as error:
            await self._error("bad_audio", str(error))

    async def _on_audio_chunk(self, data: dict[str, Any], payload: bytes) -> None:
        if self._transcription is None:
            self._start_transcription({"language": self._language})
        assert self._transcription is not None
        try:
            audio_format = AudioFormat.of(data) if "rate" in data else self._audio_format
            if audio_format is None:
                raise AudioFormatError("An audio chunk came before audio-start and says no format.")
            samples = self._audio_in.convert(payload, audio_format)
        except AudioFormatError as error:
            await self._error("bad_audio", str(error))
            return
        was_ended = self._transcription.is_ended
        self._transcription.push(samples)
        if not was_ended and self._transcription.is_ended:
            self._answer_transcription()  # Parley heard the end before the client stopped

    def _answer_transcription(self) -> None:
        transcription, stream = self._transcription, self._transcript
        if transcription is None or stream is None or stream.is_answered:
            return
        transcription.push(self._audio_in.flush())
        stream.is_answered = True
        ended_ns = time.perf_counter_ns()

        async def answer() -> None:
            try:
                transcript = await transcription.final()
            except Exception as error:
                log.exception("a Wyoming transcript failed")
                self._metrics.observe_wyoming("asr", None, outcome="error")
                await self._error("transcription_failed", f"Parley could not transcribe: {error}")
                return
            await stream.final(transcript.text)
            self._metrics.observe_wyoming("asr", (time.perf_counter_ns() - ended_ns) / 1e6)

        self._spawn(answer())

    def _drop_transcription(self) -> None:
        if self._transcription is not None:
            self._spawn(self._transcription.close())
        self._transcription, self._transcript = None, None
        self._audio_in = AudioIn()

    # ---- text-to-speech --------------------------------------------------------------------

    async def _synthesize(self, data: dict[str, Any], *, is_streaming: bool, text: Any) -> None:
        voice = data.get("voice")
        try:
            tts = await asyncio.to_thread(self._runtime.backends.tts_for, self._voice_name(voice))
        except Exception as error:
            await self._error("unknown_voice", str(error))
            return
        speech = Speech(
            tts,
            self.write,
            is_streaming=is_streaming,
            max_chars=self._settings.server.max_text_chars,
            on_first_audio=lambda ms: self._metrics.observe_wyoming("tts", ms),
        )
        if not is_streaming:
            await self._speak_whole(speech, text)
            return
        self._speech = speech

    async def _speak_whole(self, speech: Speech, text: Any) -> None:
        async def speak() -> None:
            try:
                await speech.add_text(text if isinstance(text, str) else "")
                await speech.finish()
            except TextTooLong as error:
                speech.cancel()
                await self._error("text_too_long", str(error))

        self._spawn(speak())

    async def _add_speech_text(self, text: Any) -> None:
        if self._speech is None:
            await self._error("no_stream", "synthesize-chunk needs a synthesize-start first.")
            return
        try:
            await self._speech.add_text(text if isinstance(text, str) else "")
        except TextTooLong as error:
            self._speech.cancel()
            self._speech = None
            await self._error("text_too_long", str(error))

    def _finish_speech(self) -> None:
        speech, self._speech = self._speech, None
        if speech is not None:
            self._spawn(speech.finish())

    def _voice_name(self, voice: Any) -> str | None:
        """The voice a request names, else the first offline voice of its language, else the
        configured one."""
        if not isinstance(voice, dict):
            return None
        if isinstance(name := voice.get("name"), str) and name:
            return name
        if isinstance(language := voice.get("language"), str) and language:
            wanted = language.lower().replace("_", "-")
            for offered in offline_voices(self._settings.models_dir):
                if offered.language == wanted or offered.language.split("-")[0] == wanted:
                    return offered.name
            raise LookupError(
                f"There is no voice for the language {language!r} here; `parley voices` lists "
                "the voices and their languages."
            )
        return None

    # ---- the conversation agent ------------------------------------------------------------

    def _handle(self, data: dict[str, Any]) -> None:
        text = data.get("text")
        text = text if isinstance(text, str) else ""
        context = data.get("context")
        context = context if isinstance(context, dict) else None

        async def reply() -> None:
            first_chunk_ms = await self._agent.reply(text, context, self.write)
            outcome = "ok" if first_chunk_ms is not None else "not_handled"
            self._metrics.observe_wyoming("handle", first_chunk_ms, outcome=outcome)

        self._spawn(reply())

    # ---- writing and the connection's own work --------------------------------------------

    async def write(self, event: Event) -> None:
        async with self._write_lock:
            await asyncio.wait_for(
                async_write_event(event, self._writer),
                timeout=self._settings.server.max_send_stall_s,
            )

    async def _error(self, code: str, text: str) -> None:
        log.info("Wyoming client error (%s): %s", code, text)
        with contextlib.suppress(ConnectionError, TimeoutError):
            await self.write(Error(text=text, code=code).event())

    def _spawn(self, work: Any) -> None:
        async def guarded() -> None:
            try:
                await work
            except (ConnectionError, TimeoutError):
                log.info("a Wyoming client went away mid-answer")
                self._writer.close()
            except Exception:
                log.exception("a Wyoming request failed")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop(self) -> None:
        if self._speech is not None:
            self._speech.cancel()
        if self._transcription is not None:
            await self._transcription.close()
        # The client is gone: its work stops (a reply cut short keeps what was written).
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
