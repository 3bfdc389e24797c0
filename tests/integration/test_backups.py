"""Scheduled backups: taken on time by the running server's schedule, rotated to the newest
few, each a whole database."""

import asyncio
import os
import time
from pathlib import Path

import pytest

from parley.memory.database import sqlite3
from parley.memory.sqlite_store import SqliteStore
from parley.server.backups import back_up_on_schedule


async def test_backups_come_on_schedule_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "parley.sqlite3")
    conversation = store.create_conversation()
    store.add_message(conversation, "user", "Remember the milk.")
    backups_dir = tmp_path / "backups"
    schedule = asyncio.create_task(back_up_on_schedule(store, backups_dir, every_s=0.25, keep=2))
    await asyncio.sleep(0.15)
    assert not backups_dir.exists()  # a new data directory: the first is one interval away
    await asyncio.sleep(1.1)  # four intervals
    schedule.cancel()
    kept = sorted(backups_dir.glob("parley-*.sqlite3"))
    assert len(kept) == 2
    for path in kept:
        copy = sqlite3.connect(path)
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT content FROM messages").fetchall() == [("Remember the milk.",)]
        copy.close()
    store.close()


async def test_a_backup_that_fell_due_while_the_server_was_down_is_taken_at_start(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "parley.sqlite3")
    backups_dir = tmp_path / "backups"
    backups_dir.mkdir()
    old = backups_dir / "parley-20260101-000000-000.sqlite3"
    store.backup_to(old)
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old, (two_days_ago, two_days_ago))
    schedule = asyncio.create_task(back_up_on_schedule(store, backups_dir, every_s=86_400, keep=7))
    await asyncio.sleep(0.5)
    schedule.cancel()
    assert len(list(backups_dir.glob("parley-*.sqlite3"))) == 2
    store.close()


def test_backups_in_one_millisecond_are_all_kept_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast machine took two backups in one millisecond, the second overwriting the first
    under the same name, and rotation then kept one. The clock is held still here."""
    from parley.memory import archive

    store = SqliteStore(tmp_path / "parley.sqlite3")
    store.create_conversation()
    monkeypatch.setattr(archive.time, "time", lambda: 1_796_000_000.5)
    made = [archive.backup(store, tmp_path / "backups", keep=3) for _ in range(3)]
    assert len(set(made)) == 3
    assert archive.backups_in(tmp_path / "backups") == made  # oldest first, all kept
