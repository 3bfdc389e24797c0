"""Scheduled backups, taken by the running server itself (config: backup.every_hours,
backup.keep): an online SQLite backup into the data directory's backups/, the oldest beyond
``keep`` removed. A backup that fell due while the server was down is taken when it starts."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from parley.memory.archive import backup, backups_in
from parley.memory.store import ConversationStore

log = logging.getLogger(__name__)


def _newest_backup_age_s(backups_dir: Path) -> float | None:
    backups = backups_in(backups_dir)
    return time.time() - backups[-1].stat().st_mtime if backups else None


async def back_up_on_schedule(
    store: ConversationStore, backups_dir: Path, *, every_s: float, keep: int
) -> None:
    """Run until cancelled. A failed backup is logged and tried again at the next time."""
    age_s = _newest_backup_age_s(backups_dir)
    # The first backup of a new data directory is due one interval after the server starts.
    wait_s = every_s if age_s is None else max(0.0, every_s - age_s)
    while True:
        await asyncio.sleep(wait_s)
        try:
            written = await asyncio.to_thread(backup, store, backups_dir, keep=keep)
            log.info("backed up to %s (keeping %d)", written, keep)
        except Exception:
            log.exception("the scheduled backup failed; it is tried again in %.0f s", every_s)
        wait_s = every_s
