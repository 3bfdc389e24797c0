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
from parley.cli.listen_view import ListenView, Ringer, Screen, Waking
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
    from parley.audio.devices import resolve_device

    # A device named wrong is said at once, not after the seconds the models take to load.
    resolve_device(devices_config.input, "input")
    resolve_device(devices_config.output, "output")
    asyncio.run(_listen(settings, conversation, Screen(as_json), push_to_talk))


_RELEASE_TAIL_S = 0.3


async def _listen(
    settings: Settings, conversation: str | None, screen: Screen, push_to_talk: bool
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
    screen: Screen,
    is_key_up: Callable[[], bool],
) -> None:
    from parley.audio.devices import Loudspeaker, Microphone
    from parley.audio.echo import EchoCanceller
    from parley.ops.log_format import current_session
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
    view = ListenView(screen)
    speaker = Loudspeaker(
        sample_rate_hz=settings.audio.output_sample_rate_hz,
        device=devices.output,
        echo=echo,
        on_sentence_heard=view.sentence_heard,
    )
    view.speaker = speaker
    if devices.wake_word:
        view.waking = Waking(settings, screen, speaker)
    microphone = Microphone(
        frame_ms=settings.audio.frame_ms,
        device=devices.input,
        echo=echo,
        # Without echo cancellation Parley does not listen while it speaks; with push to talk,
        # only while the key is held.
        is_muted=lambda: (echo is None and speaker.is_sounding) or is_key_up(),
    )
    async with Runtime.open(settings) as runtime:
        speaker.open()
        try:
            microphone.open()
            session = runtime.session(
                sink=speaker, conversation_id=conversation, observer=view.observe
            )
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
                session.user_id, Ringer(session, screen, view.heard_speech).tell
            )
            frames = microphone.frames()
            if view.waking is not None:
                frames = view.waking.gated(frames, session)
            await _until_quit(session, frames)
            stop_ringing()
            await session.wait_for_replies()
        finally:
            microphone.close()
            speaker.close()
    screen.show("status", "bye")


async def _until_quit(session: Session, frames: AsyncIterator[Any]) -> None:
    """Listen until the microphone ends or Ctrl-C (or SIGTERM) asks to quit; a reply in flight
    is then stored as far as it was heard."""
    listening = asyncio.create_task(session.listen(frames))
    quit_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for quit_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(quit_signal, quit_requested.set)
    quitting = asyncio.create_task(quit_requested.wait())
    await asyncio.wait({listening, quitting}, return_when=asyncio.FIRST_COMPLETED)
    session.cancel_reply("client_cancelled")
    listening.cancel()
    quitting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listening
