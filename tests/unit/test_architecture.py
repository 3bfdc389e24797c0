"""The package layout holds: one allowed import order, read from every import in src/ (lazy ones
inside functions too), no module too long to read in one sitting, and ruff (in `make check`)
keeps every function's size and complexity in bounds."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "parley"

# Lowest first: a package may import from itself and from those before it, never after.
IMPORT_ORDER = (
    "errors",
    "config",
    "audio",
    "models",
    "memory",
    "tools",
    "pipeline",
    "ops",
    "server",
    "bench",
    "cli",
    "__main__",
)
# What may sit at the top of src/parley beside the packages.
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "errors.py"}
MAX_LINES = 400


def _package_of(module: Path) -> str:
    first = module.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


def _imported_packages(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "parley":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # `from parley import x`: x is the package (or __version__, from __init__)
                found.update(alias.name for alias in node.names if alias.name != "__version__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "parley" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(path for path in SRC.rglob("*.py") if "__pycache__" not in path.parts)


def test_every_import_follows_the_package_order() -> None:
    rank = {name: index for index, name in enumerate(IMPORT_ORDER)}
    upward: list[str] = []
    for module in _modules():
        own = _package_of(module)
        if own == "__init__":
            continue
        assert own in rank, f"{module.relative_to(SRC)} is in no package of the import order"
        for imported in _imported_packages(module):
            assert imported in rank, f"{module.relative_to(SRC)} imports unknown parley.{imported}"
            if rank[imported] > rank[own]:
                upward.append(f"{module.relative_to(SRC)} imports parley.{imported}")
    assert not upward, "imports from a package above:\n" + "\n".join(upward)


def test_the_top_level_holds_only_the_entry_points_and_errors() -> None:
    top = {path.name for path in SRC.glob("*.py")}
    assert top <= TOP_LEVEL_MODULES, sorted(top - TOP_LEVEL_MODULES)


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(module.relative_to(SRC)): count
        for module in _modules()
        if (count := len(module.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these by concept (at most {MAX_LINES} lines): {long}"


def test_ruff_bounds_every_function_s_complexity_branches_and_statements() -> None:
    lint = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    rules = lint["tool"]["ruff"]["lint"]
    assert {"C901", "PLR0912", "PLR0915"} <= set(rules["select"])
    assert rules["mccabe"]["max-complexity"] <= 12
    assert rules["pylint"]["max-branches"] <= 12
    assert rules["pylint"]["max-statements"] <= 50
    ignored = {rule for rules in rules.get("per-file-ignores", {}).values() for rule in rules}
    assert not ignored & {"C901", "PLR0912", "PLR0915"}


def test_the_order_test_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from parley.server.app import create_app\n")
    assert _imported_packages(module) == {"server"}
