"""How a realtime session answers what went wrong: an ``error`` event on that session alone,
and, for a fault of Parley's own, the log (one traceback per session, then one line each, so a
client sending bad events in a loop cannot flood it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from parley.ops.metrics import ServerMetrics

log = logging.getLogger(__name__)


class ClientFaults:
    def __init__(
        self,
        *,
        session_id: str,
        metrics: ServerMetrics,
        send: Callable[[dict[str, Any]], None],
    ) -> None:
        self._session_id = session_id
        self._metrics = metrics
        self._send = send
        self._failed_events = 0

    def error(
        self,
        code: str,
        message: str,
        event_id: str | None,
        *,
        error_type: str = "invalid_request_error",
    ) -> None:
        self._metrics.errors.labels(code=code).inc()
        error = {"type": error_type, "code": code, "message": message, "event_id": event_id}
        self._send({"type": "error", "error": error})

    def failed(self, error: Exception, event_id: str | None) -> None:
        """A client event Parley itself failed to handle."""
        self._failed_events += 1
        if self._failed_events == 1:
            log.exception("a realtime client event failed (session %s)", self._session_id)
        elif self._failed_events <= 100 or self._failed_events % 1000 == 0:
            log.warning(
                "a realtime client event failed again (session %s, %d so far): %s",
                self._session_id,
                self._failed_events,
                f"{type(error).__name__}: {error}"[:200],
            )
        self.error(
            "server_error",
            "Parley failed to handle this event; see the server log.",
            event_id,
            error_type="server_error",
        )
