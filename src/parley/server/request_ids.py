"""Every HTTP request gets an id: taken from the client's X-Request-Id when it is a plain token,
else made here; returned in the response's X-Request-Id, named on every log line written while
the request is served, and on one line that gives its status and the time to its answer."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from parley.ops.log_format import current_request

log = logging.getLogger("parley.http")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Polled every few seconds by monitors and balancers: their lines only at debug level.
_QUIET_PATHS = frozenset({"/health", "/v1/monitor", "/metrics"})


class RequestIds:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"x-request-id"
            ),
            "",
        )
        request_id = offered if _CLIENT_ID.fullmatch(offered) else uuid.uuid4().hex[:16]
        token = current_request.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before it answers
        is_logged = False

        def log_end() -> None:
            nonlocal is_logged
            if is_logged:
                return
            is_logged = True
            level = logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO
            log.log(
                level,
                "%s %s %d in %.1f ms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
                # Logged as the answer starts (the time is the time to it), before the client
                # can act on it, so the line is never behind what the client saw.
                log_end()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_end()
            current_request.reset(token)
