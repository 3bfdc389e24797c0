"""The `parley` command's Typer apps, the options its commands share, and its one error guard."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec

import typer

from parley.errors import ParleyError

if TYPE_CHECKING:
    from parley.config.settings import Settings
    from parley.memory.store import ConversationStore

app = typer.Typer(
    help="Parley: a fully local, real-time voice assistant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="The embedded models.", no_args_is_help=True)
config_app = typer.Typer(help="The effective configuration.", no_args_is_help=True)
memory_app = typer.Typer(help="What Parley remembers about you.", no_args_is_help=True)
conversations_app = typer.Typer(help="Stored conversations.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(config_app, name="config")
app.add_typer(memory_app, name="memory")
app.add_typer(conversations_app, name="conversations")

UserOption = Annotated[str, typer.Option("--user", help="Whose memory and conversations.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML config file (else $PARLEY_CONFIG).")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where models, database and keys live.")
]
ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", help="development, production or testing (else $PARLEY_ENV)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
ConversationOption = Annotated[
    str | None, typer.Option("--conversation", help="Continue this conversation id.")
]

P = ParamSpec("P")


def guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Expected errors become one line on stderr and the error's exit status, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except ParleyError as error:
            typer.echo(f"parley: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return run


def settings_for(
    config: Path | None, data_dir: Path | None, profile: str | None = None
) -> Settings:
    """The effective settings (files, environment, flags), with logging set up from them."""
    from parley.config.settings import load_settings
    from parley.ops.log_format import configure_logging

    settings = load_settings(config_file=config, profile=profile, data_dir=data_dir)
    configure_logging(settings.log_level, settings.log_format)
    for noisy in ("faster_whisper", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


@contextlib.contextmanager
def opened_store(settings: Settings) -> Iterator[ConversationStore]:
    from parley.memory.engines import open_store

    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()
