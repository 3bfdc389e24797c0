"""Everything a conversation runs on, opened once and closed once: the models, the store and
the user's tools. `talk`, `chat`, `serve`, `bench` and the tests all open it the same way, so
they run the same pipeline.

    async with Runtime.open(settings) as runtime:
        session = runtime.session(sink=...)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from parley.audio.sink import AudioSink
from parley.config.settings import Settings
from parley.errors import ConfigError
from parley.memory.engines import open_store
from parley.memory.sqlite_store import SqliteStore
from parley.memory.store import ConversationStore
from parley.models.loaded import Backends
from parley.pipeline.events import SessionObserver
from parley.pipeline.session import Session
from parley.tools.timers import TimerClock
from parley.tools.toolbox import Toolbox, start_user_toolbox


@dataclass(frozen=True)
class Runtime:
    backends: Backends
    store: ConversationStore
    toolbox: Toolbox
    # Timers and reminders, going off on time while the runtime is open.
    timers: TimerClock

    @property
    def settings(self) -> Settings:
        # The backends hold the one live copy, which a config reload replaces.
        return self.backends.settings

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        backends: Backends | None = None,
        database_path: Path | None = None,
    ) -> AsyncIterator[Runtime]:
        """``backends`` may be passed in already loaded (tests share one set); the store is the
        configured database unless ``database_path`` says otherwise (the bench's scratch one)."""
        if backends is None:
            backends = await asyncio.to_thread(Backends.load, settings)
        store = await asyncio.to_thread(
            lambda: SqliteStore(database_path) if database_path else open_store(settings)
        )
        try:
            timers = TimerClock(store)
            toolbox = await start_user_toolbox(settings, backends, store, timers)
            clock = asyncio.create_task(timers.run(), name="timers")
            try:
                yield cls(backends, store, toolbox, timers)
            finally:
                clock.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await clock
                await toolbox.close()
        finally:
            store.close()

    def session(
        self,
        *,
        sink: AudioSink,
        conversation_id: str | None = None,
        observer: SessionObserver | None = None,
    ) -> Session:
        """A conversation on this runtime: a new one, or ``conversation_id`` continued."""
        if conversation_id is not None and not self.store.has_conversation(conversation_id):
            raise ConfigError(
                f"No conversation {conversation_id!r} in {self.store.location}. Leave it out to "
                "start a new one."
            )
        return Session(
            self.backends,
            store=self.store,
            sink=sink,
            conversation_id=conversation_id,
            observer=observer,
            toolbox=self.toolbox,
        )
