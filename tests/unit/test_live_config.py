"""A reload applies what a turn reads as it runs and names what needs a restart; a broken edit
leaves the running configuration as it was."""

from pathlib import Path

import pytest

from parley.config.settings import LlamaCppConfig, load_settings
from parley.server.live_config import LiveConfig, plan_reload


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reload_applies_per_turn_keys_and_keeps_restart_keys(tmp_path: Path) -> None:
    config = write(tmp_path / "parley.yaml", "llm:\n  max_reply_tokens: 120\n")
    running = load_settings(config_file=config, profile="testing", data_dir=tmp_path)
    write(
        config,
        "llm:\n  max_reply_tokens: 3\n  n_threads: 1\nstt:\n  model: base\n"
        "barge_in:\n  confirm_speech_ms: 600\nlog_level: warning\n",
    )
    edited = load_settings(config_file=config, profile="testing", data_dir=tmp_path)

    plan = plan_reload(running, edited)

    assert sorted(plan.applied) == [
        "barge_in.confirm_speech_ms",
        "llm.max_reply_tokens",
        "log_level",
    ]
    assert sorted(plan.needs_restart) == ["llm.n_threads", "stt.model"]
    assert plan.settings.llm.max_reply_tokens == 3
    assert plan.settings.barge_in.confirm_speech_ms == 600
    assert plan.settings.log_level == "warning"
    # What was loaded at start stays until a restart.
    assert isinstance(plan.settings.llm, LlamaCppConfig)
    assert plan.settings.llm.n_threads == running.llm.n_threads
    assert plan.settings.stt.model == running.stt.model


def test_changing_the_llm_backend_needs_a_restart(tmp_path: Path) -> None:
    config = write(tmp_path / "parley.yaml", "")
    running = load_settings(config_file=config, profile="testing", data_dir=tmp_path)
    write(config, "llm:\n  backend: openai\n  base_url: http://127.0.0.1:9/v1\n")
    plan = plan_reload(
        running, load_settings(config_file=config, profile="testing", data_dir=tmp_path)
    )
    assert plan.applied == []
    assert plan.needs_restart == ["llm.backend"]
    assert plan.settings.llm == running.llm


def test_a_broken_edit_is_refused_with_its_dotted_path_and_the_config_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write(tmp_path / "parley.yaml", "llm:\n  max_reply_tokens: 50\n")

    def load():  # type: ignore[no-untyped-def]
        return load_settings(config_file=config, profile="testing", data_dir=tmp_path)

    applied = []
    live = LiveConfig(path=config, load=load, apply=applied.append, running=load())
    write(config, "llm:\n  max_reply_tokens: 50\nvad:\n  threshold: 7\n")

    assert live.reload("a test") is None

    assert applied == []
    assert live.running.vad.threshold == 0.5
    assert live.last_error is not None and "vad.threshold" in live.last_error
    assert "vad.threshold" in caplog.text and "running configuration stays" in caplog.text
    write(config, "llm:\n  max_reply_tokens: 9\n")
    plan = live.reload("a test")
    assert plan is not None and plan.applied == ["llm.max_reply_tokens"]
    assert applied[-1].llm.max_reply_tokens == 9
    assert live.last_error is None and live.reloads == 1
