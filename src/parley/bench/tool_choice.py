"""Tool choice measured on the labelled requests: how often the router picks a tool that
answers the request right, or rightly none, and how long a choice takes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from parley.bench.tool_requests import HELD_OUT_REQUESTS, LABELLED_REQUESTS, LabelledRequest
from parley.errors import ConfigError
from parley.tools.hub import ToolSpec

if TYPE_CHECKING:
    from parley.config.settings import Settings


class ToolChooser(Protocol):
    def choose_tool(self, request: str) -> tuple[ToolSpec, float] | None: ...


@dataclass(frozen=True, slots=True)
class ToolChoiceMiss:
    words: str
    expected: tuple[str, ...]
    chosen: str | None


@dataclass(frozen=True, slots=True)
class ToolChoiceReport:
    right: int
    judged: int
    # Requests whose tools no configured server offers (a conversion without a time server).
    skipped: int
    right_by_kind: dict[str, tuple[int, int]]
    misses: list[ToolChoiceMiss] = field(default_factory=list)
    median_choice_ms: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.right / self.judged if self.judged else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "accuracy": round(self.accuracy, 4),
            "right": self.right,
            "judged": self.judged,
            "skipped": self.skipped,
            "median_choice_ms": self.median_choice_ms,
            "by_kind": {kind: list(pair) for kind, pair in self.right_by_kind.items()},
            "misses": [
                {"words": m.words, "expected": list(m.expected), "chosen": m.chosen}
                for m in self.misses
            ],
        }


def measure_tool_choice(
    chooser: ToolChooser,
    offered: Sequence[str],
    requests: Sequence[LabelledRequest] = LABELLED_REQUESTS,
) -> ToolChoiceReport:
    """Each request through ``chooser``; a request labelled with tools none of ``offered``
    names is skipped, since no choice could be right."""
    right = skipped = 0
    by_kind: dict[str, tuple[int, int]] = {}
    misses: list[ToolChoiceMiss] = []
    choice_ms: list[float] = []
    for request in requests:
        expected = request.tools & set(offered)
        if request.tools and not expected:
            skipped += 1
            continue
        started = time.perf_counter()
        chosen = chooser.choose_tool(request.words)
        choice_ms.append((time.perf_counter() - started) * 1000)
        name = chosen[0].name if chosen else None
        is_right = name in expected if expected else name is None
        right += is_right
        kind_right, kind_total = by_kind.get(request.kind, (0, 0))
        by_kind[request.kind] = (kind_right + is_right, kind_total + 1)
        if not is_right:
            misses.append(ToolChoiceMiss(request.words, tuple(sorted(expected)), name))
    return ToolChoiceReport(
        right=right,
        judged=len(requests) - skipped,
        skipped=skipped,
        right_by_kind=by_kind,
        misses=misses,
        median_choice_ms=round(statistics.median(choice_ms), 1) if choice_ms else 0.0,
    )


def format_report(report: ToolChoiceReport) -> str:
    lines = [
        f"tool choice: {report.right}/{report.judged} right ({report.accuracy:.1%}), "
        f"median {report.median_choice_ms} ms a choice"
        + (f", {report.skipped} skipped (their tools are not offered)" if report.skipped else "")
    ]
    for kind, (kind_right, kind_total) in report.right_by_kind.items():
        lines.append(f"  {kind:<24} {kind_right}/{kind_total}")
    for miss in report.misses:
        expected = " or ".join(miss.expected) or "no tool"
        lines.append(f"  miss: {miss.words!r}: chose {miss.chosen or 'no tool'}, not {expected}")
    return "\n".join(lines)


async def evaluate_tool_choice(
    settings: Settings, *, with_time_server: bool
) -> dict[str, ToolChoiceReport]:
    """The labelled sets through the router a user's turns use: the built-in tools (with a
    throwaway memory, since nothing is called), the configured servers and, if asked,
    mcp-server-time, so that conversions between zones are judged too."""
    import shutil
    import sys
    import tempfile
    from pathlib import Path

    from parley.config.settings import McpServerConfig
    from parley.memory.recall import MemoryRecall
    from parley.memory.sqlite_store import SqliteStore
    from parley.models.embedding import MiniLmEmbedder
    from parley.tools.builtin import make_builtin_server
    from parley.tools.hub import ToolHub
    from parley.tools.router import ToolRouter
    from parley.tools.timers import TimerClock

    servers = list(settings.mcp.servers)
    if with_time_server:
        beside_python = Path(sys.executable).parent / "mcp-server-time"
        command = str(beside_python) if beside_python.exists() else shutil.which("mcp-server-time")
        if command is None:
            raise ConfigError(
                "mcp-server-time is not installed: `.venv/bin/pip install mcp-server-time`, or "
                "leave out --time-server."
            )
        servers.append(McpServerConfig(name="time", command=[command, "--local-timezone", "UTC"]))
    embedder = MiniLmEmbedder()
    with tempfile.TemporaryDirectory() as scratch:
        store = SqliteStore(Path(scratch) / "memory.sqlite3")
        memory = MemoryRecall(store, embedder)
        hub = ToolHub(
            settings.mcp.model_copy(update={"servers": servers}),
            builtin=make_builtin_server(memory, TimerClock(store)),
        )
        await hub.start()
        try:
            router = ToolRouter(hub, embedder, None, threshold=settings.mcp.route_threshold)
            router.warm()
            offered = [tool.name for tool in hub.tools()]
            return {
                "labelled": measure_tool_choice(router, offered, LABELLED_REQUESTS),
                "held out": measure_tool_choice(router, offered, HELD_OUT_REQUESTS),
            }
        finally:
            await hub.close()
