"""Credentials: one API key per data directory, one-time login codes, short-lived browser tokens.

The API key never travels in a URL and is never logged. A person signs a browser in with a
one-time login code (printed at start, or by `parley login`), which the page exchanges at
``POST /v1/login`` for a browser token; with that the page mints the short client secrets that
``POST /v1/realtime/client_secrets`` gives, and passes one as a query parameter or as the
``openai-insecure-api-key.<token>`` subprotocol, as OpenAI's browser clients do.

Every token is signed with a key derived from the API key *and* a random secret kept beside
the key file (0600): knowing how Parley derives it gives nothing, and rotating either revokes
every token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import jwt

from parley.config.settings import Settings
from parley.errors import ConfigError

SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
MIN_API_KEY_CHARS = 16
LOGIN_CODE_TTL_S = 600
BROWSER_TOKEN_TTL_S = 12 * 3600
TokenKind = Literal["client-secret", "browser", "login"]
_AUDIENCE: dict[TokenKind, str] = {
    "client-secret": "parley-realtime",
    "browser": "parley-browser",
    "login": "parley-login",
}


def data_key_path(data_dir: Path) -> Path:
    return data_dir / "api_key"


def signing_secret_path(data_dir: Path) -> Path:
    return data_dir / "token_signing_secret"


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file whole or not at all (a crash mid-write leaves no empty key behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def _read_or_create_secret(path: Path, make: str, *, what: str) -> str:
    if path.is_file():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            if len(value) < MIN_API_KEY_CHARS:
                raise ConfigError(
                    f"The {what} in {path} is only {len(value)} characters; at least "
                    f"{MIN_API_KEY_CHARS} are needed. Delete the file and Parley makes a new one."
                )
            return value
        # Empty: left by a first write that failed. Nobody can hold that key; make a new one.
    _write_private(path, make)
    return make


def existing_api_key(settings: Settings) -> str:
    """The key a server of these settings uses (configured, or stored in its data directory),
    for a client of it: never creates one."""
    if (key := _configured_api_key(settings)) is not None:
        return key
    path = data_key_path(settings.data_dir)
    if not path.is_file():
        raise ConfigError(
            f"No API key: set PARLEY_API_KEY or point --data-dir at the server's ({path})."
        )
    return path.read_text(encoding="utf-8").strip()


def load_or_create_api_key(settings: Settings) -> str:
    """The configured key, else the one stored in the data directory, else a new one (0600)."""
    if (key := _configured_api_key(settings)) is not None:
        return key
    return _read_or_create_secret(
        data_key_path(settings.data_dir), "pk-" + secrets.token_urlsafe(32), what="API key"
    )


def _configured_api_key(settings: Settings) -> str | None:
    if settings.server.api_key is None:
        return None
    key = settings.server.api_key.get_secret_value().strip()
    if len(key) < MIN_API_KEY_CHARS:  # the config validator says so too; env may bypass it
        raise ConfigError(
            f"server.api_key must be at least {MIN_API_KEY_CHARS} characters; unset it to "
            "have Parley generate one."
        )
    return key


def load_or_create_signing_secret(data_dir: Path) -> str:
    return _read_or_create_secret(
        signing_secret_path(data_dir), secrets.token_urlsafe(32), what="token signing secret"
    )


# Client secrets begin as OpenAI's ephemeral keys do: its browser SDKs use a key that starts
# so without being told it is safe to (`useInsecureApiKey`).
EPHEMERAL_PREFIX = "ek_"


class Authenticator:
    """Checks API keys and the signed tokens minted from them."""

    def __init__(self, api_key: str, *, signing_secret: str, token_ttl_s: int) -> None:
        if len(api_key.strip()) < MIN_API_KEY_CHARS or len(signing_secret) < MIN_API_KEY_CHARS:
            raise ConfigError(
                f"The API key and the signing secret need at least {MIN_API_KEY_CHARS} characters."
            )
        self._api_key = api_key
        self._signing_key = hmac.new(
            signing_secret.encode(), b"parley-tokens:" + api_key.encode(), hashlib.sha256
        ).digest()
        self.token_ttl_s = token_ttl_s
        self._used_login_codes: dict[str, float] = {}  # code id → its expiry
        self._login_lock = threading.Lock()

    def is_api_key(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._api_key.encode())

    def mint(
        self, kind: TokenKind, *, ttl_s: int | None = None, user: str = "local"
    ) -> tuple[str, int]:
        now = int(time.time())
        lifetime = ttl_s if ttl_s is not None else self._default_ttl_s(kind)
        claims = {
            "sub": user,
            "aud": _AUDIENCE[kind],
            "exp": now + lifetime,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(claims, self._signing_key, algorithm="HS256")
        return (EPHEMERAL_PREFIX + token if kind == "client-secret" else token), now + lifetime

    def mint_token(self, *, user: str = "local") -> tuple[str, int]:
        """A short client secret, for one realtime connection or a few API calls."""
        return self.mint("client-secret", user=user)

    def mint_login_code(self) -> str:
        return self.mint("login")[0]

    def _default_ttl_s(self, kind: TokenKind) -> int:
        return {"client-secret": self.token_ttl_s, "browser": BROWSER_TOKEN_TTL_S}.get(
            kind, LOGIN_CODE_TTL_S
        )

    def _decode(self, token: str, kind: TokenKind) -> dict[str, object] | str:
        if kind == "client-secret":
            token = token.removeprefix(EPHEMERAL_PREFIX)
        try:
            claims: dict[str, object] = jwt.decode(
                token, self._signing_key, algorithms=["HS256"], audience=_AUDIENCE[kind]
            )
        except jwt.ExpiredSignatureError:
            return (
                "the token has expired: sign in again"
                if kind != "client-secret"
                else ("the token has expired: ask for a new client secret")
            )
        except jwt.InvalidTokenError:
            return "invalid API key or token"
        return claims

    def is_browser_token(self, candidate: str) -> bool:
        return not isinstance(self._decode(candidate, "browser"), str)

    def redeem_login_code(self, code: str) -> str | None:
        """Use a login code up; the reason it is refused, or None when it was good."""
        claims = self._decode(code, "login")
        if isinstance(claims, str):
            return "the login code is wrong or has expired: run `parley login` for a new one"
        code_id = str(claims.get("jti", ""))
        with self._login_lock:
            now = time.time()
            self._used_login_codes = {k: v for k, v in self._used_login_codes.items() if v > now}
            if code_id in self._used_login_codes:
                return "this login code was used already: run `parley login` for a new one"
            self._used_login_codes[code_id] = float(str(claims.get("exp", now)))
        return None

    def check(self, credential: str | None, *, allow_browser: bool = False) -> str | None:
        """The reason a credential is refused, or None when it is good.

        The API key and client secrets are good everywhere; a browser token only where
        ``allow_browser`` says (minting client secrets), so a page holds nothing long-lived
        that opens the API.
        """
        if not credential:
            return "missing credential: send `Authorization: Bearer <key>` or a client secret"
        if self.is_api_key(credential):
            return None
        claims = self._decode(credential, "client-secret")
        if not isinstance(claims, str):
            return None
        if allow_browser and not isinstance(self._decode(credential, "browser"), str):
            return None
        return claims


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


def authenticator_for(settings: Settings, api_key: str) -> Authenticator:
    return Authenticator(
        api_key,
        # Workers behind one balancer share server.signing_secret, so a token minted by one
        # verifies on every other.
        signing_secret=(
            settings.server.signing_secret.get_secret_value()
            if settings.server.signing_secret is not None
            else load_or_create_signing_secret(settings.data_dir)
        ),
        token_ttl_s=settings.server.client_secret_ttl_s,
    )
