"""`parley monitor`'s dashboard from one snapshot: every figure the server sent is shown, and
what is absent is left out rather than shown empty."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from parley.cli.monitor import render


def _shown(snapshot: dict[str, Any]) -> str:
    console = Console(record=True, width=160)
    console.print(render(snapshot, "http://127.0.0.1:8765"))
    return console.export_text()


def _snapshot(**extra: Any) -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "uptime_s": 42.0,
        "window_s": 300,
        "sessions": 1,
        "turns": 3,
        "cancelled_turns": 1,
        "machine": {"cpu": "AMD EPYC", "cores": 2},
        "stages": {
            "voice_to_voice_ms": {"median": 640.0, "p90": 910.0, "n": 3, "latest": [600, 700]},
            "llm_tokens_per_s": {"median": 20.5, "p90": 22.0, "n": 3, "latest": [20]},
        },
        **extra,
    }


def test_the_dashboard_shows_stages_rates_tools_wyoming_and_alerts() -> None:
    shown = _shown(
        _snapshot(
            tools={"get_time": {"calls": 4, "errors": 1, "median": 12.0, "p90": 30.0}},
            wyoming={"parley-asr": {"requests": 2, "failed": 0, "median": None, "p90": None}},
            resources={
                "cpu_percent": 55.0,
                "rss_mb": 1800.0,
                "disk_free_mb": 20480.0,
                "data_dir": "/data",
            },  # fmt: skip
            tool_servers=[{"name": "time", "is_up": False}],
            backup_age_h=3.25,
            alerts=[{"name": "slow_replies", "message": "voice to voice p90 over 1500 ms"}],
            advice=[{"rule": "threads", "text": "use 2 threads"}],
            config={"needs_restart": ["stt.model"], "path": "/etc/parley.yaml"},
        )
    )
    assert "AMD EPYC, 2 cores" in shown and "3 turn(s) in the last 5 min, 1 cut" in shown
    assert "voice to voice" in shown and "640" in shown and "910" in shown
    assert "LLM decode" in shown and "20.5 tokens/s" in shown
    assert "get_time" in shown and "parley-asr" in shown
    assert "CPU 55 % · memory 1800 MB · disk free 20.0 GB (/data)" in shown
    assert "time DOWN" in shown and "newest backup 3.2 h old" in shown
    assert "ALERT slow_replies: voice to voice p90 over 1500 ms" in shown
    assert "advice (threads): use 2 threads" in shown
    assert "stt.model changed in /etc/parley.yaml; restart the server to apply" in shown


def test_a_quiet_server_shows_no_alerts_and_no_empty_tables() -> None:
    shown = _shown(_snapshot())
    assert "no alerts" in shown
    assert "Tool calls" not in shown and "Wyoming" not in shown and "ALERT" not in shown
