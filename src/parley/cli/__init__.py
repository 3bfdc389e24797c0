"""The `parley` command line: one Typer app, its commands grouped by concern in this package."""

from parley.cli import admin, conversation, listening, memory, service, serving  # noqa: F401  (they register commands)
from parley.cli.app import app


def main() -> None:
    app()
