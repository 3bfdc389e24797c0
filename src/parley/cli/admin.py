"""`parley models install`, `doctor`, `config show`, `tools` and `mcp`: setting Parley up,
checking it, and its tools."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from parley.cli.app import (
    ConfigOption,
    DataDirOption,
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
    from parley.config import Settings


@models_app.command("install")
@guarded
def models_install(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Assemble the embedded models into the data directory (skips what is there)."""
    from parley.embedded_models import assemble

    settings = settings_for(config, data_dir)
    for name, state in assemble(settings.models_dir).items():
        typer.echo(f"{name}: {state}")
    typer.echo(f"models are in {settings.models_dir}")


@app.command()
@guarded
def doctor(
    config: ConfigOption = None, data_dir: DataDirOption = None, profile: ProfileOption = None
) -> None:
    """Check the models, data directory, system tools and config; say how to fix what is missing."""
    from rich.console import Console
    from rich.table import Table

    from parley.embedded_models import status

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
    Console().print(table)
    if problems:
        typer.echo(
            f"{problems} problem(s) found; the detail column says how to fix each.", err=True
        )
        raise typer.Exit(1)


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
    from parley.builtin_tools import make_builtin_server
    from parley.memory.recall import MemoryRecall
    from parley.tools import ToolHub

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
    from parley.mcp_server import make_parley_mcp_server
    from parley.memory.embedding import MiniLmEmbedder
    from parley.memory.recall import MemoryRecall

    settings = settings_for(config, data_dir)
    try:
        embedder: Any = MiniLmEmbedder()
    except ParleyError:
        embedder = None
    llm = None
    if with_llm:
        from parley.backends import make_llm

        llm = make_llm(settings.llm, models_dir=settings.models_dir)
    with opened_store(settings) as store:
        make_parley_mcp_server(store, MemoryRecall(store, embedder), llm).run("stdio")
