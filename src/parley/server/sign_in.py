"""How a browser gets in without the API key: a one-time login code for a sign-in token, and a
credential for a short-lived client secret (OpenAI's ``/v1/realtime/client_secrets``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from parley.server.auth import bearer
from parley.server.state import StateDep

SMALL_BODY_BYTES = 16 * 1024

router = APIRouter()


class _LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=2048)


@router.post("/v1/login", max_body_size=SMALL_BODY_BYTES)
async def login(body: _LoginIn, state: StateDep) -> dict[str, Any]:
    """A one-time login code (from the start-up banner or `parley login`) for a browser
    sign-in token, which mints client secrets but opens nothing else."""
    if (reason := state.authenticator.redeem_login_code(body.code)) is not None:
        raise HTTPException(401, reason)
    token, expires_at = state.authenticator.mint("browser")
    return {"value": token, "expires_at": expires_at}


@router.post("/v1/realtime/client_secrets", max_body_size=SMALL_BODY_BYTES)
async def client_secrets(request: Request, state: StateDep) -> dict[str, Any]:
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
