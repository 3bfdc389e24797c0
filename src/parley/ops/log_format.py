"""How Parley's log lines look: text for a terminal, or one JSON object a line for a log
collector (``log_format: json``). Every line written while a conversation runs names it
(``session``), every line written while an HTTP request is served names that (``request``), and
nothing that looks like a credential is ever written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Literal

# The conversation the code now running serves; asyncio tasks inherit it from their creator.
current_session: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parley_session", default=None
)
# The HTTP request being served (its X-Request-Id), set by server.request_ids.
current_request: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parley_request", default=None
)

# API keys (pk-…), bearer tokens and JWTs (three base64url parts: login codes, client secrets).
_CREDENTIAL = re.compile(
    r"\bpk-[A-Za-z0-9_-]{8,}|\bBearer\s+[A-Za-z0-9._~+/=-]+"
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
)


def redacted(text: str) -> str:
    return _CREDENTIAL.sub("[redacted]", text)


class WithContext(logging.Filter):
    """Stamps each record with the conversation and HTTP request it was written for."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.session = current_session.get()
        record.request = current_request.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if session := getattr(record, "session", None):
            line = f"{line} [session {session}]"
        if request := getattr(record, "request", None):
            line = f"{line} [request {request}]"
        return redacted(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (session := getattr(record, "session", None)) is not None:
            entry["session"] = session
        if (request := getattr(record, "request", None)) is not None:
            entry["request"] = request
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return redacted(json.dumps(entry, ensure_ascii=False))


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    """Parley's one log handler, on stderr, in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(WithContext())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
