"""The server's measurements: Prometheus metrics fed from each turn's own figures, and the
recent turns and tool calls that `parley monitor`, alerts and advice judge."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from parley.ops.spread import spread
from parley.pipeline.turn_figures import TURN_LATENCIES, TurnFigures
from parley.tools.hub import ToolResult

_LATENCY_BUCKETS_MS = (50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)
_STAGES = (
    *TURN_LATENCIES,
    "interruption_ms",
)
# Per-turn figures the monitor shows beside the latencies (rates and real-time factors).
_RATES = ("llm_tokens_per_s", "tts_rtf", "llm_prompt_tokens")
# Enough turns for a few minutes of a busy server; older ones fall out of the window anyway.
_RECENT_TURNS = 1000
_RECENT_TOOL_CALLS = 500


@dataclass(frozen=True, slots=True)
class _RecentTurn:
    at_s: float  # time.monotonic()
    was_cancelled: bool
    figures: dict[str, float]


@dataclass(frozen=True, slots=True)
class _RecentToolCall:
    at_s: float
    name: str
    duration_ms: float
    is_error: bool


@dataclass(frozen=True, slots=True)
class _RecentWyomingRequest:
    at_s: float
    program: str  # asr, tts, handle
    first_answer_ms: float | None  # None when it failed
    outcome: str


class RecentFigures:
    """The turns and tool calls of the last while, in the order they happened."""

    def __init__(self) -> None:
        self._turns: deque[_RecentTurn] = deque(maxlen=_RECENT_TURNS)
        self._tool_calls: deque[_RecentToolCall] = deque(maxlen=_RECENT_TOOL_CALLS)
        self._wyoming: deque[_RecentWyomingRequest] = deque(maxlen=_RECENT_TURNS)

    def add_turn(self, turn: TurnFigures, *, was_cancelled: bool) -> None:
        figures = turn.measured()
        decode_ms, audio_ms = figures.get("stt_decode_ms"), figures.get("stt_audio_ms")
        if decode_ms is not None and audio_ms:
            figures["stt_rtf"] = round(decode_ms / audio_ms, 3)
        self._turns.append(_RecentTurn(time.monotonic(), was_cancelled, figures))

    def add_tool_call(self, result: ToolResult) -> None:
        self._tool_calls.append(
            _RecentToolCall(time.monotonic(), result.name, result.duration_ms, result.is_error)
        )

    def add_wyoming_request(
        self, program: str, first_answer_ms: float | None, outcome: str
    ) -> None:
        self._wyoming.append(
            _RecentWyomingRequest(time.monotonic(), program, first_answer_ms, outcome)
        )

    def _wyoming_summary(self, since_s: float) -> dict[str, Any]:
        by_program: dict[str, list[_RecentWyomingRequest]] = {}
        for request in (r for r in self._wyoming if r.at_s >= since_s):
            by_program.setdefault(request.program, []).append(request)
        summary: dict[str, Any] = {}
        for program, requests in sorted(by_program.items()):
            timed = [r.first_answer_ms for r in requests if r.first_answer_ms is not None]
            timing = spread(timed) if timed else {"median": None, "p90": None}
            summary[program] = {
                "requests": len(requests),
                "failed": sum(r.outcome != "ok" for r in requests),
                "median": timing["median"],
                "p90": timing["p90"],
            }
        return summary

    def summary(self, window_s: float) -> dict[str, Any]:
        """What happened in the last ``window_s``: per-stage median and p90, the latest values
        of each (oldest first, for a sparkline), and each tool's calls."""
        since = time.monotonic() - window_s
        turns = [turn for turn in self._turns if turn.at_s >= since]
        stages: dict[str, Any] = {}
        for name in (*_STAGES, *_RATES, "stt_rtf"):
            values = [turn.figures[name] for turn in turns if name in turn.figures]
            if values:
                stages[name] = {**spread(values), "latest": values[-30:]}
        by_tool: dict[str, list[_RecentToolCall]] = {}
        for call in (call for call in self._tool_calls if call.at_s >= since):
            by_tool.setdefault(call.name, []).append(call)
        tools: dict[str, Any] = {}
        for name, calls in sorted(by_tool.items()):
            timing = spread([call.duration_ms for call in calls])
            tools[name] = {
                "calls": len(calls),
                "errors": sum(call.is_error for call in calls),
                "median": timing["median"],
                "p90": timing["p90"],
            }
        return {
            "window_s": window_s,
            "turns": len(turns),
            "cancelled_turns": sum(turn.was_cancelled for turn in turns),
            "stages": stages,
            "tools": tools,
            "wyoming": self._wyoming_summary(since),
        }


class ServerMetrics:
    """One registry per app, so that several apps (in tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.recent = RecentFigures()
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
        self.wyoming_requests = Counter(
            "parley_wyoming_requests",
            "Wyoming requests (asr, tts, handle), by outcome",
            ["program", "outcome"],
            registry=self.registry,
        )
        self.wyoming_ms = Histogram(
            "parley_wyoming_first_answer_ms",
            "Wyoming requests' first answer, in milliseconds: asr from the end of speech to the "
            "transcript, tts from the first sentence to its first audio, handle from the "
            "transcript to the reply's first chunk",
            ["program"],
            buckets=_LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.wyoming_clients = Gauge(
            "parley_wyoming_clients", "Open Wyoming connections", registry=self.registry
        )
        self.errors = Counter(
            "parley_client_errors", "Error events sent to clients", ["code"], registry=self.registry
        )
        self.tool_call_ms = Histogram(
            "parley_tool_call_ms",
            "Duration of each tool call, in milliseconds",
            ["tool", "outcome"],
            buckets=_LATENCY_BUCKETS_MS,
            registry=self.registry,
        )
        self.llm_tokens_per_s = Gauge(
            "parley_llm_tokens_per_second",
            "The LLM's decode speed in the last reply",
            registry=self.registry,
        )
        self.machine_cpu_percent = Gauge(
            "parley_machine_cpu_percent",
            "The machine's CPU use at the last check",
            registry=self.registry,
        )
        self.disk_free_bytes = Gauge(
            "parley_data_disk_free_bytes",
            "Free space on the data directory's disk",
            registry=self.registry,
        )
        self.alert = Gauge(
            "parley_alert",
            "1 while an alert is raised (thresholds: the alerts section of the config)",
            ["alert"],
            registry=self.registry,
        )

    def observe_turn(self, turn: TurnFigures, *, was_cancelled: bool) -> None:
        self.turns.labels(outcome="cancelled" if was_cancelled else "completed").inc()
        measured = turn.measured()
        for stage in _STAGES:
            if (value := measured.get(stage)) is not None:
                self.stage_ms.labels(stage=stage).observe(value)
        if turn.llm_tokens_per_s is not None:
            self.llm_tokens_per_s.set(turn.llm_tokens_per_s)
        self.recent.add_turn(turn, was_cancelled=was_cancelled)

    def observe_wyoming(
        self, program: str, first_answer_ms: float | None, *, outcome: str = "ok"
    ) -> None:
        """A Wyoming request answered (or not): ``first_answer_ms`` is, for asr, the end of
        speech to the transcript; for tts, the first sentence to its first audio; for handle,
        the transcript to the reply's first chunk."""
        self.wyoming_requests.labels(program=program, outcome=outcome).inc()
        if first_answer_ms is not None:
            self.wyoming_ms.labels(program=program).observe(first_answer_ms)
        self.recent.add_wyoming_request(program, first_answer_ms, outcome)

    def observe_tool_call(self, result: ToolResult) -> None:
        outcome = "error" if result.is_error else "ok"
        self.tool_call_ms.labels(tool=result.name, outcome=outcome).observe(result.duration_ms)
        self.recent.add_tool_call(result)

    def render(self) -> bytes:
        return generate_latest(self.registry)
