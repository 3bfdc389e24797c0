"""`parley serve`, `parley login` and `parley bench`: the server, signing in to it, measuring it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parley.cli.app import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    ProfileOption,
    app,
    guarded,
    settings_for,
)
from parley.errors import ConfigError

if TYPE_CHECKING:
    from parley.config.settings import Settings


@app.command()
@guarded
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
    wyoming: Annotated[
        str | None,
        typer.Option(
            "--wyoming",
            help="Also serve Home Assistant's Wyoming protocol (speech-to-text, text-to-speech "
            "and conversation agent) on tcp://HOST:PORT, e.g. tcp://127.0.0.1:10700.",
        ),
    ] = None,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: sessions, memory and models; models: only the models' OpenAI-compatible "
            "routes (transcriptions, speech, chat), for the workers of a cluster.",
        ),
    ] = "all",
) -> None:
    """Serve the OpenAI-compatible realtime WebSocket and HTTP API."""
    import uvicorn

    from parley.config.settings import load_settings
    from parley.models.loaded import Backends
    from parley.server.app import create_app, uvicorn_options
    from parley.server.auth import load_or_create_api_key
    from parley.server.guard import is_loopback_host
    from parley.server.state import state_of

    if role not in ("all", "models"):
        raise ConfigError(f"--role is all or models, not {role!r}.")
    settings = settings_for(config, data_dir, profile)
    bind_host = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    if not is_loopback_host(bind_host) and not expose:
        raise ConfigError(
            f"Refusing to bind {bind_host}: that exposes Parley beyond this machine. "
            "Add --expose if you mean it."
        )
    if not is_loopback_host(bind_host):
        typer.echo(f"warning: Parley is reachable from the network on {bind_host}", err=True)
    settings = _with_wyoming(settings, wyoming, expose=expose)
    api_key = load_or_create_api_key(settings)
    typer.echo("loading models…", err=True)
    backends = Backends.load(settings)
    config_path = config or (Path(named) if (named := os.environ.get("PARLEY_CONFIG")) else None)
    server_app = create_app(
        settings,
        api_key=api_key,
        backends=backends,
        bind_host=bind_host,
        config_path=config_path,
        # --wyoming holds across reloads, as --host and --port do.
        reload_settings=lambda: _with_wyoming(
            load_settings(config_file=config_path, profile=profile, data_dir=data_dir),
            wyoming,
            expose=expose,
        ),
        role="models" if role == "models" else "all",
    )
    if config_path is not None:
        typer.echo(f"watching {config_path}: edits apply from the next turn", err=True)
    base_url = f"http://{_shown_host(bind_host)}:{bind_port}/"
    if role == "models":
        typer.echo(f"Parley's models are served on {base_url}v1", err=True)
        uvicorn.run(server_app, host=bind_host, port=bind_port, **uvicorn_options(settings))
        return
    typer.echo(f"Parley is listening on {base_url}", err=True)
    if settings.wyoming.uri is not None:
        typer.echo(
            f"Wyoming (Home Assistant) on {settings.wyoming.uri}: in Home Assistant, Settings → "
            "Devices & services → Add integration → Wyoming Protocol, with this host and port",
            err=True,
        )
    # A one-time code, never the API key: the address ends up in browser history.
    login_code = state_of(server_app).authenticator.mint_login_code()
    typer.echo(f"Open {base_url}?login={login_code}", err=True)
    typer.echo(
        f"(the code works once, for 10 minutes; `parley login` prints a new one. "
        f"API key file: {settings.data_dir / 'api_key'})",
        err=True,
    )
    uvicorn.run(server_app, host=bind_host, port=bind_port, **uvicorn_options(settings))


def _with_wyoming(settings: Settings, uri: str | None, *, expose: bool) -> Settings:
    """The settings with --wyoming's address, checked like --host: loopback unless --expose."""
    from parley.config.service_sections import host_port
    from parley.server.guard import is_loopback_host

    if uri is not None:
        try:
            host_port(uri)
        except ValueError as error:
            raise ConfigError(f"--wyoming: {error}") from None
        settings = settings.model_copy(
            update={"wyoming": settings.wyoming.model_copy(update={"uri": uri})}
        )
    if settings.wyoming.uri is not None:
        host, _port = host_port(settings.wyoming.uri)
        if not is_loopback_host(host) and not expose:
            raise ConfigError(
                f"Refusing to serve Wyoming on {host}: Wyoming has no credentials, so anyone who "
                "can reach the port could use Parley. Add --expose if you mean it, and list Home "
                "Assistant's address in wyoming.allowed_clients."
            )
    return settings


@app.command()
@guarded
def login(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Print a one-time address that signs a browser in to the server of this data directory."""
    from parley.server.auth import authenticator_for, load_or_create_api_key

    settings = settings_for(config, data_dir, profile)
    authenticator = authenticator_for(settings, load_or_create_api_key(settings))
    code = authenticator.mint_login_code()
    typer.echo(f"http://{_shown_host(settings.server.host)}:{settings.server.port}/?login={code}")
    typer.echo("(works once, for 10 minutes)", err=True)


@app.command()
@guarded
def bench(
    audio_dir: Annotated[
        Path | None,
        typer.Option("--audio-dir", help="Prompts: WAV files, each with a .txt of its words."),
    ] = None,
    real_speech: Annotated[
        bool,
        typer.Option(
            "--real-speech",
            help="Prompts: recorded human speech with transcripts (fetched once from PyPI's "
            "pocketsphinx source, public domain and BSD-licensed).",
        ),
    ] = False,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Passes over the prompts.")] = 1,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Turns run first and reported apart.")
    ] = 1,
    interruptions: Annotated[
        int, typer.Option("--interruptions", min=0, help="Barge-in trials.")
    ] = 3,
    is_running_trials: Annotated[
        bool,
        typer.Option(
            "--trials/--no-trials",
            help="Also judge memory's relevance and premature ends (a few turns more).",
        ),
    ] = True,
    echo_trials: Annotated[
        int,
        typer.Option(
            "--echo-trials",
            min=0,
            help="With --trials: replies in a simulated room with echo, of each kind (spoken "
            "over or only acknowledged) with echo cancellation on and off; 0: none.",
        ),
    ] = 2,
    pause_questions: Annotated[
        int,
        typer.Option(
            "--pauses", min=1, max=4, help="With --trials: questions spoken with a pause in them."
        ),
    ] = 4,
    as_json: JsonOption = False,
    as_markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the tables as markdown, with the CPU and date."),
    ] = False,
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
    transport: Annotated[
        str,
        typer.Option(
            "--transport",
            help="With --server: websocket (WS /v1/realtime) or webrtc (POST /v1/realtime/calls).",
        ),
    ] = "websocket",
    wyoming: Annotated[
        list[str] | None,
        typer.Option(
            "--wyoming",
            help="Measure Wyoming servers instead (tcp://HOST:PORT, repeatable: Parley's and "
            "others', one after another): speech-to-text, text-to-speech and agent, as Home "
            "Assistant uses them.",
        ),
    ] = None,
    is_timing_drafts: Annotated[
        bool,
        typer.Option(
            "--drafts",
            help="Time the embedded LLMs instead: each alone and the 1.5B with speculative "
            "drafts (first token, first piece, tokens/s, share of guesses kept).",
        ),
    ] = False,
    wake_trial: Annotated[
        str | None,
        typer.Option(
            "--wake-trial",
            help="Measure this wake word instead (okay_nabu, hey_mycroft, alexa, hey_jarvis): "
            "detection, false wakes per hour of other speech, delay and CPU.",
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Measure voice-to-voice latency over spoken prompts, through the live pipeline."""
    from rich.console import Console

    from parley.bench import run as benchmark
    from parley.bench.report_text import format_table, to_json

    settings = settings_for(config, data_dir, profile)
    console = Console(stderr=True)
    if real_speech:
        from parley.bench.real_speech import real_speech_dir

        if audio_dir is not None:
            raise ConfigError("--real-speech and --audio-dir both name the prompts: pick one.")
        with console.status("fetching recorded speech…"):
            audio_dir = real_speech_dir(settings.data_dir)
    if wyoming:
        from parley.cli.bench_trials import bench_wyoming

        bench_wyoming(settings, wyoming, audio_dir, runs=runs, as_json=as_json)
        return
    if wake_trial is not None:
        from parley.cli.bench_trials import bench_wake_word

        bench_wake_word(settings, wake_trial, as_json=as_json)
        return
    if is_timing_drafts:
        from parley.bench.draft_trial import format_draft_table, run_draft_trial

        drafts = run_draft_trial(settings)
        typer.echo(json.dumps(drafts, indent=2) if as_json else format_draft_table(drafts))
        return
    if transport not in ("websocket", "webrtc"):
        raise ConfigError(f"--transport is websocket or webrtc, not {transport!r}.")
    if sessions is not None:
        from parley.bench.client import format_load_table, run_load_bench

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
            from parley.bench.client import run_server_bench

            report = run_server_bench(
                settings,
                server_url=server,
                audio_dir=audio_dir,
                runs=runs,
                warmup_turns=warmup,
                transport="webrtc" if transport == "webrtc" else "websocket",
                progress=lambda message: status.update(message),
            )
        else:
            report = benchmark.run_bench(
                settings,
                audio_dir=audio_dir,
                runs=runs,
                warmup_turns=warmup,
                interruptions=interruptions,
                is_running_trials=is_running_trials,
                echo_trials=echo_trials,
                pause_questions=pause_questions,
                progress=lambda message: status.update(message),
            )
    summary = report.summary()
    if plot_path is not None:
        from parley.bench.plot import plot

        plot(report, plot_path)
        console.print(f"latency plot written to {plot_path}")
    if as_markdown:
        import datetime

        from parley.bench.report_text import format_markdown

        typer.echo(format_markdown(summary, date=datetime.date.today().isoformat()))
        return
    typer.echo(to_json(summary) if as_json else format_table(summary))


def _session_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigError(f"--sessions takes counts like 1,2,4,8; got {text!r}.")
    return counts


def _shown_host(host: str) -> str:
    """An address a browser on this machine can open, for a server bound to ``host``."""
    return "127.0.0.1" if host in {"0.0.0.0", "::"} else host
