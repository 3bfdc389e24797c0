"""The bench's report as a table for the terminal, or as JSON."""

from __future__ import annotations

import json
from typing import Any

from parley.ops.machine import cpu_line


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"measured on {cpu_line(summary['machine'])}",
        f"{'figure':<22}{'median':>10}{'p90':>10}{'n':>5}",
    ]
    for name, figure in summary["figures"].items():
        if figure["n"]:
            lines.append(f"{name:<22}{figure['median']:>10}{figure['p90']:>10}{figure['n']:>5}")
    by_kind = summary.get("voice_to_voice_ms_by_kind") or {}
    if by_kind:
        lines.append(
            "voice to voice by kind (median/p90 ms): "
            + ", ".join(f"{k} {f['median']}/{f['p90']}" for k, f in by_kind.items())
        )
    lines.append(f"word error rate: {summary['word_error_rate']}")
    for name, accuracy in summary["transcript_accuracy"].items():
        lines.append(
            f"  {name}: live {accuracy['live_wer']}, Whisper's whole decode "
            f"{accuracy['whole_decode_wer']} ({accuracy['utterances']} utterances, "
            f"{len(accuracy['heard_worse'])} heard worse live)"
        )
    lines.append(f"replies begun on a pause: {summary['speculative_share']}")
    partials = summary["partial_transcripts"]
    if partials["turns"]:
        each, per_turn = partials["decode_ms"], partials["per_turn"]
        lines.append(
            f"partial transcripts: {per_turn['median']} a turn (median), Whisper "
            f"{each['median']} ms each (p90 {each['p90']}); the end of the turn took one that "
            f"had heard every word in {partials['ends_taking_a_partial']} of {partials['turns']}"
        )
    on_point = summary["replies_on_point"]
    lines.append(f"replies on the point: {on_point['on_point']} of {on_point['judged']}")
    for off in on_point["off_point"]:
        lines.append(f"  off the point: {off['prompt']!r} -> {off['reply']!r}")
    by_pause = ", ".join(
        f"{rate} at {pause_ms} ms"
        for pause_ms, rate in summary["premature_end_rate_by_pause_ms"].items()
    )
    lines.append(
        f"premature ends (a pause mid-question): {summary['premature_end_rate']}"
        + (f" ({by_pause})" if by_pause else "")
    )
    for mode, echo in summary["echo"].items():
        lines.append(
            f"echo, cancellation {mode}: {echo['false_interruptions']} of {echo['replies']} "
            f"replies cut with nobody speaking over them; interruption {echo['interruption_ms']}"
        )
    cold = summary["cold_start"]
    lines.append(
        f"cold start: model load {cold['model_load_s']} s, first turn {cold['first_turn_voice_to_voice_ms']} ms"
    )
    lines.append(
        f"peak RSS {summary['peak_rss_mib']} MiB, CPU {summary['cpu_percent']} % of one core; "
        f"other processes kept {summary['others_busy_cores']} cores busy"
    )
    return "\n".join(lines)


def format_markdown(summary: dict[str, Any], *, date: str) -> str:
    """The sitting as markdown for docs/benchmarks.md: the CPU and date with every table."""
    lines = [
        f"### Sitting of {date}: {cpu_line(summary['machine'])}",
        "",
        f"{summary['turns']} turns. Median and p90 of each figure, in ms unless named:",
        "",
        "| figure | median | p90 | n |",
        "|---|---|---|---|",
    ]
    for name, figure in summary["figures"].items():
        if figure["n"]:
            lines.append(f"| {name} | {figure['median']} | {figure['p90']} | {figure['n']} |")
    by_kind = summary.get("voice_to_voice_ms_by_kind") or {}
    if by_kind:
        lines += ["", "| kind of request | voice to voice median | p90 | n |", "|---|---|---|---|"]
        lines += [
            f"| {kind} | {f['median']} | {f['p90']} | {f['n']} |" for kind, f in by_kind.items()
        ]
    on_point = summary["replies_on_point"]
    lines += [
        "",
        f"Word error rate {summary['word_error_rate']}; replies on the point "
        f"{on_point['on_point']} of {on_point['judged']}; replies begun on a pause "
        f"{summary['speculative_share']}; peak RSS {summary['peak_rss_mib']} MiB; other "
        f"processes kept {summary['others_busy_cores']} of {summary['machine']['cores']} cores "
        "busy.",
    ]
    return "\n".join(lines)


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
