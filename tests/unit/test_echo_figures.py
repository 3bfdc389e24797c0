"""The echo trial's figures: how many replies were cut with nobody speaking over them, how many
barge-ins were heard, and what was heard in each trial judged wrong."""

from parley.bench.echo_trial import EchoTrial, echo_figures


def trial(*, barge_in: bool, interrupted: bool, story: tuple[str, ...] = ()) -> EchoTrial:
    return EchoTrial(
        is_cancelling_echo=True,
        is_barge_in=barge_in,
        was_interrupted=interrupted,
        silent_after_ms=120.0 if barge_in and interrupted else None,
        held_silent_ms=400.0,
        story=story,
    )


def test_a_false_interruption_and_a_missed_barge_in_say_what_was_heard() -> None:
    cut = ("partial 700 ms: uh huh the moon", "interrupted: turn_detected")
    missed = ("final: What is the capital?",)
    figures = echo_figures(
        [
            trial(barge_in=False, interrupted=False, story=("final: Uh-huh.",)),
            trial(barge_in=False, interrupted=True, story=cut),
            trial(barge_in=True, interrupted=True, story=("interrupted: turn_detected",)),
            trial(barge_in=True, interrupted=False, story=missed),
        ]
    )
    on = figures["on"]
    assert (on["replies"], on["false_interruptions"]) == (2, 1)
    assert (on["barge_ins"], on["barge_ins_heard"]) == (2, 1)
    assert on["judged_wrong"] == [list(cut), list(missed)]
    assert "off" not in figures


def test_trials_judged_right_leave_nothing_to_explain() -> None:
    figures = echo_figures(
        [trial(barge_in=False, interrupted=False), trial(barge_in=True, interrupted=True)]
    )
    assert figures["on"]["judged_wrong"] == []
    assert figures["on"]["interruption_ms"]["n"] == 1
