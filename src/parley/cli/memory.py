"""`parley memory …`, `parley conversations …`, `parley backup` and `parley restore`: what
Parley keeps, seen and moved by hand."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from parley.cli.app import (
    ConfigOption,
    DataDirOption,
    UserOption,
    app,
    conversations_app,
    guarded,
    memory_app,
    opened_store,
    settings_for,
)
from parley.errors import ConfigError, ParleyError, StorageError

if TYPE_CHECKING:
    from parley.memory.recall import MemoryRecall
    from parley.memory.store import ConversationStore


def _recall(store: ConversationStore) -> MemoryRecall:
    from parley.memory.recall import MemoryRecall
    from parley.models.embedding import MiniLmEmbedder

    try:
        embedder = MiniLmEmbedder()
    except ParleyError as error:
        typer.echo(f"parley: {error} Searching by keyword only.", err=True)
        embedder = None
    return MemoryRecall(store, embedder)


@memory_app.command("list")
@guarded
def memory_list(
    user: UserOption = "local", config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Every fact Parley keeps about you, newest first."""
    with opened_store(settings_for(config, data_dir)) as store:
        for item in store.memories(user):
            when = time.strftime("%Y-%m-%d", time.localtime(item.created_at))
            typer.echo(f"{item.id:>5}  {when}  {item.source:<9}  {item.text}")


@memory_app.command("search")
@guarded
def memory_search(
    query: str,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The facts nearest in meaning (and words) to QUERY, with their scores."""
    with opened_store(settings_for(config, data_dir)) as store:
        for found in _recall(store).search(user, query, limit=10):
            typer.echo(f"{found.item.id:>5}  {found.score:.3f}  {found.item.text}")


@memory_app.command("add")
@guarded
def memory_add(
    text: str,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remember TEXT (write it about yourself, e.g. "I am vegetarian")."""
    from parley.memory.facts import third_person

    with opened_store(settings_for(config, data_dir)) as store:
        fact = third_person(text)
        item_id = _recall(store).remember(user, fact, source="manual")
    typer.echo(f"remembered {item_id}: {fact}" if item_id else f"already remembered: {fact}")


@memory_app.command("forget")
@guarded
def memory_forget(
    item_id: int,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete the fact with this id (see `parley memory list`)."""
    with opened_store(settings_for(config, data_dir)) as store:
        if not store.delete_memory(user, item_id):
            raise ConfigError(f"No memory {item_id} for user {user!r}: see `parley memory list`.")
    typer.echo(f"forgot {item_id}")


@conversations_app.command("list")
@guarded
def conversations_list(
    user: UserOption = "local", config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Recent conversations, newest first."""
    with opened_store(settings_for(config, data_dir)) as store:
        for conversation in store.conversations(user):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation["created_at"]))
            count = conversation["message_count"]
            typer.echo(
                f"{conversation['id']}  {when}  {count:>3} messages  {conversation['title'][:60]}"
            )


@conversations_app.command("show")
@guarded
def conversations_show(
    conversation_id: str, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Every message of one conversation."""
    with opened_store(settings_for(config, data_dir)) as store:
        if not store.has_conversation(conversation_id):
            raise ConfigError(
                f"No conversation {conversation_id}: see `parley conversations list`."
            )
        for message in store.messages(conversation_id):
            cut = " [interrupted]" if message.is_interrupted else ""
            typer.echo(f"{'you' if message.role == 'user' else 'parley'}: {message.content}{cut}")


@conversations_app.command("export")
@guarded
def conversations_export(
    path: Path,
    export_format: Annotated[
        str, typer.Option("--format", help="jsonl (re-importable) or markdown.")
    ] = "jsonl",
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write every conversation to PATH."""
    from parley.memory.archive import export_jsonl, export_markdown

    if export_format not in {"jsonl", "markdown"}:
        raise ConfigError(f"Unknown export format {export_format!r}: use jsonl or markdown.")
    writer = export_jsonl if export_format == "jsonl" else export_markdown
    with opened_store(settings_for(config, data_dir)) as store:
        count = writer(store, path, user_id=user)
    typer.echo(f"exported {count} conversations to {path}")


@conversations_app.command("import")
@guarded
def conversations_import(
    path: Path,
    user: UserOption = "local",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Read conversations from a JSONL export; ones already present are skipped."""
    from parley.memory.archive import import_jsonl

    with opened_store(settings_for(config, data_dir)) as store:
        imported, skipped = import_jsonl(store, path, user_id=user)
    typer.echo(f"imported {imported} conversations, skipped {skipped} already present")


@app.command()
@guarded
def backup(
    keep: Annotated[int, typer.Option("--keep", min=1, help="How many backups to keep.")] = 7,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Copy the database safely (even while Parley runs) into the data directory's backups/."""
    from parley.memory.archive import backup as make_backup

    settings = settings_for(config, data_dir)
    with opened_store(settings) as store:
        written = make_backup(store, settings.data_dir / "backups", keep=keep)
    typer.echo(f"backup written to {written}")


@app.command()
@guarded
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `parley backup`.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Replace the database with a backup (stop `parley serve` first); the old one is kept."""
    from parley.memory.archive import restore as restore_backup

    settings = settings_for(config, data_dir)
    if settings.store.is_postgres:
        raise StorageError(
            "The store is PostgreSQL (store.url): restore its backups with pg_restore into an "
            "empty database, then point store.url at it (docs/cluster.md)."
        )
    kept = restore_backup(backup_file, settings.database_path)
    typer.echo(
        f"restored {backup_file}" + (f"; the previous database is kept as {kept}" if kept else "")
    )
