"""The store engine a config names (store.url): opened here, and nowhere else."""

from __future__ import annotations

from parley.config.settings import Settings
from parley.memory.store import ConversationStore

__all__ = ["open_store"]


def open_store(settings: Settings) -> ConversationStore:
    """The SQLite file by default; PostgreSQL where store.url names one. Its driver is imported
    only then, so the single-box default never loads it."""
    if settings.store.is_postgres:
        from parley.memory.postgres_store import PostgresStore

        assert settings.store.url is not None
        return PostgresStore(
            settings.store.url,
            pool_size=settings.store.pool_size,
            connect_timeout_s=settings.store.connect_timeout_s,
        )
    from parley.memory.sqlite_store import SqliteStore

    return SqliteStore(settings.database_path)
