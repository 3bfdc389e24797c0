"""The FastAPI app: models loaded once at start, credentials on every route but /health."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from parley import __version__
from parley.config.settings import Settings
from parley.memory.mcp_server import make_parley_mcp_server
from parley.memory.recall import MemoryRecall
from parley.models.loaded import Backends
from parley.ops.metrics import ServerMetrics
from parley.server.api import router as api_router
from parley.server.auth import authenticator_for
from parley.server.guard import HostGuard, RequestGuard, allowed_hosts
from parley.server.header_deadline import with_header_timeout
from parley.server.http_errors import install_error_handlers
from parley.server.lifespans import models_lifespan, sessions_lifespan
from parley.server.openai_http import TRANSCRIPTION_BODY_BYTES
from parley.server.openai_http import router as openai_router
from parley.server.realtime.route import SDP_BODY_BYTES
from parley.server.realtime.route import router as realtime_router
from parley.server.realtime.rtc_calls import offer_host_addresses
from parley.server.request_ids import RequestIds
from parley.server.sign_in import SMALL_BODY_BYTES
from parley.server.sign_in import router as sign_in_router
from parley.server.state import ServerState
from parley.server.status_routes import router as status_router

# "all": sessions, memory and models in one process; "models": the models alone, served to the
# workers of a cluster over their OpenAI-compatible routes.
ServerRole = Literal["all", "models"]


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
    state = ServerState(
        settings=settings,
        authenticator=authenticator_for(settings, api_key),
        metrics=ServerMetrics(),
        config_path=config_path,
        reload_settings=reload_settings,
    )
    mcp_server = make_parley_mcp_server(
        lambda: state.running.store,
        lambda: MemoryRecall(state.running.store, state.loaded.embedder),
        lambda: state.loaded.llm,
    )
    # The MCP session manager exists only once /mcp is mounted (below): reached through a lambda.
    lifespan = (
        models_lifespan(state, backends)
        if role == "models"
        else sessions_lifespan(state, backends, lambda: mcp_server.session_manager.run())
    )
    app = FastAPI(title="Parley", version=__version__, lifespan=lifespan)
    app.state.parley = state
    _guard(app, state, bind_host or settings.server.host)
    install_error_handlers(app)
    # Body limits are set per router and route rather than on the app: the app's own limit runs
    # outside every middleware, so it would answer an unauthenticated request before the
    # credential check, in plain text.
    body_limit = settings.server.max_body_bytes
    app.include_router(status_router)
    app.include_router(sign_in_router)
    app.include_router(openai_router, max_body_size=body_limit)
    if role == "models":
        return app
    app.include_router(api_router, max_body_size=body_limit)
    _mount_page(app)
    _mount_mcp(app, mcp_server, body_limit)
    offer_host_addresses(settings.server.webrtc, bind_host or settings.server.host)
    app.include_router(realtime_router)
    return app


def _guard(app: FastAPI, state: ServerState, host: str) -> None:
    """The middleware every request passes, outermost last: ids, host names, credentials."""
    app.add_middleware(
        RequestGuard,
        authenticator=lambda: state.authenticator,
        body_limits={
            "/v1/audio/transcriptions": TRANSCRIPTION_BODY_BYTES,
            "/v1/login": SMALL_BODY_BYTES,
            "/v1/realtime/client_secrets": SMALL_BODY_BYTES,
            "/v1/realtime/calls": SDP_BODY_BYTES,
        },
        default_body_limit=state.settings.server.max_body_bytes,
    )
    app.add_middleware(HostGuard, allowed_hosts=allowed_hosts(host, state.settings))
    app.add_middleware(RequestIds)  # outermost: a refused request has an id too


def _mount_page(app: FastAPI) -> None:
    web_dir = Path(__file__).resolve().parent.parent / "web"
    app.mount("/static", StaticFiles(directory=web_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        # The page itself holds no data; it asks for a token before it can do anything.
        return FileResponse(web_dir / "index.html", headers={"Cache-Control": "no-store"})


def _mount_mcp(app: FastAPI, mcp_server: Any, body_limit: int) -> None:
    """Parley's memory as an MCP server (streamable HTTP) at /mcp, behind the same credentials."""
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
