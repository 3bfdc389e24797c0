"""`parley talk` and `parley chat`: one conversation through the live pipeline, from a file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
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
from parley.errors import ConfigError, NoSpeechError

if TYPE_CHECKING:
    from parley.config.settings import Settings
    from parley.pipeline.session import Session


@app.command()
@guarded
def talk(
    audio_in: Annotated[Path, typer.Argument(help="Spoken input: wav, flac, ogg or mp3.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the spoken reply (WAV).")
    ],
    as_json: JsonOption = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Feed the audio as fast as possible.")
    ] = False,
    conversation: ConversationOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Stream an audio file through the live pipeline, as a microphone would, and speak the reply."""
    settings = settings_for(config, data_dir, profile)
    result = asyncio.run(_talk(settings, audio_in, output, as_json, fast, conversation))
    if as_json:
        typer.echo(json.dumps(result, indent=2))


async def _talk(
    settings: Settings,
    audio_in: Path,
    output: Path,
    as_json: bool,
    fast: bool,
    conversation: str | None,
) -> dict[str, Any]:
    from parley.audio.pcm import decode_file, write_wav
    from parley.audio.virtual_devices import CollectingSink, frames_from_samples
    from parley.pipeline.events import FinalTranscript
    from parley.pipeline.runtime import Runtime

    samples = decode_file(audio_in)
    sink = CollectingSink()
    heard: list[str] = []  # every final transcript, replied to or not

    def observe(event: Any) -> None:
        if isinstance(event, FinalTranscript) and event.text:
            heard.append(event.text)
        if not as_json:
            _print_event(event)

    async with Runtime.open(settings) as runtime:
        session = runtime.session(sink=sink, conversation_id=conversation, observer=observe)

        def pipeline_is_busy() -> bool:
            # Live, a microphone keeps sending while Parley replies; fast, feeding stops with
            # the user.
            return session.is_busy if not fast else session.is_listening_busy

        frames = frames_from_samples(
            samples,
            frame_ms=settings.audio.frame_ms,
            is_realtime=not fast,
            trailing_silence_ms=settings.vad.end_silence_ms + 300,
            keep_going=pipeline_is_busy,
        )
        await session.listen(frames)
        await session.wait_for_replies()
    if not session.results:
        raise NoSpeechError(
            f"No speech was detected in {audio_in}. Check that it holds audible speech "
            f"(or lower vad.threshold, now {settings.vad.threshold})."
        )
    reply_audio = sink.audio()
    write_wav(output, reply_audio, settings.audio.output_sample_rate_hz)
    summary = _turns_json(session, reply_audio.size / settings.audio.output_sample_rate_hz)
    return {**summary, "transcript": " ".join(heard)}


@app.command()
@guarded
def chat(
    text: Annotated[str, typer.Argument(help="What you would have said.")],
    as_json: JsonOption = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also speak the reply to this WAV.")
    ] = None,
    conversation: ConversationOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """One turn from text; the reply streams to stdout as it is written."""
    if not text.strip():
        raise ConfigError("Nothing to say: give `parley chat` some text.")
    settings = settings_for(config, data_dir, profile)
    result = asyncio.run(_chat(settings, text.strip(), as_json, output, conversation))
    if as_json:
        typer.echo(json.dumps(result, indent=2))


async def _chat(
    settings: Settings, text: str, as_json: bool, output: Path | None, conversation: str | None
) -> dict[str, Any]:
    from parley.audio.pcm import write_wav
    from parley.audio.virtual_devices import CollectingSink
    from parley.pipeline.events import TextDelta
    from parley.pipeline.runtime import Runtime

    sink = CollectingSink()

    def show(event: Any) -> None:
        if isinstance(event, TextDelta):
            typer.echo(event.text, nl=False)

    async with Runtime.open(settings) as runtime:
        session = runtime.session(
            sink=sink, conversation_id=conversation, observer=None if as_json else show
        )
        await session.respond(text)
    if not as_json:
        typer.echo("")
    reply_audio = sink.audio()
    if output is not None:
        write_wav(output, reply_audio, settings.audio.output_sample_rate_hz)
    return _turns_json(session, reply_audio.size / settings.audio.output_sample_rate_hz)


def _print_event(event: Any) -> None:
    from parley.pipeline.events import (
        FinalTranscript,
        PartialTranscript,
        TextDelta,
        TurnDone,
        TurnStarted,
    )

    match event:
        case PartialTranscript(text=text):
            typer.echo(f"  … {text}", err=True)
        case FinalTranscript(text=text) if text:
            typer.echo(f"you: {text}")
        case TurnStarted():
            typer.echo("parley: ", nl=False)
        case TextDelta(text=text):
            typer.echo(text, nl=False)
        case TurnDone(was_cancelled=was_cancelled):
            typer.echo(" [interrupted]" if was_cancelled else "")


def _turns_json(session: Session, reply_audio_seconds: float) -> dict[str, Any]:
    results = session.results
    last = results[-1]
    return {
        "conversation_id": session.conversation_id,
        "transcript": " ".join(r.user_text for r in results),
        "reply_text": " ".join(r.heard_text for r in results),
        "reply_audio_seconds": round(reply_audio_seconds, 3),
        "metrics": last.figures.as_json(),
        "tool_calls": [call for r in results for call in r.tool_calls],
        "turns": [
            {
                "transcript": r.user_text,
                "reply_text": r.heard_text,
                "was_interrupted": r.was_cancelled,
                "metrics": r.figures.as_json(),
                "tool_calls": r.tool_calls,
            }
            for r in results
        ],
    }
