from parley.pipeline.endpointing import Boundary, Endpointer

FRAME = 512  # 32 ms at 16 kHz


TENTATIVE = {"onset", "false_start"}


def run(probabilities: list[float], *, tentative: bool = False, **overrides: int) -> list[Boundary]:
    """The boundaries found; the tentative ones (onset, false start) only when asked for."""
    settings = {"min_speech_ms": 96, "end_silence_ms": 320} | overrides
    endpointer = Endpointer(sample_rate_hz=16_000, frame_samples=FRAME, threshold=0.5, **settings)
    found = []
    for index, probability in enumerate(probabilities):
        boundary = endpointer.push(probability, frame_end_sample=(index + 1) * FRAME)
        if boundary and (tentative or boundary.kind not in TENTATIVE):
            found.append(boundary)
    return found


def test_voice_is_announced_at_its_first_frame_and_a_noise_as_a_false_start() -> None:
    noise_then_speech = [0.0, 0.9, 0.9, 0.0, 0.0] + [0.9] * 8 + [0.0] * 12
    assert run(noise_then_speech, tentative=True) == [
        Boundary("onset", 1 * FRAME),
        Boundary("false_start", 1 * FRAME),
        Boundary("onset", 5 * FRAME),
        Boundary("start", 5 * FRAME),
        Boundary("end", 13 * FRAME - 1),
    ]


def test_speech_then_silence_gives_start_and_end_at_the_last_voiced_sample() -> None:
    boundaries = run([0.0] * 5 + [0.9] * 20 + [0.0] * 12)
    assert boundaries == [Boundary("start", 5 * FRAME), Boundary("end", 25 * FRAME - 1)]


def test_a_short_noise_does_not_start_a_turn() -> None:
    assert run([0.0, 0.9, 0.9, 0.0, 0.0, 0.95, 0.0] + [0.0] * 20) == []


def test_a_pause_shorter_than_the_end_silence_keeps_the_turn_open() -> None:
    boundaries = run([0.9] * 10 + [0.1] * 6 + [0.9] * 10 + [0.0] * 12)
    assert [b.kind for b in boundaries] == ["start", "end"]
    assert boundaries[1].sample == 26 * FRAME - 1


def test_hysteresis_keeps_soft_speech_voiced_once_started() -> None:
    # 0.4 is below the start threshold but above the release threshold (0.35).
    boundaries = run([0.9] * 5 + [0.4] * 15 + [0.0] * 12)
    assert boundaries[1].sample == 20 * FRAME - 1


def test_two_utterances_give_two_turns() -> None:
    one = [0.9] * 8 + [0.0] * 12
    assert [b.kind for b in run(one + one)] == ["start", "end", "start", "end"]


def with_pauses(probabilities: list[float]) -> list[tuple[str, int]]:
    """Every boundary, as (kind, sample), with work starting on a 96 ms pause."""
    boundaries = run(probabilities, tentative=True, pause_silence_ms=96)
    return [(boundary.kind, boundary.sample) for boundary in boundaries]


def test_a_hush_then_a_pause_are_reported_once_then_resume_when_voice_comes_back() -> None:
    assert with_pauses([0.9] * 8 + [0.0] * 4 + [0.9] * 4 + [0.0] * 12) == [
        ("onset", 0),
        ("start", 0),
        ("hush", 8 * FRAME - 1),
        ("pause", 8 * FRAME - 1),
        ("resume", 12 * FRAME),
        ("hush", 16 * FRAME - 1),
        ("pause", 16 * FRAME - 1),
        ("end", 16 * FRAME - 1),
    ]


def test_a_hush_the_voice_goes_on_after_is_reported_again_at_the_next_quiet() -> None:
    assert with_pauses([0.9] * 8 + [0.0] + [0.9] * 4 + [0.0] * 2 + [0.9] * 2) == [
        ("onset", 0),
        ("start", 0),
        ("hush", 8 * FRAME - 1),
        ("hush", 13 * FRAME - 1),
    ]


def test_without_a_pause_setting_there_is_no_hush() -> None:
    kinds = [b.kind for b in run([0.9] * 8 + [0.0] * 20)]
    assert "hush" not in kinds


def test_an_utterance_that_runs_too_long_is_ended_and_the_rest_starts_the_next_turn() -> None:
    endpointer = Endpointer(
        sample_rate_hz=16_000,
        frame_samples=FRAME,
        threshold=0.5,
        min_speech_ms=96,
        end_silence_ms=320,
        max_utterance_ms=32 * 20,  # twenty frames
    )
    found = []
    for index in range(50):
        boundary = endpointer.push(0.9, frame_end_sample=(index + 1) * FRAME)
        if boundary and boundary.kind not in TENTATIVE:
            found.append(boundary)
    assert found == [
        Boundary("start", 0),
        Boundary("end", 20 * FRAME - 1),
        Boundary("start", 20 * FRAME),
        Boundary("end", 40 * FRAME - 1),
        Boundary("start", 40 * FRAME),
    ]
