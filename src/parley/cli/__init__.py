"""The `parley` command line: one Typer app, its commands grouped by concern in this package."""

from parley.cli import (  # noqa: F401  (they register commands)
    admin,
    conversation,
    evaluation,
    listening,
    memory,
    monitor,
    service,
    serving,
)
from parley.cli.app import app


def main() -> None:
    app()
