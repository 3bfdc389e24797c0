"""The lock files are current: every package pyproject.toml asks for is pinned, with hashes, at a
version its range allows. A dependency added or narrowed without `make lock` fails here, in CI,
instead of surprising a new machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _pins(lock: Path) -> dict[str, str]:
    """Each pinned package of a lock file, by canonical name; every pin carries a hash."""
    pins: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", lock.read_text(encoding="utf-8"))
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        match = _PIN.match(entry)
        assert match, f"{lock.name}: not an exact pin: {entry.splitlines()[0]!r}"
        assert "--hash=sha256:" in entry, f"{lock.name}: {match[1]} has no hash"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in ("models", "dev"):
        declared += project["optional-dependencies"][extra]
    return [Requirement(text) for text in declared]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = _pins(REPO / "requirements.lock")
    for requirement in _requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )


def test_the_packages_installed_without_dependencies_are_pinned() -> None:
    wanted = [
        Requirement(line.split("#")[0].strip())
        for line in (REPO / "requirements-nodeps.in").read_text(encoding="utf-8").splitlines()
        if line.split("#")[0].strip()
    ]
    pins = _pins(REPO / "requirements-nodeps.lock")
    assert {canonicalize_name(r.name) for r in wanted} == set(pins)
    for requirement in wanted:
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)])


def test_no_cuda_pytorch_slips_into_the_lock() -> None:
    pins = _pins(REPO / "requirements.lock")
    assert not {"torch", "sentence-transformers"} & set(pins)
    assert not [name for name in pins if name.startswith("nvidia-")]
