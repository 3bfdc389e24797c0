from parley.audio.push_to_talk import HeldKey


def test_a_key_counts_as_held_through_its_first_repeat_delay_then_between_repeats() -> None:
    key = HeldKey()
    assert not key.is_held(0.0)
    key.press(10.0)
    assert key.is_held(10.5)  # the terminal has not begun repeating yet
    for repeat in range(1, 20):
        key.press(10.5 + repeat * 0.033)
        assert key.is_held(10.5 + repeat * 0.033 + 0.1)
    released_at = 10.5 + 19 * 0.033
    assert not key.is_held(released_at + 0.2)  # the repeats stopped: released
    key.press(20.0)  # a new press starts a new hold
    assert key.is_held(20.4) and not key.is_held(20.7)
