"""How a session's turns end: the config's values, read afresh, unless its client set its own."""

from __future__ import annotations

from parley.config.sections import VadConfig
from parley.pipeline.session_options import SessionOptions


def test_a_session_follows_the_config_as_it_is_now() -> None:
    options = SessionOptions()
    before = options.turn_detection(VadConfig(threshold=0.5, end_silence_ms=500))
    reloaded = options.turn_detection(VadConfig(threshold=0.7, end_silence_ms=900))
    assert (before.vad_threshold, before.end_silence_ms) == (0.5, 500)
    assert (reloaded.vad_threshold, reloaded.end_silence_ms) == (0.7, 900)


def test_what_a_client_set_outlasts_a_reload() -> None:
    options = SessionOptions(vad_threshold=0.3, is_using_turn_model=False)
    detection = options.turn_detection(VadConfig(threshold=0.7, turn_complete_threshold=0.8))
    assert detection.vad_threshold == 0.3 and not detection.is_using_turn_model
    assert detection.turn_complete_threshold == 0.8  # not set by the client: the config's
