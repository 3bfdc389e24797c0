from pathlib import Path

from parley.bench import BenchReport, TurnFigures, plot


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
            TurnFigures("q1", "q1", "a", spoken, 0, 1),
            TurnFigures("q2", "q2", "a", speculative, 0, 1),
        ]
    )
    path = tmp_path / "plot.png"
    plot(report, path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
