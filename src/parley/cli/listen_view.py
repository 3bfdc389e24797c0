"""What `parley listen` shows and does around a session: the terminal (or JSON lines), the
session's events as the user sees them (their words as heard, Parley's as they are played),
timers said again until the user speaks, and the wake word's gate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import typer

from parley.pipeline.events import (
    FinalTranscript,
    ListenerEvent,
    PartialTranscript,
    ReplyInterrupted,
    SentenceReady,
    SpeechStarted,
    TurnDone,
    TurnEvent,
)

if TYPE_CHECKING:
    from parley.config.settings import Settings
    from parley.pipeline.session import Session


class Screen:
    """What the user sees: their words as heard, and Parley's as they are spoken."""

    def __init__(self, as_json: bool) -> None:
        from rich.console import Console

        self._as_json = as_json
        self._console = Console(highlight=False, soft_wrap=True)
        self._state = ""

    def state(self, state: str) -> None:
        """What Parley is doing (waiting, listening, following up, thinking, speaking), shown
        when it changes."""
        if state != self._state:
            self._state = state
            self.show("state", state)

    def show(self, kind: str, text: str = "", **fields: Any) -> None:
        if self._as_json:
            typer.echo(json.dumps({"event": kind, "text": text, **fields}))
            return
        match kind:
            case "heard":
                self._console.print(f"[bold]you:[/bold] {text}")
            case "partial":
                self._console.print(f"[dim]  … {text}[/dim]")
            case "said":
                self._console.print(f"[cyan]parley:[/cyan] {text}")
            case "interrupted":
                self._console.print("[dim]  (interrupted)[/dim]")
            case "timer":
                self._console.print(f"[bold yellow]⏰ {text}[/bold yellow]")
            case "status":
                self._console.print(f"[dim]{text}[/dim]")


class ListenView:
    """A session's events on the screen: each sentence shown when its audio starts playing,
    the state as it changes, and the wake word's gate told what was heard and played."""

    def __init__(self, screen: Screen) -> None:
        self._screen = screen
        self.heard_speech = asyncio.Event()  # set whenever the user starts to speak
        self.speaker: Any = None  # the loudspeaker, once open
        self.waking: Waking | None = None
        self._sentences: dict[tuple[int, int], str] = {}
        self._played: set[asyncio.Task[None]] = set()

    def sentence_heard(self, turn_id: int, index: int) -> None:
        if (text := self._sentences.pop((turn_id, index), None)) is not None:
            self._screen.state("speaking")
            self._screen.show("said", text, turn_id=turn_id)

    def observe(self, event: ListenerEvent | TurnEvent) -> None:
        waking = self.waking
        match event:
            case SpeechStarted():
                self.heard_speech.set()
                if waking is not None:
                    waking.gate.on_speech(time.monotonic())
            case PartialTranscript(text=text):
                self._screen.show("partial", text)
            case FinalTranscript(text=text) if text:
                self._screen.show("heard", text)
                self._screen.state("thinking")
                if waking is not None:
                    waking.gate.on_words(text, wake_phrase=waking.detector.phrase)
            case SentenceReady(turn_id=turn_id, index=index, text=text):
                self._sentences[(turn_id, index)] = text
            case ReplyInterrupted(turn_id=turn_id, heard_text=heard):
                self._screen.show("interrupted", heard, turn_id=turn_id)
            case TurnDone(turn_id=turn_id, was_cancelled=False, heard_text=reply):
                task = asyncio.create_task(self._announce_played(turn_id, reply))
                self._played.add(task)
                task.add_done_callback(self._played.discard)

    async def _announce_played(self, turn_id: int, reply: str) -> None:
        await self.speaker.drain()
        self._screen.show("played", turn_id=turn_id)
        if self.waking is not None:
            self.waking.gate.on_reply_played(reply, time.monotonic())
            self._screen.state(self.waking.gate.state.value)
        else:
            self._screen.state("listening")


class Ringer:
    """A timer gone off, said through the loudspeaker again and again (every ``RING_EVERY_S``,
    ``RINGS`` times at most) until the user speaks: the kitchen may be noisy, the user away."""

    RINGS = 3
    RING_EVERY_S = 12.0

    def __init__(self, session: Session, screen: Screen, heard_speech: asyncio.Event) -> None:
        self._session = session
        self._screen = screen
        self._heard_speech = heard_speech
        self._rings: set[asyncio.Task[None]] = set()

    async def tell(self, timer: Any, words: str) -> bool:
        self._screen.show("timer", words, timer_id=timer.id)
        task = asyncio.create_task(self._ring(words))
        self._rings.add(task)
        task.add_done_callback(self._rings.discard)
        return True

    async def _ring(self, words: str) -> None:
        for _ in range(self.RINGS):
            self._heard_speech.clear()
            await self._session.announce(words)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard_speech.wait(), timeout=self.RING_EVERY_S)
                return  # the user answered (or said stop over it): it has been heard


class Waking:
    """`--wake-word`: the microphone's frames through the wake word model and the gate
    (pipeline.wake_gate), with the chime and the state shown as it changes."""

    def __init__(self, settings: Settings, screen: Screen, speaker: Any) -> None:
        from parley.audio.cues import listening_chime
        from parley.models.wake_word import WakeWord
        from parley.pipeline.wake_gate import WakeGate

        devices = settings.devices
        assert devices.wake_word is not None
        self.detector = WakeWord(devices.wake_word)
        self.gate = WakeGate(follow_up_s=devices.follow_up_s)
        self._gate_state: Any = None
        self._screen = screen
        self._speaker = speaker
        self._chime = (
            listening_chime(settings.audio.output_sample_rate_hz)
            if devices.wake_cue == "chime"
            else None
        )

    async def gated(self, frames: AsyncIterator[Any], session: Session) -> AsyncIterator[Any]:
        from parley.pipeline.wake_gate import WakeState

        self._show()
        async for frame in frames:
            is_speaking = self._speaker.is_sounding
            # Heard while waiting, and over Parley's own voice: the name stops a reply.
            woken = (self.gate.state is WakeState.WAITING or is_speaking) and self.detector.hears(
                frame.samples
            )
            admitted = self.gate.admit(
                frame,
                is_woken=woken,
                is_parley_speaking=is_speaking,
                is_busy=session.is_busy,
                now_s=time.monotonic(),
            )
            if woken:
                self._screen.show("woken", self.detector.phrase)
                session.hear_wake_word()  # over a reply, it stops it
                if not is_speaking and self._chime is not None:
                    self._speaker.cue(self._chime)
            self._show()
            yield admitted

    def _show(self) -> None:
        # Only the gate's own changes: "thinking" and "speaking" are shown by the turn.
        if self.gate.state is not self._gate_state:
            self._gate_state = self.gate.state
            self._screen.state(self.gate.state.value)
