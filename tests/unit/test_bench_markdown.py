"""`parley bench --markdown`: a sitting's tables for docs/benchmarks.md, with CPU and date."""

from parley.bench.report_text import format_markdown
from parley.bench.run import BenchReport, JudgedTurn


def _turn(kind: str, voice_to_voice_ms: float) -> JudgedTurn:
    metrics = {"voice_to_voice_ms": voice_to_voice_ms, "endpoint_ms": 300.0}
    return JudgedTurn(f"a {kind} request", "heard", "said", metrics, 0, 3, kind=kind)


def test_a_sitting_is_written_as_markdown_tables_with_its_cpu_and_date() -> None:
    report = BenchReport(turns=[_turn("fact", 500.0), _turn("fact", 700.0), _turn("joke", 650.0)])
    report.wall_s, report.others_cpu_s = 100.0, 95.0  # as beside a process spinning on a core
    text = format_markdown(report.summary(), date="2026-12-06")
    lines = text.splitlines()
    assert lines[0].startswith("### Sitting of 2026-12-06: ") and "cores" in lines[0]
    assert "| voice_to_voice_ms | 650.0 | 700.0 | 3 |" in lines
    assert "| fact | 600.0 | 700.0 | 2 |" in lines
    assert "| joke | 650.0 | 650.0 | 1 |" in lines
    assert "| endpoint_ms | 300.0 | 300.0 | 3 |" in lines
    assert "other processes kept 0.95 of" in lines[-1] and lines[-1].endswith("cores busy.")
