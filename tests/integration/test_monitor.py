"""`parley monitor` against a real server: its figures after real turns, an alert the test
provokes (exported in /metrics and logged once), and the shipped Prometheus rules and Grafana
dashboard naming only metrics that /metrics has."""

import asyncio
import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from parley.config.settings import AlertsConfig
from tests.conftest import REPO, RunningServer, ask_in_text, make_data_dir, running_server
from tests.integration.test_server_realtime import (
    collect_until,
    pcm24,
    realtime,
    silence,
    stream_audio,
)

DEPLOY = REPO / "deploy"


def get(server: RunningServer, path: str) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def snapshot(server: RunningServer) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(get(server, "/v1/monitor"))
    return loaded


def metric_families(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.MULTILINE))


def named_metrics(expression: str) -> set[str]:
    return set(re.findall(r"\b((?:parley|process)_[a-z0-9_]+)", expression))


def family_of(name: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", name)


@pytest.fixture(scope="module")
def alerting_server(backends, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # Any real server uses more than 1 MB, so this alert is raised at the first check.
    data_dir = make_data_dir(tmp_path_factory.mktemp("monitored"), models_dir)
    with running_server(
        backends, data_dir, alerts=AlertsConfig(max_memory_mb=1, check_every_s=0.2)
    ) as server:
        yield server


@pytest.mark.slow
async def test_monitor_shows_a_live_servers_turns_tools_and_alert(
    alerting_server: RunningServer,
    piper_speech: Callable[..., Path],
    parley_cli: Callable[..., subprocess.CompletedProcess[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = alerting_server
    async with realtime(server) as connection:
        feeding = asyncio.create_task(
            stream_audio(
                connection,
                np.concatenate([pcm24(piper_speech("What is the capital of France?")), silence(3)]),
            )
        )
        await collect_until(connection, lambda e: e.type == "response.done")
        feeding.cancel()
        await ask_in_text(connection, "What time is it right now?")
        await collect_until(connection, lambda e: e.type == "response.done")
    # response.done is sent as the turn is counted; then a few health checks run.
    await asyncio.sleep(0.5)

    shown = await asyncio.to_thread(
        parley_cli,
        "monitor",
        "--once",
        "--server",
        f"http://127.0.0.1:{server.port}",
        env={"PARLEY_API_KEY": server.api_key},
    )
    assert shown.returncode == 0, shown.stderr
    screen = shown.stdout
    for words in ("Latency", "voice to voice", "LLM first token", "LLM decode"):
        assert words in screen, screen
    assert "current_date_and_time" in screen  # the tool the time question called
    assert "ALERT memory_high" in screen and "alerts.max_memory_mb 1" in screen, screen

    figures = json.loads(
        (
            await asyncio.to_thread(
                parley_cli,
                "monitor",
                "--json",
                "--server",
                f"http://127.0.0.1:{server.port}",
                env={"PARLEY_API_KEY": server.api_key},
            )
        ).stdout
    )
    assert figures["turns"] == 2
    voice_to_voice = figures["stages"]["voice_to_voice_ms"]
    assert voice_to_voice["n"] == 1 and voice_to_voice["median"] > 0
    assert figures["tools"]["current_date_and_time"]["calls"] == 1
    # The alert this test set off; beside it only the machine's own CPU may be saturated (as it
    # is when another process keeps a core busy), which is no fault of the server's.
    names = [alert["name"] for alert in figures["alerts"]]
    assert "memory_high" in names and set(names) <= {"memory_high", "cpu_saturated"}, names
    assert figures["resources"]["rss_mb"] > 100

    exposition = get(server, "/metrics").decode()
    assert 'parley_alert{alert="memory_high"} 1.0' in exposition
    assert 'parley_alert{alert="disk_nearly_full"} 0.0' in exposition
    assert re.search(
        r'parley_tool_call_ms_count\{outcome="ok",tool="current_date_and_time"\} 1\.0', exposition
    )
    # Raised once, logged once, however many checks have run since.
    # (The first check runs as the server starts: in this test's setup.)
    records = [*caplog.get_records("setup"), *caplog.records]
    raised = [r for r in records if r.getMessage().startswith("alert raised: memory_high")]
    assert len(raised) == 1


def test_the_prometheus_rules_and_grafana_dashboard_name_only_real_metrics(
    alerting_server: RunningServer,
) -> None:
    families = metric_families(get(alerting_server, "/metrics").decode())
    rules = yaml.safe_load((DEPLOY / "prometheus" / "parley-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "parley-dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    expressions += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    named = set().union(*(named_metrics(expression) for expression in expressions))
    assert len(named) >= 8
    missing = sorted(name for name in named if not {name, family_of(name)} & families)
    assert missing == [], f"named in deploy/ but not in /metrics: {missing}"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool: `make test` installs it")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    rules_dir = DEPLOY / "prometheus"
    for command in (
        ["check", "rules", "parley-alerts.yml"],
        ["test", "rules", "parley-alerts.test.yml"],
    ):
        checked = subprocess.run(
            ["promtool", *command], cwd=rules_dir, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "SUCCESS" in checked.stdout
