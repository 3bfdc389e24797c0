"""The package layout holds: one allowed import order, read from every import in src/ (lazy ones
inside functions too), no module too long to read in one sitting, and ruff (in `make check`)
keeps every function's size and complexity in bounds; the browser client is ES modules of one
concern each, under their own line limit, linted by eslint at pinned versions."""

from __future__ import annotations

import ast
import json
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


WEB = SRC / "web"
MAX_WEB_LINES = 300


def test_the_page_s_scripts_are_modules_under_their_line_limit() -> None:
    scripts = sorted(WEB.glob("*.js"))
    assert len(scripts) >= 6, "the page is split by concern"
    long = {
        script.name: count
        for script in scripts
        if (count := len(script.read_text(encoding="utf-8").splitlines())) > MAX_WEB_LINES
    }
    assert not long, f"split these by concern (at most {MAX_WEB_LINES} lines): {long}"
    page = (WEB / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/static/app.js">' in page


def test_make_check_runs_eslint_at_the_versions_the_lock_pins() -> None:
    root = SRC.parents[1]
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "eslint src/parley/web" in lint
    assert "npm ci" in makefile  # the lock, not the newest release
    manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((root / "package-lock.json").read_text(encoding="utf-8"))
    for name, version in manifest["devDependencies"].items():
        assert version[0].isdigit(), f"{name} is pinned to one version, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
