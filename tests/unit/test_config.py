from pathlib import Path

import pytest

from parley.config.settings import LlamaCppConfig, OpenAICompatConfig, load_settings
from parley.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_ENV", raising=False)
    settings = load_settings()
    assert isinstance(settings.llm, LlamaCppConfig)
    assert settings.vad.end_silence_ms == 500
    assert settings.log_level == "info"


def test_precedence_cli_over_env_over_file_over_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "parley.yaml",
        "llm:\n  temperature: 0.9\n  max_reply_tokens: 33\nvad:\n  end_silence_ms: 700\n  threshold: 0.6\n",
    )
    monkeypatch.setenv("PARLEY_VAD__END_SILENCE_MS", "450")
    settings = load_settings(config_file=config, profile="testing", data_dir=tmp_path / "cli")
    assert settings.llm.temperature == 0.9  # the user's file beats the testing profile (0.0)
    assert settings.llm.max_reply_tokens == 33
    assert settings.vad.end_silence_ms == 450  # env beats the file
    assert settings.vad.threshold == 0.6  # the file's other keys survive the deep merge
    assert settings.log_level == "debug"  # from the testing profile
    assert settings.data_dir == tmp_path / "cli"  # the CLI flag beats everything


def test_env_selects_the_profile_and_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "c.yaml", "stt:\n  partial_interval_ms: 900\n")
    monkeypatch.setenv("PARLEY_CONFIG", str(config))
    monkeypatch.setenv("PARLEY_ENV", "production")
    settings = load_settings()
    assert settings.stt.partial_interval_ms == 900
    assert settings.log_level == "warning"


def test_env_chooses_the_openai_compatible_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_LLM__BACKEND", "openai")
    monkeypatch.setenv("PARLEY_LLM__BASE_URL", "http://127.0.0.1:8080/v1")
    settings = load_settings()
    assert isinstance(settings.llm, OpenAICompatConfig)
    assert str(settings.llm.base_url) == "http://127.0.0.1:8080/v1"


def test_an_unknown_key_names_its_dotted_path_and_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.yaml", "llm:\n  n_thread: 4\n")
    with pytest.raises(
        ConfigError, match=r"llm\.llama_cpp\.n_thread: Extra inputs are not permitted"
    ) as caught:
        load_settings(config_file=config)
    assert str(config) in str(caught.value)


def test_a_wrong_type_is_reported_with_its_path(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.yaml", "vad:\n  end_silence_ms: soon\n")
    with pytest.raises(ConfigError, match=r"vad\.end_silence_ms: Input should be a valid integer"):
        load_settings(config_file=config)


def test_an_unknown_profile_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown profile 'staging'"):
        load_settings(profile="staging")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(config_file=write(tmp_path / "broken.yaml", "llm: [unclosed"))


def test_the_machine_is_named_with_its_simd(tmp_path: Path) -> None:
    from parley.ops.machine import cpu_line, describe_cpu

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx avx2 fma f16c\n"
    )
    described = describe_cpu(cpuinfo)
    assert described["cpu"] == "AMD EPYC 7B13" and described["simd"] == [
        "avx",
        "avx2",
        "fma",
        "f16c",
    ]
    assert cpu_line(described).startswith("AMD EPYC 7B13, ") and "avx512f" not in cpu_line(
        described
    )


def test_a_nan_threshold_is_refused_with_its_dotted_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_VAD__THRESHOLD", "nan")
    with pytest.raises(ConfigError, match="vad.threshold"):
        load_settings(data_dir=tmp_path)


def test_the_store_url_picks_an_engine_and_a_wrong_one_says_which_it_may_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not load_settings(data_dir=tmp_path).store.is_postgres
    assert load_settings(data_dir=tmp_path).database_path == tmp_path / "parley.sqlite3"
    monkeypatch.setenv("PARLEY_STORE__URL", f"sqlite:///{tmp_path}/elsewhere.sqlite3")
    assert load_settings(data_dir=tmp_path).database_path == tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("PARLEY_STORE__URL", "postgresql://parley:pw@db.internal/parley")
    assert load_settings(data_dir=tmp_path).store.is_postgres
    monkeypatch.setenv("PARLEY_STORE__URL", "mysql://parley@db/parley")
    with pytest.raises(ConfigError, match="store.url must start with sqlite:/// .* postgresql://"):
        load_settings(data_dir=tmp_path)


def test_a_shared_signing_secret_signs_tokens_every_worker_accepts(tmp_path: Path) -> None:
    from parley.server.auth import authenticator_for

    config = write(
        tmp_path / "worker.yaml", "server:\n  signing_secret: s3cret-shared-by-all-workers\n"
    )
    key = "pk-the-cluster-api-key-0123"
    first = authenticator_for(load_settings(config_file=config, data_dir=tmp_path / "a"), key)
    second = authenticator_for(load_settings(config_file=config, data_dir=tmp_path / "b"), key)
    token, _ = first.mint_token()
    assert second.check(token) is None
    # Without it each data directory keeps its own random secret: the token is refused.
    alone = authenticator_for(load_settings(data_dir=tmp_path / "c"), key)
    assert alone.check(token) is not None
    short = write(tmp_path / "short.yaml", "server:\n  signing_secret: short\n")
    with pytest.raises(ConfigError, match="server.signing_secret must be at least 16"):
        load_settings(config_file=short)
