"""What the running server holds, typed: one ``ServerState`` on the app, and the dependencies that
hand routes its parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, cast

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp

from parley.config.settings import Settings
from parley.memory.store import ConversationStore
from parley.models.loaded import Backends
from parley.ops.metrics import ServerMetrics
from parley.pipeline.runtime import Runtime
from parley.server.auth import Authenticator
from parley.server.health import HealthWatch
from parley.server.realtime.rtc_calls import RtcCalls
from parley.server.wyoming import WyomingService


@dataclass
class ServerState:
    settings: Settings  # the server's, replaced whole by a config reload
    authenticator: Authenticator
    metrics: ServerMetrics
    config_path: Path | None = None
    reload_settings: Callable[[], Settings] | None = None  # the loader `parley serve` used
    realtime_sessions: int = 0  # WebSocket sessions and WebRTC calls
    calls: RtcCalls = field(default_factory=RtcCalls)
    backends: Backends | None = None  # loaded by the lifespan
    runtime: Runtime | None = None  # with role "all": the store, tools and sessions' pipeline
    health: HealthWatch | None = None
    wyoming: WyomingService | None = None  # with wyoming.uri: Home Assistant's listener

    def take_session_slot(self) -> bool:
        """One of the ``max_sessions`` realtime slots (a socket or a call), or False when none
        is free. Taken before the caller's first await, so that simultaneous handshakes cannot
        all pass the check."""
        if self.realtime_sessions >= self.settings.server.max_sessions:
            return False
        self.realtime_sessions += 1
        self.metrics.sessions.inc()
        return True

    def release_session_slot(self) -> None:
        self.realtime_sessions -= 1
        self.metrics.sessions.dec()

    def resumed_conversation(self, requested: str | None) -> str | None:
        """The conversation a client asked to continue (``?conversation=``), or None when it is
        gone (deleted): a reconnect then starts afresh rather than fails."""
        if requested is None or not self.running.store.has_conversation(requested):
            return None
        return requested

    @property
    def loaded(self) -> Backends:
        if self.backends is None:
            raise HTTPException(503, "the models are still loading; try again in a moment")
        return self.backends

    @property
    def running(self) -> Runtime:
        if self.runtime is None:
            raise HTTPException(404, "this server serves the models alone (role: models)")
        return self.runtime


def state_of(app: ASGIApp) -> ServerState:
    return cast(ServerState, app.state.parley)  # type: ignore[attr-defined]


def _state(connection: HTTPConnection) -> ServerState:
    return state_of(connection.app)


def _backends(connection: HTTPConnection) -> Backends:
    return _state(connection).loaded


def _store(connection: HTTPConnection) -> ConversationStore:
    return _state(connection).running.store


StateDep = Annotated[ServerState, Depends(_state)]
BackendsDep = Annotated[Backends, Depends(_backends)]
StoreDep = Annotated[ConversationStore, Depends(_store)]
