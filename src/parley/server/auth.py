"""Credentials: one API key per data directory, and short-lived signed tokens for browsers.

Browsers cannot set headers on a WebSocket, so they exchange the key (or the login token in the
URL) for a JWT minted by ``POST /v1/realtime/client_secrets``, and pass it as a query parameter or
as the ``openai-insecure-api-key.<token>`` subprotocol, as OpenAI's browser clients do.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from parley.config import Settings

_TOKEN_AUDIENCE = "parley-realtime"
SUBPROTOCOL_PREFIX = "openai-insecure-api-key."


def load_or_create_api_key(settings: Settings) -> str:
    """The configured key, else the one stored in the data directory, else a new one (0600)."""
    if settings.server.api_key is not None:
        return settings.server.api_key.get_secret_value()
    path = settings.data_dir / "api_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = "pk-" + secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


class Authenticator:
    """Checks API keys and the signed tokens minted from them."""

    def __init__(self, api_key: str, *, token_ttl_s: int) -> None:
        self._api_key = api_key
        # Tokens are signed with a key derived from the API key: rotating the key revokes them.
        self._signing_key = hashlib.sha256(b"parley-client-secret:" + api_key.encode()).digest()
        self.token_ttl_s = token_ttl_s

    def is_api_key(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._api_key.encode())

    def mint_token(self, *, user: str = "local") -> tuple[str, int]:
        expires_at = int(time.time()) + self.token_ttl_s
        claims = {"sub": user, "aud": _TOKEN_AUDIENCE, "exp": expires_at, "iat": int(time.time())}
        return jwt.encode(claims, self._signing_key, algorithm="HS256"), expires_at

    def check(self, credential: str | None) -> str | None:
        """The reason a credential is refused, or None when it is good."""
        if not credential:
            return "missing credential: send `Authorization: Bearer <key>` or a client secret"
        if self.is_api_key(credential):
            return None
        try:
            jwt.decode(
                credential, self._signing_key, algorithms=["HS256"], audience=_TOKEN_AUDIENCE
            )
        except jwt.ExpiredSignatureError:
            return "the token has expired: ask for a new client secret"
        except jwt.InvalidTokenError:
            return "invalid API key or token"
        return None


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def is_origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A browser may connect only from the server's own origin or a configured one.

    Clients that are not browsers send no Origin and are judged by their credential alone.
    """
    if origin is None:
        return True
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host


def data_key_path(data_dir: Path) -> Path:
    return data_dir / "api_key"
