"""What carries a realtime session's JSON events: a WebSocket, or a WebRTC call's data channel.

The protocol's translation (``inbound``, ``outbound``, ``connection``) is written once against
this small surface, so both transports speak exactly the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import WebSocket, WebSocketDisconnect

# The close code a server sends when it restarts or stops (RFC 6455: "Service Restart").
SERVICE_RESTART = 1012


@dataclass(frozen=True)
class PipeClosed:
    """The peer has gone; ``code`` is the WebSocket close code when there is one (1012: the
    server itself is restarting or stopping)."""

    code: int | None = None


class PipeGone(Exception):
    """Raised by ``send_text`` once the peer can no longer be written to."""


class EventPipe(Protocol):
    async def receive(self) -> str | bytes | PipeClosed:
        """The next message from the client, or ``PipeClosed`` once it is gone."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class WebSocketPipe:
    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def receive(self) -> str | bytes | PipeClosed:
        try:
            message = await self._websocket.receive()
        except WebSocketDisconnect as gone:
            return PipeClosed(gone.code)
        if message["type"] == "websocket.disconnect":
            return PipeClosed(message.get("code"))
        text: str | None = message.get("text")
        if text is not None:
            return text
        data: bytes = message.get("bytes") or b""
        return data

    async def send_text(self, text: str) -> None:
        try:
            await self._websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError) as error:
            raise PipeGone(str(error)) from None

    async def close(self, code: int, reason: str) -> None:
        await self._websocket.close(code=code, reason=reason)
