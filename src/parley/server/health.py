"""The running server's health: resources sampled on a schedule, alerts judged from them and
from the recent turns, and the one snapshot that `parley monitor`, the page's Health panel and
`parley doctor --server` all show (GET /v1/monitor).

An alert is logged once when it is raised and once when it clears, and exported in /metrics as
``parley_alert{alert="…"}`` (1 while raised) for those who run Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from parley import __version__
from parley.config.settings import AlertsConfig, Settings
from parley.memory.archive import backups_in
from parley.ops.advice import MeasuredFigures, advise
from parley.ops.machine import describe_cpu
from parley.ops.metrics import ServerMetrics
from parley.tools.hub import ToolHub

log = logging.getLogger(__name__)

# Every alert Parley can raise, so /metrics shows each at 0 before it is ever raised.
ALERT_NAMES = (
    "voice_to_voice_slow",
    "memory_high",
    "cpu_saturated",
    "disk_nearly_full",
    "tool_server_down",
    "backup_overdue",
)
_CPU_SAMPLES = 3  # the CPU alert judges the average of the last few checks, not one spike


@dataclass(frozen=True, slots=True)
class ResourceSample:
    cpu_percent: float  # the whole machine's, since the previous sample
    rss_bytes: int  # this server process's
    disk_free_bytes: int  # on the data directory's disk


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "message": self.message}


@dataclass(frozen=True, slots=True)
class ToolServerState:
    name: str
    is_up: bool
    last_error: str


def judge_alerts(
    config: AlertsConfig,
    *,
    summary: dict[str, Any],
    samples: list[ResourceSample],
    tool_servers: list[ToolServerState],
    backup_age_h: float | None,
    backup_every_h: float | None,
) -> list[Alert]:
    """The alerts these measurements raise (pure: the tests give it measured inputs)."""
    alerts: list[Alert] = []
    voice_to_voice = summary.get("stages", {}).get("voice_to_voice_ms")
    if (
        voice_to_voice is not None
        and voice_to_voice["n"] >= config.min_turns
        and voice_to_voice["p90"] > config.voice_to_voice_p90_ms
    ):
        alerts.append(
            Alert(
                "voice_to_voice_slow",
                f"voice-to-voice p90 is {voice_to_voice['p90']:.0f} ms over the last "
                f"{voice_to_voice['n']} turns (alert above "
                f"{config.voice_to_voice_p90_ms:.0f} ms)",
            )
        )
    if samples:
        latest = samples[-1]
        rss_mb = latest.rss_bytes / 2**20
        if rss_mb > config.max_memory_mb:
            alerts.append(
                Alert(
                    "memory_high",
                    f"the server uses {rss_mb:.0f} MB of memory "
                    f"(alert above alerts.max_memory_mb {config.max_memory_mb:.0f})",
                )
            )
        recent = samples[-_CPU_SAMPLES:]
        cpu = sum(sample.cpu_percent for sample in recent) / len(recent)
        if len(recent) == _CPU_SAMPLES and cpu >= config.max_cpu_percent:
            alerts.append(
                Alert(
                    "cpu_saturated",
                    f"the machine's CPU is {cpu:.0f} % busy over the last {len(recent)} checks: "
                    "replies will lag",
                )
            )
        free_mb = latest.disk_free_bytes / 2**20
        if free_mb < config.min_disk_free_mb:
            alerts.append(
                Alert(
                    "disk_nearly_full",
                    f"{free_mb:.0f} MB free for the data directory "
                    f"(alert below {config.min_disk_free_mb:.0f} MB)",
                )
            )
    if down := [server for server in tool_servers if not server.is_up]:
        alerts.append(
            Alert(
                "tool_server_down",
                "; ".join(
                    f"tool server {server.name} is down ({server.last_error or 'starting'})"
                    for server in down
                ),
            )
        )
    if (
        backup_every_h is not None
        and backup_age_h is not None
        and backup_age_h > backup_every_h * config.backup_overdue_factor
    ):
        alerts.append(
            Alert(
                "backup_overdue",
                f"the newest backup is {backup_age_h:.1f} h old; one is taken every "
                f"{backup_every_h:g} h",
            )
        )
    return alerts


def figures_for_advice(settings: Settings, summary: dict[str, Any]) -> MeasuredFigures:
    stages = summary.get("stages", {})

    def median(name: str) -> float | None:
        return stages[name]["median"] if name in stages else None

    return MeasuredFigures.of(
        settings,
        turns=summary.get("turns", 0),
        cancelled_turns=summary.get("cancelled_turns", 0),
        voice_to_voice_ms=median("voice_to_voice_ms"),
        endpoint_ms=median("endpoint_ms"),
        llm_ttft_ms=median("llm_ttft_ms"),
        llm_prompt_tokens=median("llm_prompt_tokens"),
        llm_tokens_per_s=median("llm_tokens_per_s"),
        stt_rtf=median("stt_rtf"),
    )


class HealthWatch:
    """Samples resources and judges alerts every ``alerts.check_every_s`` (read afresh each
    time, so a reloaded config applies at the next check)."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        metrics: ServerMetrics,
        *,
        hub: Callable[[], ToolHub | None],
        sessions: Callable[[], int],
        config_state: Callable[[], dict[str, Any]],
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._hub = hub
        self._sessions = sessions
        self._config_state = config_state
        self._samples: deque[ResourceSample] = deque(maxlen=_CPU_SAMPLES)
        self._process = psutil.Process()
        self._started_s = time.monotonic()
        self._alerts: dict[str, Alert] = {}
        self._machine = describe_cpu()
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
        for name in ALERT_NAMES:
            metrics.alert.labels(alert=name).set(0)

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("the health check failed; it runs again at the next interval")
            await asyncio.sleep(self._settings().alerts.check_every_s)

    def _sample(self, data_dir: Path) -> ResourceSample:
        return ResourceSample(
            cpu_percent=psutil.cpu_percent(interval=None),
            rss_bytes=self._process.memory_info().rss,
            disk_free_bytes=psutil.disk_usage(str(data_dir if data_dir.exists() else "/")).free,
        )

    async def check(self) -> list[Alert]:
        settings = self._settings()
        # Only the system calls go to a thread: the recent turns are read on the loop that
        # adds to them.
        sample = await asyncio.to_thread(self._sample, settings.data_dir)
        self._samples.append(sample)
        self._metrics.machine_cpu_percent.set(sample.cpu_percent)
        self._metrics.disk_free_bytes.set(sample.disk_free_bytes)
        alerts = judge_alerts(
            settings.alerts,
            summary=self._metrics.recent.summary(settings.alerts.window_s),
            samples=list(self._samples),
            tool_servers=self._tool_servers(),
            backup_age_h=await asyncio.to_thread(self._backup_age_h, settings),
            backup_every_h=settings.backup.every_hours,
        )
        self._record(alerts)
        return alerts

    def _record(self, alerts: list[Alert]) -> None:
        raised = {alert.name: alert for alert in alerts}
        for name, alert in raised.items():
            if name not in self._alerts:
                log.warning("alert raised: %s: %s", name, alert.message)
            self._metrics.alert.labels(alert=name).set(1)
        for name in self._alerts.keys() - raised.keys():
            log.info("alert cleared: %s", name)
            self._metrics.alert.labels(alert=name).set(0)
        self._alerts = raised

    def _tool_servers(self) -> list[ToolServerState]:
        hub = self._hub()
        if hub is None:
            return []
        return [ToolServerState(name, is_up, error) for name, is_up, error, _ in hub.status()]

    @staticmethod
    def _backup_age_h(settings: Settings) -> float | None:
        backups = backups_in(settings.data_dir / "backups")
        if not backups:
            return None
        return (time.time() - backups[-1].stat().st_mtime) / 3600

    def snapshot(self) -> dict[str, Any]:
        """Everything the monitor shows, as JSON."""
        settings = self._settings()
        summary = self._metrics.recent.summary(settings.alerts.window_s)
        latest = self._samples[-1] if self._samples else None
        return {
            "version": __version__,
            "uptime_s": round(time.monotonic() - self._started_s, 1),
            "machine": self._machine,
            "sessions": self._sessions(),
            **summary,
            "resources": None
            if latest is None
            else {
                "cpu_percent": latest.cpu_percent,
                "rss_mb": round(latest.rss_bytes / 2**20, 1),
                "disk_free_mb": round(latest.disk_free_bytes / 2**20, 1),
                "data_dir": str(settings.data_dir),
            },
            "tool_servers": [
                {"name": s.name, "is_up": s.is_up, "last_error": s.last_error}
                for s in self._tool_servers()
            ],
            "backup_age_h": None
            if (age := self._backup_age_h(settings)) is None
            else round(age, 2),
            "alerts": [alert.as_dict() for alert in self._alerts.values()],
            # Medians of one or two turns are noise: advice waits for as many as alerts do.
            "advice": [a.as_dict() for a in advise(figures_for_advice(settings, summary))]
            if summary["turns"] >= settings.alerts.min_turns
            else [],
            "config": self._config_state(),
        }
