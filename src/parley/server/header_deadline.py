"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn closes a keep-alive connection that goes quiet, but waits forever for the headers of a
new connection's first request, so a client that connects and sends nothing (or a byte now and
then) holds a connection slot indefinitely (slowloris). This protocol closes such a connection
once ``HEADER_TIMEOUT_S`` has passed without complete headers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S  # replaced per server by with_header_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._headers_too_slow
        )

    def handle_events(self) -> None:
        super().handle_events()
        # The first request's headers are in (an HTTP request or a WebSocket upgrade, which
        # hands the connection to another protocol): the deadline is met.
        if self.scope is not None and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.scope is None and not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(timeout_s: float) -> type[Any]:
    """The protocol class, with its deadline set (uvicorn takes a class, not an instance)."""
    return type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": timeout_s})
