"""The wake word's policy: what the conversation hears while waiting, listening and following up."""

from __future__ import annotations

import numpy as np

from parley.audio.frames import AudioFrame
from parley.pipeline.wake_gate import WakeGate, WakeState

VOICE = np.full(320, 1000, np.int16)


def frame() -> AudioFrame:
    return AudioFrame(VOICE.copy(), 0, 0)


def heard(gate: WakeGate, now_s: float, **flags: bool) -> bool:
    """Whether the conversation heard the frame (rather than silence)."""
    options = {"is_woken": False, "is_parley_speaking": False, "is_busy": False, **flags}
    return bool(gate.admit(frame(), now_s=now_s, **options).samples.any())


def test_waiting_the_room_is_silence_until_the_wake_word_and_the_word_is_not_passed_on() -> None:
    gate = WakeGate(follow_up_s=5)
    assert not heard(gate, 0.0)
    assert not heard(gate, 0.1, is_woken=True)  # the word itself
    assert gate.state is WakeState.LISTENING
    assert heard(gate, 0.2)


def test_nobody_speaking_after_the_wake_word_goes_back_to_waiting() -> None:
    gate = WakeGate(follow_up_s=5, listen_s=8)
    heard(gate, 0.0, is_woken=True)
    assert heard(gate, 7.9)
    assert not heard(gate, 8.1)
    assert gate.state is WakeState.WAITING


def test_after_a_reply_the_follow_up_window_is_open_longer_after_a_question() -> None:
    gate = WakeGate(follow_up_s=5)
    heard(gate, 0.0, is_woken=True)
    gate.on_speech(1.0)
    assert heard(gate, 20.0, is_busy=True)  # a long turn: open while it lasts
    gate.on_reply_played("Paris is the capital of France.", 30.0)
    assert gate.state is WakeState.FOLLOWING_UP
    assert heard(gate, 34.9) and not heard(gate, 35.1)
    heard(gate, 40.0, is_woken=True)
    gate.on_reply_played("Would you like to know more?", 45.0)
    assert heard(gate, 54.9) and not heard(gate, 55.1)


def test_parley_speaking_is_heard_over_without_the_wake_word() -> None:
    gate = WakeGate(follow_up_s=0)
    assert heard(gate, 0.0, is_parley_speaking=True)  # a timer going off: the user may answer
    assert gate.state is WakeState.WAITING
    gate.on_reply_played("Your pasta timer is done.", 1.0)
    assert not heard(gate, 1.1)


def test_stop_or_goodbye_ends_it_and_the_name_over_a_reply_keeps_listening() -> None:
    gate = WakeGate(follow_up_s=5)
    heard(gate, 0.0, is_woken=True)
    assert heard(gate, 1.0, is_woken=True, is_parley_speaking=True)  # heard, not silenced
    assert gate.state is WakeState.LISTENING
    gate.on_words("Okay Nabu, stop.", wake_phrase="Okay Nabu")
    assert gate.state is WakeState.WAITING
    heard(gate, 2.0, is_woken=True)
    gate.on_words("What is the capital of France?")
    assert gate.state is WakeState.LISTENING
    gate.on_words("OK, goodbye then.")
    assert gate.state is WakeState.WAITING
