"""`parley bench --wyoming` and `--wake-trial`: benches of one part, printed as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from parley.errors import ConfigError

if TYPE_CHECKING:
    from parley.config.settings import Settings


def bench_wyoming(
    settings: Settings, uris: list[str], audio_dir: Path | None, *, runs: int, as_json: bool
) -> None:
    from rich.console import Console

    from parley.bench.prompts import choose_prompts
    from parley.bench.wyoming_trial import format_wyoming_table, run_wyoming_bench
    from parley.config.service_sections import host_port
    from parley.models.factory import make_tts
    from parley.ops.machine import cpu_line, describe_cpu

    for uri in uris:
        try:
            host_port(uri)
        except ValueError as error:
            raise ConfigError(f"--wyoming: {error}") from None
    with Console(stderr=True).status("measuring Wyoming servers…"):
        # The prompts are spoken once by Parley's own voice (and espeak-ng), then cached.
        tts = make_tts(settings.tts, models_dir=settings.models_dir)
        prompts = choose_prompts(settings, audio_dir, tts)
        reports = run_wyoming_bench(uris, prompts, runs=runs)
    cpu = cpu_line(describe_cpu())
    if as_json:
        typer.echo(json.dumps({"cpu": cpu, "servers": reports}, indent=2))
    else:
        typer.echo(format_wyoming_table(reports, cpu))


def bench_wake_word(settings: Settings, name: str, *, as_json: bool) -> None:
    from rich.console import Console

    from parley.bench.wake_trial import format_wake_table, run_wake_trial
    from parley.models.factory import make_tts
    from parley.ops.machine import cpu_line, describe_cpu

    with Console(stderr=True).status("wake trial…"):
        report = run_wake_trial(name, make_tts(settings.tts, models_dir=settings.models_dir))
    cpu = cpu_line(describe_cpu())
    typer.echo(
        json.dumps({"cpu": cpu, **report}, indent=2) if as_json else format_wake_table(report, cpu)
    )
