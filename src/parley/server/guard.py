"""The checks in front of every route, made from the request's headers alone.

``HostGuard`` answers only to the server's own names (a web page on another site cannot reach
a loopback Parley by rebinding its DNS name to 127.0.0.1). ``RequestGuard`` checks the
credential, then the size the request announces.

They run as ASGI middleware, before FastAPI reads or parses a body, so a request without a good
credential costs nothing: an unauthenticated 8 GB POST is answered 401 at once and its body is
never read, and an announced body over the route's limit gets a JSON 413. (A body that grows
past the limit without announcing its size is stopped by FastAPI's own per-route
``max_body_size``.) WebSocket upgrades are checked by their route, before the handshake.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from parley.config.settings import Settings
from parley.server.auth import Authenticator, bearer

# What answers without a credential: the health check, the sign-in exchange, and the page with
# its static files (they hold no data; the page asks for a credential before it does anything).
PUBLIC_PATHS = frozenset({"/health", "/", "/v1/login"})
PUBLIC_PREFIXES = ("/static/",)
# Where a browser sign-in token is good, besides the API key and client secrets.
BROWSER_PATHS = frozenset({"/v1/realtime/client_secrets"})


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Callable[[], Authenticator],
        body_limits: dict[str, int],
        default_body_limit: int,
    ) -> None:
        self._app = app
        self._authenticator = authenticator
        self._body_limits = body_limits
        self._default_body_limit = default_body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in PUBLIC_PATHS
            or path.startswith(PUBLIC_PREFIXES)
            or scope.get("method") == "OPTIONS"
        ):
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        reason = self._authenticator().check(
            bearer(authorization), allow_browser=path in BROWSER_PATHS
        )
        if reason is not None:
            await send_json_error(send, 401, reason, "invalid_api_key", is_unread=True)
            return
        limit = self._body_limits.get(path, self._default_body_limit)
        try:
            announced = int(headers.get(b"content-length", b"0"))
        except ValueError:
            announced = 0
        if announced > limit:
            await send_json_error(
                send,
                413,
                f"The request body is {announced:,} bytes; this route takes at most {limit:,}.",
                "request_too_large",
                is_unread=True,
            )
            return
        await self._app(scope, receive, send)


async def send_json_error(
    send: Send, status: int, message: str, code: str, *, is_unread: bool = False
) -> None:
    """An OpenAI-shaped error, sent without touching the request body."""
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": code,
                "param": None,
            }
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if is_unread:  # the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(bind_host: str, settings: Settings) -> frozenset[str] | None:
    """The Host names to answer; None answers any (an exposed server with none configured)."""
    configured = [host.lower() for host in settings.server.allowed_hosts]
    if "*" in configured:
        return None
    if is_loopback_host(bind_host):
        return frozenset([*LOOPBACK_NAMES, *configured])
    if configured:
        return frozenset([*LOOPBACK_NAMES, bind_host.lower(), *configured])
    return None


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port (IPv6 addresses without brackets)."""
    try:
        return (urlsplit("//" + header).hostname or "").lower()
    except ValueError:
        return ""


class HostGuard:
    def __init__(self, app: ASGIApp, *, allowed_hosts: frozenset[str] | None) -> None:
        self._app = app
        self._allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._allowed is None or scope["type"] not in {"http", "websocket"}:
            await self._app(scope, receive, send)
            return
        header = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), ""
        )
        if host_name(header) in self._allowed:
            await self._app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "unknown Host"})
            return
        await send_json_error(
            send,
            421,
            f"Parley does not answer to the host name {header!r}. Add it to "
            "server.allowed_hosts if you reach Parley by that name.",
            "invalid_host",
        )
