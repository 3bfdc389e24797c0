"""What a server runs between start and stop, for each role: the models alone (a model
server), or the whole runtime (sessions, the store, tools) with its watchers, the live
configuration, scheduled backups and Wyoming. Each piece is entered on one exit stack, so a
stop undoes them in reverse whatever failed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from parley.config.settings import Settings
from parley.models.contracts import ReconfigurableLanguageModel
from parley.models.loaded import Backends
from parley.pipeline.runtime import Runtime
from parley.server.backups import back_up_on_schedule
from parley.server.health import HealthWatch
from parley.server.live_config import LiveConfig
from parley.server.state import ServerState
from parley.server.wyoming import WyomingService

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _running(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """``work`` as a task for the life of the block, cancelled at its end."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def models_lifespan(state: ServerState, backends: Backends | None) -> Lifespan:
    @asynccontextmanager
    async def serve_models(_app: FastAPI) -> AsyncIterator[None]:
        state.backends = backends or await asyncio.to_thread(Backends.load, state.settings)
        state.health = HealthWatch(
            lambda: state.settings,
            state.metrics,
            hub=lambda: None,
            sessions=lambda: 0,
            config_state=dict,
        )
        async with _running(state.health.run(), "health"):
            yield

    return serve_models


def _on_hangup(live_config: LiveConfig | None) -> None:
    # SIGHUP would otherwise end the process: a server without a file to reload says so.
    if live_config is None:
        log.warning("SIGHUP: no config file to reload (start with --config FILE); still serving")
    else:
        live_config.reload("SIGHUP")


@contextlib.contextmanager
def _hangup_handled(live_config: LiveConfig | None) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    is_handling = False
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        # Only the main thread may handle signals (tests serve from a thread).
        loop.add_signal_handler(signal.SIGHUP, _on_hangup, live_config)
        is_handling = True
    try:
        yield
    finally:
        if is_handling:
            loop.remove_signal_handler(signal.SIGHUP)


def _live_config(state: ServerState, runtime: Runtime) -> LiveConfig | None:
    path, load = state.config_path, state.reload_settings
    if path is None or load is None:
        return None

    def apply(reloaded: Settings) -> None:
        # The server's and the sessions' (which read their models' settings afresh each turn).
        state.settings = runtime.backends.settings = reloaded
        if isinstance(llm := runtime.backends.llm, ReconfigurableLanguageModel):
            llm.reconfigure(reloaded.llm)
        logging.getLogger().setLevel(reloaded.log_level.upper())

    return LiveConfig(path=path, load=load, apply=apply, running=state.settings)


def sessions_lifespan(
    state: ServerState,
    backends: Backends | None,
    mcp_session_manager: Callable[[], AbstractAsyncContextManager[None]],
) -> Lifespan:
    settings = state.settings

    @asynccontextmanager
    async def serve_sessions(_app: FastAPI) -> AsyncIterator[None]:
        async with (
            Runtime.open(settings, backends=backends) as runtime,
            contextlib.AsyncExitStack() as stack,
        ):
            state.runtime, state.backends = runtime, runtime.backends
            runtime.toolbox.hub.call_observers.append(state.metrics.observe_tool_call)
            live_config = _live_config(state, runtime)
            state.health = HealthWatch(
                lambda: state.settings,
                state.metrics,
                hub=lambda: runtime.toolbox.hub,
                sessions=lambda: state.realtime_sessions,
                config_state=lambda: {} if live_config is None else live_config.state(),
            )
            await stack.enter_async_context(_running(state.health.run(), "health"))
            if live_config is not None:
                await stack.enter_async_context(_running(live_config.watch(), "config-watch"))
            stack.enter_context(_hangup_handled(live_config))
            if (every_hours := settings.backup.every_hours) is not None:
                backing_up = back_up_on_schedule(
                    runtime.store,
                    settings.data_dir / "backups",
                    every_s=every_hours * 3600,
                    keep=settings.backup.keep,
                )
                await stack.enter_async_context(_running(backing_up, "backups"))
            if settings.wyoming.uri is not None:
                state.wyoming = WyomingService(runtime, state.metrics, settings.wyoming)
                await state.wyoming.start()
                stack.push_async_callback(state.wyoming.close)
            stack.push_async_callback(state.calls.close_all)
            await stack.enter_async_context(mcp_session_manager())
            yield

    return serve_sessions
