"""The realtime routes: ``WS /v1/realtime`` (who may open a session, and how many at once) and
the same protocol over WebRTC at ``/v1/realtime/calls`` (an SDP offer in, the answer out, events
on the caller's data channel; the credential is checked by RequestGuard before the body is
read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket

from parley.server.auth import SUBPROTOCOL_PREFIX, bearer, is_origin_allowed
from parley.server.realtime.connection import RealtimeConnection
from parley.server.realtime.pipe import WebSocketPipe
from parley.server.state import ServerState, StateDep, state_of

SDP_BODY_BYTES = 64 * 1024  # a WebRTC offer: a few kilobytes

router = APIRouter()


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    await serve_realtime(websocket, state_of(websocket.app))


@router.post("/v1/realtime/calls", status_code=201, max_body_size=SDP_BODY_BYTES)
async def open_call(request: Request, state: StateDep) -> Response:
    return await state.calls.open(request, state)


@router.delete("/v1/realtime/calls/{call_id}")
async def hang_up(call_id: str, state: StateDep) -> dict[str, Any]:
    state.calls.hang_up(call_id)
    return {"id": call_id, "object": "realtime.call", "deleted": True}


async def serve_realtime(websocket: WebSocket, state: ServerState) -> None:
    """One client of ``WS /v1/realtime``: its origin and credential checked, a session slot
    taken (or refused), then its connection run to the end."""
    authenticator = state.authenticator
    server_settings = state.settings.server
    origin = websocket.headers.get("origin")
    if not is_origin_allowed(
        origin, websocket.headers.get("host"), server_settings.allowed_origins
    ):
        await websocket.close(code=1008, reason=f"origin {origin} is not allowed")
        return
    offered = [
        p.strip()
        for p in websocket.headers.get("sec-websocket-protocol", "").split(",")
        if p.strip()
    ]
    from_subprotocol = next(
        (p[len(SUBPROTOCOL_PREFIX) :] for p in offered if p.startswith(SUBPROTOCOL_PREFIX)),
        None,
    )
    credential = (
        bearer(websocket.headers.get("authorization"))
        or websocket.query_params.get("token")
        or from_subprotocol
    )
    if (reason := authenticator.check(credential)) is not None:
        await websocket.close(code=1008, reason=reason)
        return
    if not state.take_session_slot():
        await websocket.close(code=1013, reason="too many sessions; try again later")
        return
    try:
        # Browsers require the server to echo one of the offered subprotocols.
        chosen = "realtime" if "realtime" in offered else (offered[0] if offered else None)
        await websocket.accept(subprotocol=chosen)
        connection = RealtimeConnection(
            WebSocketPipe(websocket),
            runtime=state.running,
            metrics=state.metrics,
            conversation_id=state.resumed_conversation(websocket.query_params.get("conversation")),
        )
        await connection.run()
    finally:
        state.release_session_slot()
