"""`parley eval`: how well Parley chooses its tools, on labelled requests."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

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


@app.command("eval")
@guarded
def evaluate(
    with_time_server: Annotated[
        bool,
        typer.Option(
            "--time-server",
            help="Also offer mcp-server-time's tools, so conversions between zones are judged.",
        ),
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Tool choice on the labelled requests (and on a held-out set): which tool, or none."""
    from parley.bench.tool_choice import evaluate_tool_choice, format_report

    settings = settings_for(config, data_dir, profile)
    reports = asyncio.run(evaluate_tool_choice(settings, with_time_server=with_time_server))
    if as_json:
        typer.echo(json.dumps({name: r.as_dict() for name, r in reports.items()}, indent=2))
        return
    for name, report in reports.items():
        typer.echo(f"{name} set:")
        typer.echo(format_report(report))
