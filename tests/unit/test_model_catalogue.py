"""Assembling an LLM from its parts: checked by size and SHA-256 before it is put in place."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.errors import ModelLoadError
from parley.models.catalogue import LLM_WEIGHTS, QWEN_0_5B, QWEN_1_5B, LlmWeights, _assemble_llm


@dataclass(frozen=True, slots=True)
class _WeightsInFolder(LlmWeights):
    """Weights whose parts lie in a test's folder instead of installed packages."""

    folder: Path = Path()

    def part_path(self, number: int) -> Path | None:
        part = self.folder / f"part{number:02d}.bin"
        return part if part.is_file() else None


def _weights(folder: Path, parts: list[bytes], *, whole: bytes | None = None) -> _WeightsInFolder:
    folder.mkdir(parents=True, exist_ok=True)
    for number, payload in enumerate(parts, start=1):
        (folder / f"part{number:02d}.bin").write_bytes(payload)
    expected = whole if whole is not None else b"".join(parts)
    return _WeightsInFolder(
        name="tiny",
        file_name="tiny.gguf",
        size_bytes=len(expected),
        sha256=hashlib.sha256(expected).hexdigest(),
        part_packages=tuple(f"tiny_part{n}" for n in range(1, len(parts) + 1)),
        folder=folder,
    )


def test_parts_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    weights = _weights(tmp_path / "parts", [b"GGUF-one-", b"two-", b"three"])
    models = tmp_path / "models"
    models.mkdir()
    assert _assemble_llm(models, weights) == "assembled"
    assert (models / "tiny.gguf").read_bytes() == b"GGUF-one-two-three"
    assert _assemble_llm(models, weights) == "present"


def test_a_damaged_part_leaves_no_model_behind(tmp_path: Path) -> None:
    weights = _weights(
        tmp_path / "parts", [b"GGUF-one-", b"tWo-", b"three"], whole=b"GGUF-one-two-three"
    )
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ModelLoadError, match="damaged"):
        _assemble_llm(models, weights)
    assert list(models.iterdir()) == []


def test_a_missing_part_names_its_package(tmp_path: Path) -> None:
    weights = _weights(tmp_path / "parts", [b"GGUF", b"more"])
    (tmp_path / "parts" / "part02.bin").unlink()
    with pytest.raises(ModelLoadError, match="tiny-part2"):
        _assemble_llm(tmp_path, weights)


def test_the_default_is_the_1_5b_and_the_0_5b_stays_for_speed() -> None:
    from parley.config.settings import LlamaCppConfig

    assert LLM_WEIGHTS[LlamaCppConfig().model] is QWEN_1_5B
    assert len(QWEN_1_5B.part_packages) == 22 and len(QWEN_0_5B.part_packages) == 6
    assert QWEN_1_5B.size_bytes == 1_117_320_768
