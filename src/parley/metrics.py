"""Prometheus metrics fed from each turn's own measurements."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from parley.turn import TURN_LATENCIES

_LATENCY_BUCKETS_MS = (50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)
_STAGES = (
    *TURN_LATENCIES,
    "interruption_ms",
)


class ServerMetrics:
    """One registry per app, so that several apps (in tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_resident_memory_bytes, CPU seconds, open files: what a load test watches.
        ProcessCollector(registry=self.registry)
        self.stage_ms = Histogram(
            "parley_stage_ms",
            "Per-turn latency of each stage, in milliseconds",
            ["stage"],
            buckets=_LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.turns = Counter(
            "parley_turns", "Replies, by outcome", ["outcome"], registry=self.registry
        )
        self.sessions = Gauge(
            "parley_realtime_sessions", "Open realtime sessions", registry=self.registry
        )
        self.errors = Counter(
            "parley_client_errors", "Error events sent to clients", ["code"], registry=self.registry
        )

    def observe_turn(self, metrics: dict[str, Any], *, was_cancelled: bool) -> None:
        self.turns.labels(outcome="cancelled" if was_cancelled else "completed").inc()
        for stage in _STAGES:
            value = metrics.get(stage)
            if isinstance(value, int | float):
                self.stage_ms.labels(stage=stage).observe(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
