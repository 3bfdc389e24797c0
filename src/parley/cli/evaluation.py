"""`parley eval`: how well Parley chooses its tools, on labelled requests."""

from __future__ import annotations

import asyncio
import json
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

if TYPE_CHECKING:
    from parley.config.settings import Settings


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
    is_judging_answers: Annotated[
        bool,
        typer.Option(
            "--answers",
            help="Instead: speak 150 everyday questions in eight voices and judge the answers "
            "(right, asked again, misheard, wrong), in real time (~15 min).",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="With --answers: the first N questions.")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Tool choice on the labelled requests (and on a held-out set): which tool, or none;
    with --answers, whether spoken questions get right answers."""
    from parley.bench.tool_choice import evaluate_tool_choice, format_report

    settings = settings_for(config, data_dir, profile)
    if is_judging_answers:
        _judge_answers(settings, limit=limit, as_json=as_json)
        return
    reports = asyncio.run(evaluate_tool_choice(settings, with_time_server=with_time_server))
    if as_json:
        typer.echo(json.dumps({name: r.as_dict() for name, r in reports.items()}, indent=2))
        return
    for name, report in reports.items():
        typer.echo(f"{name} set:")
        typer.echo(format_report(report))


def _judge_answers(settings: Settings, *, limit: int | None, as_json: bool) -> None:
    from parley.bench.answers import AnsweredCase, evaluate_answers

    def show(case: AnsweredCase) -> None:
        typer.echo(f"[{case.verdict}] {case.voice}: {case.heard!r} -> {case.reply!r}", err=True)

    report = asyncio.run(evaluate_answers(settings, limit=limit, progress=show))
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.format())
