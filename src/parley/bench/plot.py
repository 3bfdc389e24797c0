"""The bench's latency plot: per turn, when each stage ran, from the end of speech to sound."""

from __future__ import annotations

from pathlib import Path

from parley.bench.run import BenchReport, JudgedTurn

Span = tuple[float, float]  # start and end, ms after the user's last voiced sample


def stage_spans(turn: JudgedTurn) -> dict[str, Span]:
    """When each stage of one turn ran; a stage that did not run (or took no time) is absent."""
    m = turn.metrics
    endpoint = m.get("endpoint_ms")
    stt_done = (
        endpoint + m["stt_ms"] if endpoint is not None and m.get("stt_ms") is not None else None
    )
    candidates = {
        "end of turn wait": (0.0 if endpoint is not None else None, endpoint),
        "speech to text after the turn": (endpoint, stt_done),
        "LLM first token": (m.get("llm_request_at_ms"), m.get("llm_first_token_at_ms")),
        "first clause": (m.get("llm_first_token_at_ms"), m.get("first_sentence_at_ms")),
        "speech synthesis": (m.get("first_sentence_at_ms"), m.get("voice_to_voice_ms")),
    }
    return {
        name: (float(start), float(end))
        for name, (start, end) in candidates.items()
        if start is not None and end is not None and end > start
    }


def plot(report: BenchReport, path: Path) -> set[str]:
    """Per turn, when each stage ran, from the user's last voiced sample to the first sound.

    Stages are drawn where they happened, not stacked: a reply started speculatively on a pause
    shows its LLM and TTS work overlapping the end-of-turn wait. Returns the stages drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{i + 1}. {t.prompt[:24]}" for i, t in enumerate(report.turns)]
    figure, axis = plt.subplots(figsize=(11, 0.45 * len(labels) + 1.8))
    colours = {
        "end of turn wait": "#4c72b0",
        "speech to text after the turn": "#dd8452",
        "LLM first token": "#55a868",
        "first clause": "#c44e52",
        "speech synthesis": "#8172b2",
    }
    drawn: set[str] = set()  # each stage named once in the legend
    for row, turn in enumerate(report.turns):
        m = turn.metrics
        for name, (start, end) in stage_spans(turn).items():
            # The wait is a thin bar above the reply's own: a speculative reply overlaps it.
            is_wait = name == "end of turn wait"
            axis.barh(
                row - 0.32 if is_wait else row + 0.08,
                end - start,
                left=start,
                color=colours[name],
                height=0.16 if is_wait else 0.5,
                label=name if name not in drawn else None,
            )
            drawn.add(name)
        if m.get("voice_to_voice_ms") is not None:
            axis.plot(m["voice_to_voice_ms"], row, marker="|", color="black", markersize=14)
    axis.axvline(500, color="black", linestyle="--", linewidth=1, label="500 ms target")
    axis.set_xlim(left=0)
    axis.set_yticks(range(len(labels)), labels)
    axis.invert_yaxis()
    axis.set_xlabel("milliseconds from the user's last voiced sample (| = first reply sound)")
    summary = report.summary()["figures"]["voice_to_voice_ms"]
    axis.set_title(f"Parley voice-to-voice: median {summary['median']} ms, p90 {summary['p90']} ms")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return drawn
