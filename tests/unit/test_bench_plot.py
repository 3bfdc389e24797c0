from pathlib import Path

from parley.bench.plot import plot, stage_spans
from parley.bench.run import BenchReport, JudgedTurn


def test_the_plot_draws_every_stage_including_speech_to_text_after_the_turn(tmp_path: Path) -> None:
    spoken = {
        "endpoint_ms": 520.0,
        "stt_ms": 80.0,
        "llm_request_at_ms": 610.0,
        "llm_first_token_at_ms": 800.0,
        "first_sentence_at_ms": 1000.0,
        "voice_to_voice_ms": 1100.0,
    }
    speculative = {**spoken, "stt_ms": 0.0, "llm_request_at_ms": 300.0}
    report = BenchReport(
        turns=[
            JudgedTurn("q1", "q1", "a", spoken, 0, 1),
            JudgedTurn("q2", "q2", "a", speculative, 0, 1),
        ]
    )
    assert stage_spans(report.turns[0]) == {
        "end of turn wait": (0.0, 520.0),
        "speech to text after the turn": (520.0, 600.0),
        "LLM first token": (610.0, 800.0),
        "first clause": (800.0, 1000.0),
        "speech synthesis": (1000.0, 1100.0),
    }
    # Started on a pause: its LLM work overlaps the wait, and no speech to text follows it.
    speculative_spans = stage_spans(report.turns[1])
    assert "speech to text after the turn" not in speculative_spans
    assert speculative_spans["LLM first token"] == (300.0, 800.0)
    path = tmp_path / "plot.png"
    drawn = plot(report, path)
    assert drawn == set(stage_spans(report.turns[0]))
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
