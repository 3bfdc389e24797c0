"""Alerts judged from measured figures: each fires past its threshold and stays quiet below it."""

from parley.config.settings import AlertsConfig
from parley.ops.metrics import RecentFigures
from parley.pipeline.turn_figures import TurnFigures
from parley.server.health import ResourceSample, ToolServerState, judge_alerts

GIB = 2**30
# Read off a running `parley serve` on the 2-core AMD EPYC: 1.37 GB resident with every model
# loaded, the machine ~12 % busy between turns and 100 % during a reply, 60 GB free.
IDLE = ResourceSample(cpu_percent=12.0, rss_bytes=int(1.37 * 10**9), disk_free_bytes=60 * GIB)
REPLYING = ResourceSample(cpu_percent=100.0, rss_bytes=int(1.37 * 10**9), disk_free_bytes=60 * GIB)


def judge(summary=None, samples=(IDLE,), servers=(), backup_age_h=None, config=None):  # type: ignore[no-untyped-def]
    return {
        alert.name: alert.message
        for alert in judge_alerts(
            config or AlertsConfig(),
            summary=summary or {},
            samples=list(samples),
            tool_servers=list(servers),
            backup_age_h=backup_age_h,
            backup_every_h=24.0,
        )
    }


def summary_of(voice_to_voice_ms: list[float]) -> dict:  # type: ignore[type-arg]
    recent = RecentFigures()
    for value in voice_to_voice_ms:
        recent.add_turn(TurnFigures(voice_to_voice_ms=value), was_cancelled=False)
    return recent.summary(600)


def test_a_healthy_server_raises_nothing() -> None:
    # The bench's last turns on this machine (ms): median ~620, p90 ~890.
    measured = [598, 622, 634, 654, 886, 610, 571, 702, 640, 615]
    assert judge(summary_of(measured), samples=(IDLE, REPLYING, IDLE)) == {}


def test_slow_voice_to_voice_needs_enough_turns_and_a_slow_p90() -> None:
    slow = [1650.0, 1720.0, 1810.0]
    assert judge(summary_of(slow[:2])) == {}  # two turns are not a trend (min_turns 3)
    alerts = judge(summary_of(slow))
    assert "1810 ms over the last 3 turns" in alerts["voice_to_voice_slow"]


def test_memory_cpu_and_disk() -> None:
    assert "memory_high" in judge(config=AlertsConfig(max_memory_mb=1024))
    assert "memory_high" not in judge()
    # One busy check is a reply being spoken; three in a row is a saturated machine.
    assert "cpu_saturated" not in judge(samples=(IDLE, REPLYING, REPLYING))
    assert "cpu_saturated" in judge(samples=(REPLYING, REPLYING, REPLYING))
    full = ResourceSample(cpu_percent=10.0, rss_bytes=IDLE.rss_bytes, disk_free_bytes=200 * 2**20)
    assert "200 MB free" in judge(samples=(full,))["disk_nearly_full"]


def test_a_tool_server_down_and_an_overdue_backup() -> None:
    servers = (
        ToolServerState("time", True, ""),
        ToolServerState("weather", False, "exited with status 1"),
    )
    assert judge(servers=servers)["tool_server_down"] == (
        "tool server weather is down (exited with status 1)"
    )
    assert "backup_overdue" not in judge(backup_age_h=30.0)  # within 1.5 intervals of 24 h
    assert "37.0 h old" in judge(backup_age_h=37.0)["backup_overdue"]
