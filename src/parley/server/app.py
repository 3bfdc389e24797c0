"""The FastAPI app: models loaded once at start, credentials on every route but /health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from parley import __version__
from parley.config.settings import Settings
from parley.errors import AudioDecodeError, BackendError, ContextTooLongError, ParleyError
from parley.memory.mcp_server import make_parley_mcp_server
from parley.memory.recall import MemoryRecall
from parley.models.contracts import ReconfigurableLanguageModel
from parley.models.loaded import Backends
from parley.ops.metrics import ServerMetrics
from parley.pipeline.runtime import Runtime
from parley.server.api import router as api_router
from parley.server.auth import (
    authenticator_for,
    bearer,
)
from parley.server.backups import back_up_on_schedule
from parley.server.guard import HostGuard, RequestGuard, allowed_hosts
from parley.server.header_deadline import with_header_timeout
from parley.server.health import HealthWatch
from parley.server.live_config import LiveConfig
from parley.server.openai_http import TRANSCRIPTION_BODY_BYTES
from parley.server.openai_http import router as openai_router
from parley.server.realtime.route import serve_realtime
from parley.server.realtime.rtc_calls import offer_host_addresses
from parley.server.request_ids import RequestIds
from parley.server.state import ServerState, state_of
from parley.server.wyoming import WyomingService

# "all": sessions, memory and models in one process; "models": the models alone, served to the
# workers of a cluster over their OpenAI-compatible routes.
ServerRole = Literal["all", "models"]

log = logging.getLogger(__name__)


def _openai_error(
    status_code: int, message: str, code: str, error_type: str = "invalid_request_error"
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": error_type, "code": code, "param": None}},
        status_code=status_code,
    )


_SMALL_BODY_BYTES = 16 * 1024
_SDP_BODY_BYTES = 64 * 1024  # a WebRTC offer: a few kilobytes


class _LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=2048)


class _RawAsgi:
    """An ASGI app as a class, so Starlette routes it raw (the MCP endpoint)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._inner(scope, receive, send)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves Parley: one place for `parley serve` and the tests."""
    stall_s = settings.server.max_send_stall_s
    return {
        "log_level": "warning",
        # Parley's own handler (log_format.configure_logging) writes uvicorn's lines too, in
        # the configured format.
        "log_config": None,
        # A message over server.max_message_bytes gets an error event and the socket stays
        # open; only one four times larger is refused by uvicorn itself (close code 1009).
        "ws_max_size": 4 * settings.server.max_message_bytes,
        # A client that stops reading stops answering pings: uvicorn closes its socket after
        # about twice this, which ends its session, cancels its reply and frees its slot.
        # (uvicorn's WebSocket writes do not wait for the client, so there is no other sign.)
        "ws_ping_interval": stall_s,
        "ws_ping_timeout": stall_s,
        "limit_concurrency": settings.server.max_connections,
        "http": with_header_timeout(settings.server.header_timeout_s),
    }


def _on_hangup(live_config: LiveConfig | None) -> None:
    # SIGHUP would otherwise end the process: a server without a file to reload says so.
    if live_config is None:
        log.warning("SIGHUP: no config file to reload (start with --config FILE); still serving")
    else:
        live_config.reload("SIGHUP")


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


def create_app(
    settings: Settings,
    *,
    api_key: str,
    backends: Backends | None = None,
    bind_host: str | None = None,
    config_path: Path | None = None,
    reload_settings: Callable[[], Settings] | None = None,
    role: ServerRole = "all",
) -> FastAPI:
    """Build the app. ``backends`` may be passed in already loaded (tests share one set).

    With ``config_path`` and ``reload_settings`` (the loader `parley serve` started with), the
    file is watched and reloaded live, and SIGHUP reloads it too.

    Every HTTP route but /health, the sign-in exchange and the page needs a credential, checked
    from the headers before any body is read (``CredentialGuard``); bodies are capped by
    ``server.max_body_bytes`` (uploads by their own route's limit).

    ``role="models"`` serves the models alone, for workers elsewhere (the OpenAI-compatible
    /v1/audio/transcriptions, /v1/audio/speech, /v1/chat/completions): no store, no sessions,
    no page, no memory.
    """

    @asynccontextmanager
    async def serve_models(_app: FastAPI) -> AsyncIterator[None]:
        state.backends = backends or await asyncio.to_thread(Backends.load, settings)
        health = HealthWatch(
            lambda: state.settings,
            state.metrics,
            hub=lambda: None,
            sessions=lambda: 0,
            config_state=dict,
        )
        state.health = health
        watcher = asyncio.create_task(health.run(), name="health")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with Runtime.open(settings, backends=backends) as runtime:
            state.runtime, state.backends = runtime, runtime.backends
            runtime.toolbox.hub.call_observers.append(state.metrics.observe_tool_call)
            live_config = _live_config(state, runtime)
            health = HealthWatch(
                lambda: state.settings,
                state.metrics,
                hub=lambda: runtime.toolbox.hub,
                sessions=lambda: state.realtime_sessions,
                config_state=lambda: {} if live_config is None else live_config.state(),
            )
            state.health = health
            watchers = [asyncio.create_task(health.run(), name="health")]
            if live_config is not None:
                watchers.append(asyncio.create_task(live_config.watch(), name="config-watch"))
            is_handling_hangup = False
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                # Only the main thread may handle signals (tests serve from a thread).
                asyncio.get_running_loop().add_signal_handler(
                    signal.SIGHUP, _on_hangup, live_config
                )
                is_handling_hangup = True
            backups = settings.backup
            scheduled = (
                asyncio.create_task(
                    back_up_on_schedule(
                        runtime.store,
                        settings.data_dir / "backups",
                        every_s=backups.every_hours * 3600,
                        keep=backups.keep,
                    )
                )
                if backups.every_hours is not None
                else None
            )
            if settings.wyoming.uri is not None:
                state.wyoming = WyomingService(runtime, state.metrics, settings.wyoming)
                await state.wyoming.start()
            try:
                async with mcp_server.session_manager.run():
                    yield
            finally:
                await state.calls.close_all()
                if state.wyoming is not None:
                    await state.wyoming.close()
                if is_handling_hangup:
                    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
                for task in [*watchers, *([scheduled] if scheduled is not None else [])]:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    # Body limits are set per router and route rather than on the app: the app's own limit runs
    # outside every middleware, so it would answer an unauthenticated request before the
    # credential check, in plain text.
    body_limit = settings.server.max_body_bytes
    app = FastAPI(
        title="Parley", version=__version__, lifespan=serve_models if role == "models" else lifespan
    )
    app.state.parley = state = ServerState(
        settings=settings,
        authenticator=authenticator_for(settings, api_key),
        metrics=ServerMetrics(),
        config_path=config_path,
        reload_settings=reload_settings,
    )
    app.add_middleware(
        RequestGuard,
        authenticator=lambda: state.authenticator,
        body_limits={
            "/v1/audio/transcriptions": TRANSCRIPTION_BODY_BYTES,
            "/v1/login": _SMALL_BODY_BYTES,
            "/v1/realtime/client_secrets": _SMALL_BODY_BYTES,
            "/v1/realtime/calls": _SDP_BODY_BYTES,
        },
        default_body_limit=body_limit,
    )
    app.add_middleware(
        HostGuard, allowed_hosts=allowed_hosts(bind_host or settings.server.host, settings)
    )
    app.add_middleware(RequestIds)  # outermost: a refused request has an id too

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        code = {401: "invalid_api_key", 404: "not_found", 413: "request_too_large"}.get(
            error.status_code, "invalid_request"
        )
        response = _openai_error(error.status_code, str(error.detail), code)
        if error.headers:
            response.headers.update(error.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'] if p != 'body')}: {item['msg']}"
            for item in error.errors()
        )
        return _openai_error(400, f"Invalid request: {problems}", "invalid_request")

    @app.exception_handler(ParleyError)
    async def parley_error(_request: Request, error: ParleyError) -> JSONResponse:
        if isinstance(error, AudioDecodeError):
            return _openai_error(400, str(error), "invalid_audio")
        if isinstance(error, ContextTooLongError):
            return _openai_error(400, str(error), "context_length_exceeded")
        if isinstance(error, BackendError):
            return _openai_error(502, str(error), "backend_error", "server_error")
        return _openai_error(500, str(error), "server_error", "server_error")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/monitor")
    async def monitor() -> dict[str, Any]:
        """The server's health as `parley monitor` and the page's Health panel show it."""
        if state.health is None:
            raise HTTPException(503, "the server is still starting")
        return state.health.snapshot()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/login", max_body_size=_SMALL_BODY_BYTES)
    async def login(body: _LoginIn) -> dict[str, Any]:
        """A one-time login code (from the start-up banner or `parley login`) for a browser
        sign-in token, which mints client secrets but opens nothing else."""
        if (reason := state.authenticator.redeem_login_code(body.code)) is not None:
            raise HTTPException(401, reason)
        token, expires_at = state.authenticator.mint("browser")
        return {"value": token, "expires_at": expires_at}

    @app.post("/v1/realtime/client_secrets", max_body_size=_SMALL_BODY_BYTES)
    async def client_secrets(request: Request) -> dict[str, Any]:
        authenticator = state.authenticator
        credential = bearer(request.headers.get("authorization")) or ""
        if not (authenticator.is_api_key(credential) or authenticator.is_browser_token(credential)):
            raise HTTPException(
                401, "a client secret is minted with the API key or a browser sign-in token"
            )
        token, expires_at = authenticator.mint_token()
        return {
            "value": token,
            "expires_at": expires_at,
            "session": {"type": "realtime", "object": "realtime.session", "model": "parley"},
        }

    app.include_router(openai_router, max_body_size=body_limit)
    if role == "models":
        return app
    app.include_router(api_router, max_body_size=body_limit)

    web_dir = Path(__file__).resolve().parent.parent / "web"
    app.mount("/static", StaticFiles(directory=web_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        # The page itself holds no data; it asks for a token before it can do anything.
        return FileResponse(web_dir / "index.html", headers={"Cache-Control": "no-store"})

    # Parley's memory as an MCP server (streamable HTTP) at /mcp, behind the same credentials.
    mcp_server = make_parley_mcp_server(
        lambda: state.running.store,
        lambda: MemoryRecall(state.running.store, state.loaded.embedder),
        lambda: state.loaded.llm,
    )
    mcp_endpoint = (
        mcp_server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
        .routes[0]
        .endpoint
    )

    app.router.routes.append(
        Route(
            "/mcp",
            endpoint=_RawAsgi(mcp_endpoint),
            methods=["GET", "POST", "DELETE"],
            max_body_size=body_limit,
        )
    )

    @app.websocket("/v1/realtime")
    async def realtime(websocket: WebSocket) -> None:
        await serve_realtime(websocket, state_of(websocket.app))

    # The Realtime protocol over WebRTC: an SDP offer in, the answer out, events on the
    # caller's data channel. The credential is checked by RequestGuard before the body is read.
    offer_host_addresses(settings.server.webrtc, bind_host or settings.server.host)

    @app.post("/v1/realtime/calls", status_code=201, max_body_size=_SDP_BODY_BYTES)
    async def open_call(request: Request) -> Response:
        return await state.calls.open(request, state)

    @app.delete("/v1/realtime/calls/{call_id}")
    async def hang_up(call_id: str) -> dict[str, Any]:
        state.calls.hang_up(call_id)
        return {"id": call_id, "object": "realtime.call", "deleted": True}

    return app
