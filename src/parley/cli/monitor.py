"""`parley monitor`: a running server's health as a live terminal dashboard (or one snapshot
with --once, for scripts), from the same GET /v1/monitor the page's Health panel reads."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

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
from parley.errors import BackendError

# The stages as a turn goes through them, with the names the dashboard shows.
_STAGE_NAMES = {
    "voice_to_voice_ms": "voice to voice",
    "endpoint_ms": "end of turn",
    "stt_ms": "transcript wait",
    "llm_ttft_ms": "LLM first token",
    "first_sentence_ms": "first piece",
    "tts_first_audio_ms": "TTS first audio",
    "interruption_ms": "interruption",
}
_RATE_NAMES = {
    "llm_tokens_per_s": ("LLM decode", "tokens/s"),
    "stt_rtf": ("STT real-time factor", "x"),
    "tts_rtf": ("TTS real-time factor", "x"),
}
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[round((value - low) / span * (len(_BARS) - 1))] for value in values)


def fetch_snapshot(server_url: str, api_key: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    url = server_url.rstrip("/") + "/v1/monitor"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            snapshot: dict[str, Any] = json.loads(response.read())
            return snapshot
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise BackendError(
                f"{server_url} refused the API key. Use the server's own data directory "
                "(--data-dir) or set PARLEY_API_KEY."
            ) from None
        raise BackendError(f"{url} answered {error.code}: {error.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError) as error:
        raise BackendError(
            f"Cannot reach Parley at {server_url} ({error}). Start it with `parley serve`, or "
            "pass --server with its address."
        ) from None


def render(snapshot: dict[str, Any], server_url: str) -> Any:
    """The dashboard for one snapshot, as a rich renderable."""
    from rich.console import Group
    from rich.text import Text

    machine = snapshot.get("machine", {})
    minutes = snapshot["window_s"] / 60
    header = Text.assemble(
        ("Parley ", "bold"),
        f"{snapshot['version']} at {server_url} · up {snapshot['uptime_s']:.0f} s · "
        f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores · "
        f"{snapshot['sessions']} session(s) · {snapshot['turns']} turn(s) in the last "
        f"{minutes:g} min, {snapshot['cancelled_turns']} cut",
    )
    return Group(
        header,
        *_stage_tables(snapshot.get("stages", {})),
        *_request_tables(snapshot),
        Text("\n".join(_resource_lines(snapshot))),
        *_warnings(snapshot),
    )


def _stage_tables(stages: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    latency = Table("stage", "median ms", "p90 ms", "turns", "recent", title="Latency")
    for key, name in _STAGE_NAMES.items():
        if (figures := stages.get(key)) is not None:
            latency.add_row(
                name,
                f"{figures['median']:.0f}",
                f"{figures['p90']:.0f}",
                str(figures["n"]),
                sparkline(figures["latest"]),
            )
    rates = Table("rate", "median", "p90", title="Speed")
    for key, (name, unit) in _RATE_NAMES.items():
        if (figures := stages.get(key)) is not None:
            rates.add_row(name, f"{figures['median']:g} {unit}", f"{figures['p90']:g} {unit}")
    return [latency, rates]


def _request_tables(snapshot: dict[str, Any]) -> list[Any]:
    """Tool calls and Wyoming requests, when there were any."""
    from rich.table import Table

    tables: list[Any] = []
    if tools := snapshot.get("tools"):
        table = Table("tool", "calls", "errors", "median ms", "p90 ms", title="Tool calls")
        for name, figures in tools.items():
            table.add_row(
                name,
                str(figures["calls"]),
                str(figures["errors"]),
                f"{figures.get('median', 0):.0f}",
                f"{figures.get('p90', 0):.0f}",
            )
        tables.append(table)
    if wyoming := snapshot.get("wyoming"):
        table = Table(
            "Wyoming", "requests", "failed", "first answer median ms", "p90 ms", title="Wyoming"
        )
        for program, figures in wyoming.items():
            median, p90 = figures.get("median"), figures.get("p90")
            table.add_row(
                program,
                str(figures["requests"]),
                str(figures["failed"]),
                "-" if median is None else f"{median:.0f}",
                "-" if p90 is None else f"{p90:.0f}",
            )
        tables.append(table)
    return tables


def _resource_lines(snapshot: dict[str, Any]) -> list[str]:
    lines = []
    if (resources := snapshot.get("resources")) is not None:
        lines.append(
            f"CPU {resources['cpu_percent']:.0f} % · memory {resources['rss_mb']:.0f} MB · "
            f"disk free {resources['disk_free_mb'] / 1024:.1f} GB ({resources['data_dir']})"
        )
    if servers := snapshot.get("tool_servers", []):
        lines.append(
            "tool servers: "
            + ", ".join(f"{s['name']} {'up' if s['is_up'] else 'DOWN'}" for s in servers)
        )
    if (age := snapshot.get("backup_age_h")) is not None:
        lines.append(f"newest backup {age:.1f} h old")
    return lines


def _warnings(snapshot: dict[str, Any]) -> list[Any]:
    """Alerts, advice, and a configuration edit that waits for a restart or was refused."""
    from rich.text import Text

    alerts = snapshot.get("alerts", [])
    parts: list[Any] = [
        Text("\n".join(f"ALERT {a['name']}: {a['message']}" for a in alerts), style="bold red")
        if alerts
        else Text("no alerts", style="green")
    ]
    for advice in snapshot.get("advice", []):
        parts.append(Text(f"advice ({advice['rule']}): {advice['text']}", style="yellow"))
    config = snapshot.get("config") or {}
    if config.get("needs_restart"):
        parts.append(
            Text(
                f"config: {', '.join(config['needs_restart'])} changed in {config['path']}; "
                "restart the server to apply",
                style="yellow",
            )
        )
    if config.get("last_error"):
        parts.append(Text(f"config edit refused: {config['last_error']}", style="red"))
    return parts


@app.command()
@guarded
def monitor(
    server: Annotated[
        str | None,
        typer.Option("--server", help="The server's address (default: the configured one)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    every_s: Annotated[
        float, typer.Option("--every", min=0.2, help="Seconds between refreshes.")
    ] = 2.0,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    profile: ProfileOption = None,
) -> None:
    """Watch a running server: latency by stage, speed, tools, resources, alerts and advice."""
    from rich.console import Console
    from rich.live import Live

    from parley.server.auth import existing_api_key

    settings = settings_for(config, data_dir, profile)
    server_url = server or f"http://{settings.server.host}:{settings.server.port}"
    api_key = existing_api_key(settings)
    if once or as_json:
        snapshot = fetch_snapshot(server_url, api_key)
        if as_json:
            typer.echo(json.dumps(snapshot, indent=2))
        else:
            Console(width=120).print(render(snapshot, server_url))
        return
    with Live(render(fetch_snapshot(server_url, api_key), server_url), auto_refresh=False) as live:
        while True:
            time.sleep(every_s)
            live.update(render(fetch_snapshot(server_url, api_key), server_url), refresh=True)
