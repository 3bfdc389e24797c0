"""What Parley keeps of what it derives from a model: named by the model file's version, written
whole, the old version's removed, and never a reason to fail."""

import os
from pathlib import Path

import pytest

from parley.models.derived_files import derived_dir, derived_path, keep


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def model_file(tmp_path: Path, content: bytes, mtime_s: int) -> Path:
    source = tmp_path / "models" / "whisper-tiny.en" / "model.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(content)
    os.utime(source, (mtime_s, mtime_s))
    return source


def test_files_live_in_the_user_cache_directory(cache_home: Path) -> None:
    assert derived_dir() == cache_home / "parley"


def test_a_replaced_model_gets_a_new_file_and_the_old_one_is_removed(tmp_path: Path) -> None:
    source = model_file(tmp_path, b"first weights", 1_000)
    first = derived_path(source, "window-end-3000-100", ".npy")
    keep(first, b"first states")
    other_kind = derived_path(source, "aligned", ".onnx")
    keep(other_kind, b"another kind")
    assert first.read_bytes() == b"first states"

    source = model_file(tmp_path, b"second, longer weights", 2_000)
    second = derived_path(source, "window-end-3000-100", ".npy")
    assert second != first
    keep(second, b"second states")
    assert second.read_bytes() == b"second states"
    assert not first.exists(), "what was derived from the old model is removed"
    assert other_kind.read_bytes() == b"another kind", "other kinds are not touched"
    assert [p.name for p in derived_dir().iterdir() if p.name.endswith(".part")] == []


def test_the_same_version_touched_again_is_a_new_version(tmp_path: Path) -> None:
    source = model_file(tmp_path, b"weights", 1_000)
    before = derived_path(source, "aligned", ".onnx")
    os.utime(source, (3_000, 3_000))
    assert derived_path(source, "aligned", ".onnx") != before


def test_a_cache_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    source = model_file(tmp_path, b"weights", 1_000)
    path = derived_path(source, "aligned", ".onnx")
    with caplog.at_level("INFO"):
        keep(path, b"patched")
    assert not path.exists()
    assert "derived again at the next start" in caplog.text
