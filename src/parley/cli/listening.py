"""`parley listen` and `parley devices`: hands-free conversation through this machine's own
microphone and loudspeaker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from parley.cli.app import (
    ConfigOption,
    ConversationOption,
    DataDirOption,
    JsonOption,
    ProfileOption,
    app,
    guarded,
    settings_for,
)
from parley.errors import ConfigError
from parley.models.wake_word import WAKE_WORDS

if TYPE_CHECKING:
    from parley.config.settings import Settings
    from parley.pipeline.session import Session


@app.command()
@guarded
def devices(as_json: JsonOption = False) -> None:
    """List the sound devices `parley listen` can use."""
    from dataclasses import asdict

    from parley.audio.devices import list_devices

    found = list_devices()
    if as_json:
        typer.echo(json.dumps([asdict(device) for device in found], indent=2))
        return
    for device in found:
        marks = ("in " if device.is_default_input else "") + (
            "out" if device.is_default_output else ""
        )
        typer.echo(
            f"{device.index:>3}  {device.name:<40} in {device.inputs:>2}  out {device.outputs:>2}"
            f"  {device.default_rate_hz:>7.0f} Hz  {('default ' + marks) if marks else ''}"
        )


@app.command()
@guarded
def listen(
    input_device: Annotated[
        str | None, typer.Option("--input", help="Microphone: a name, part of one, or an index.")
    ] = None,
    output_device: Annotated[
        str | None, typer.Option("--output", help="Loudspeaker: a name, part of one, or an index.")
    ] = None,
    echo_cancellation: Annotated[
        bool | None,
        typer.Option(
            "--echo-cancellation/--no-echo-cancellation",
            help="Remove Parley's own voice from the microphone (else devices.echo_cancellation).",
        ),
    ] = None,
    push_to_talk: Annotated[
        bool,
        typer.Option("--push-to-talk", help="Hold a key (Space) to talk; else hands-free."),
    ] = False,
    wake_word: Annotated[
        str | None,
        typer.Option(
            "--wake-word",
            help="Wait for this word before listening: okay_nabu, hey_mycroft, alexa or "
            "hey_jarvis (else devices.wake_word).",
        ),
    ] = None,
    follow_up_s: Annotated[
        float | None,
        typer.Option(
            "--follow-up", help="With a wake word: seconds after a reply that need no wake word."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event, for scripts.")
    ] = False,
    conversation: ConversationOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Talk with Parley hands-free through this machine's microphone and speakers; Ctrl-C quits."""
    settings = settings_for(config, data_dir, profile)
    devices_config = settings.devices.model_copy(
        update={
            key: value
            for key, value in {
                "input": input_device,
                "output": output_device,
                "echo_cancellation": None
                if echo_cancellation is None
                else ("webrtc" if echo_cancellation else "off"),
                "wake_word": wake_word,
                "follow_up_s": follow_up_s,
            }.items()
            if value is not None
        }
    )
    if wake_word is not None and wake_word not in WAKE_WORDS:
        raise ConfigError(
            f"There is no wake word {wake_word!r}; Parley has {', '.join(sorted(WAKE_WORDS))}."
        )
    settings = settings.model_copy(update={"devices": devices_config})
    asyncio.run(_listen(settings, conversation, _Screen(as_json), push_to_talk))


class _Screen:
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


_RELEASE_TAIL_S = 0.3


async def _listen(
    settings: Settings, conversation: str | None, screen: _Screen, push_to_talk: bool
) -> None:
    from parley.audio.push_to_talk import key_held_in_terminal

    with contextlib.ExitStack() as stack:
        key = stack.enter_context(key_held_in_terminal()) if push_to_talk else None
        if key is not None:
            screen.show("status", "push to talk: hold Space (or any key) while you speak")

        def is_key_up() -> bool:
            # Frames reach Parley a little after they are captured (the sound server's and the
            # device's buffers): what was said just before the key went up is still on its
            # way, and is kept for _RELEASE_TAIL_S rather than cut at the last word.
            if key is None:
                return False
            now_s = time.monotonic()
            return not (key.is_held(now_s) or key.is_held(now_s - _RELEASE_TAIL_S))

        await _converse(settings, conversation, screen, is_key_up)


async def _converse(
    settings: Settings,
    conversation: str | None,
    screen: _Screen,
    is_key_up: Callable[[], bool],
) -> None:
    from parley.audio.devices import Loudspeaker, Microphone
    from parley.audio.echo import EchoCanceller
    from parley.ops.log_format import current_session
    from parley.pipeline.events import (
        FinalTranscript,
        PartialTranscript,
        ReplyInterrupted,
        SentenceReady,
        SpeechStarted,
        TurnDone,
    )
    from parley.pipeline.runtime import Runtime

    devices = settings.devices
    echo = (
        EchoCanceller(
            capture_rate_hz=16_000,
            render_rate_hz=settings.audio.output_sample_rate_hz,
            fixed_delay_ms=devices.echo_delay_ms,
        )
        if devices.echo_cancellation == "webrtc"
        else None
    )
    sentences: dict[tuple[int, int], str] = {}

    def sentence_heard(turn_id: int, index: int) -> None:
        if (text := sentences.pop((turn_id, index), None)) is not None:
            screen.state("speaking")
            screen.show("said", text, turn_id=turn_id)

    speaker = Loudspeaker(
        sample_rate_hz=settings.audio.output_sample_rate_hz,
        device=devices.output,
        echo=echo,
        on_sentence_heard=sentence_heard,
    )
    microphone = Microphone(
        frame_ms=settings.audio.frame_ms,
        device=devices.input,
        echo=echo,
        # Without echo cancellation Parley does not listen while it speaks; with push to talk,
        # only while the key is held.
        is_muted=lambda: (echo is None and speaker.is_sounding) or is_key_up(),
    )
    played: set[asyncio.Task[None]] = set()

    async def announce_played(turn_id: int, reply: str) -> None:
        await speaker.drain()
        screen.show("played", turn_id=turn_id)
        if waking is not None:
            waking.gate.on_reply_played(reply, time.monotonic())
            screen.state(waking.gate.state.value)
        else:
            screen.state("listening")

    heard_speech = asyncio.Event()  # set whenever the user starts to speak
    waking = _Waking(settings, screen, speaker) if devices.wake_word else None

    def observe(event: Any) -> None:
        match event:
            case SpeechStarted():
                heard_speech.set()
                if waking is not None:
                    waking.gate.on_speech(time.monotonic())
            case PartialTranscript(text=text):
                screen.show("partial", text)
            case FinalTranscript(text=text) if text:
                screen.show("heard", text)
                screen.state("thinking")
                if waking is not None:
                    waking.gate.on_words(text, wake_phrase=waking.detector.phrase)
            case SentenceReady(turn_id=turn_id, index=index, text=text):
                sentences[(turn_id, index)] = text
            case ReplyInterrupted(turn_id=turn_id, heard_text=heard):
                screen.show("interrupted", heard, turn_id=turn_id)
            case TurnDone(turn_id=turn_id, was_cancelled=False, heard_text=reply):
                task = asyncio.create_task(announce_played(turn_id, reply))
                played.add(task)
                task.add_done_callback(played.discard)

    async with Runtime.open(settings) as runtime:
        speaker.open()
        try:
            microphone.open()
            session = runtime.session(sink=speaker, conversation_id=conversation, observer=observe)
            current_session.set(session.conversation_id)
            screen.show(
                "status",
                "echo cancellation: WebRTC AEC3; talk over Parley to interrupt it"
                if echo is not None
                else "echo cancellation off: Parley does not listen while it speaks "
                "(use headphones to talk over it)",
                echo_cancellation=devices.echo_cancellation,
            )
            screen.show(
                "listening",
                f"listening (conversation {session.conversation_id}); Ctrl-C quits",
                conversation_id=session.conversation_id,
            )
            stop_ringing = await runtime.timers.subscribe(
                session.user_id, _Ringer(session, screen, heard_speech).tell
            )
            frames = microphone.frames()
            if waking is not None:
                frames = waking.gated(frames, session)
            listening = asyncio.create_task(session.listen(frames))
            quit_requested = asyncio.Event()
            loop = asyncio.get_running_loop()
            for quit_signal in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(quit_signal, quit_requested.set)
            quitting = asyncio.create_task(quit_requested.wait())
            await asyncio.wait({listening, quitting}, return_when=asyncio.FIRST_COMPLETED)
            # Quit: a reply in flight is stored as far as it was heard.
            session.cancel_reply("client_cancelled")
            listening.cancel()
            quitting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            stop_ringing()
            await session.wait_for_replies()
        finally:
            microphone.close()
            speaker.close()
    screen.show("status", "bye")


class _Ringer:
    """A timer gone off, said through the loudspeaker again and again (every ``RING_EVERY_S``,
    ``RINGS`` times at most) until the user speaks: the kitchen may be noisy, the user away."""

    RINGS = 3
    RING_EVERY_S = 12.0

    def __init__(self, session: Session, screen: _Screen, heard_speech: asyncio.Event) -> None:
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


class _Waking:
    """`--wake-word`: the microphone's frames through the wake word model and the gate
    (pipeline.wake_gate), with the chime and the state shown as it changes."""

    def __init__(self, settings: Settings, screen: _Screen, speaker: Any) -> None:
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
                if is_speaking:
                    session.interrupt()
                elif self._chime is not None:
                    self._speaker.cue(self._chime)
            self._show()
            yield admitted

    def _show(self) -> None:
        # Only the gate's own changes: "thinking" and "speaking" are shown by the turn.
        if self.gate.state is not self._gate_state:
            self._gate_state = self.gate.state
            self._screen.state(self.gate.state.value)
