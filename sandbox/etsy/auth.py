"""Etsy auth: the API key header and OAuth 2.0 refresh grants.

Every ``/v3/application`` request carries ``x-api-key: <keystring>:<shared_secret>``
(required since 2026-02-09). Refusals, all 403 with Etsy's ``{"error": …}`` body:
no header -> "Missing x-api-key header."; the keystring alone -> "Shared secret is
required in x-api-key header."; an unknown keystring or a wrong secret -> "Invalid API
key". Private data also needs ``Authorization: Bearer <access token>``; a missing, unknown
or expired token answers 401 ``{"error": "invalid_token", "error_description": …}``, and a
token for another user's shop 403.

``POST /v3/public/oauth/token`` (form-encoded) ``grant_type=refresh_token&client_id=
<keystring>&refresh_token=…`` answers ``{access_token, token_type: "Bearer", expires_in:
3600, refresh_token}``. Tokens are prefixed with the numeric user id
(``12345678.xxxx``) as Etsy's are. Each grant hands out a new refresh token (rotation);
earlier refresh tokens stay valid (Etsy's 90-day lifetime is not reached within a run).
Errors (400, OAuth shape): ``invalid_request`` (missing parameters),
``unsupported_grant_type``, ``invalid_client`` (unknown client_id), ``invalid_grant``
(unknown refresh token). Token strings are deterministic per (scenario seed, user, issue
number); the ``token_expiry`` fault ends a token early.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

MISSING_KEY = "Missing x-api-key header."
SECRET_REQUIRED = "Shared secret is required in x-api-key header."
INVALID_KEY = "Invalid API key"


class KeyRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class OAuthRefused(Exception):
    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Token:
    user_id: int
    expires: float


def _digest(*parts: object, size: int = 16) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=size, person=b"tribetsy").hexdigest()


class EtsyAuth:
    def __init__(self, scenario_seed: int, ttl_s: float) -> None:
        self.seed = scenario_seed
        self.ttl_s = ttl_s
        self.keystring = _digest("keystring", scenario_seed, size=12)
        self.shared_secret = _digest("secret", scenario_seed, size=5)
        self._refresh: dict[str, int] = {}
        self._tokens: dict[str, Token] = {}
        self._issued: Counter = Counter()

    def check_key(self, header: str | None) -> None:
        if not header:
            raise KeyRefused(MISSING_KEY)
        keystring, sep, secret = header.strip().partition(":")
        if keystring != self.keystring:
            raise KeyRefused(INVALID_KEY)
        if not sep or not secret:
            raise KeyRefused(SECRET_REQUIRED)
        if secret != self.shared_secret:
            raise KeyRefused(INVALID_KEY)

    def register(self, user_id: int, client_seed: int) -> str:
        """Record the refresh token a client's connect flow produced, and return it."""
        token = f"{user_id}.{_digest('refresh', self.seed, user_id, client_seed, size=24)}"
        self._refresh[token] = user_id
        return token

    def grant(self, form: dict[str, str], now: float) -> dict[str, object]:
        grant_type, client_id = form.get("grant_type"), form.get("client_id")
        refresh = form.get("refresh_token")
        if not grant_type or not client_id:
            raise OAuthRefused(400, "invalid_request", "grant_type and client_id are required")
        if grant_type != "refresh_token":
            raise OAuthRefused(400, "unsupported_grant_type", f"{grant_type} is not supported")
        if client_id != self.keystring:
            raise OAuthRefused(400, "invalid_client", "Invalid client_id")
        if not refresh:
            raise OAuthRefused(400, "invalid_request", "refresh_token is required")
        if refresh not in self._refresh:
            raise OAuthRefused(400, "invalid_grant", "Invalid refresh token")
        user_id = self._refresh[refresh]
        self._issued[user_id] += 1
        n = self._issued[user_id]
        access = f"{user_id}.{_digest('access', self.seed, user_id, n, size=32)}"
        rotated = f"{user_id}.{_digest('rotated', self.seed, user_id, n, size=24)}"
        self._tokens[access] = Token(user_id, now + self.ttl_s)
        self._refresh[rotated] = user_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.ttl_s),
            "refresh_token": rotated,
        }

    def user(self, authorization: str | None, now: float) -> int:
        """The user id behind a live bearer token, or 401 ``invalid_token``."""
        if not authorization or not authorization.startswith("Bearer "):
            raise OAuthRefused(401, "invalid_token", "access token is missing")
        token = self._tokens.get(authorization[7:].strip())
        if token is None:
            raise OAuthRefused(401, "invalid_token", "access token is invalid")
        if now >= token.expires:
            raise OAuthRefused(401, "invalid_token", "access token is expired")
        return token.user_id

    def expire(self, authorization: str, now: float) -> None:
        token = self._tokens.get(authorization[7:].strip())
        if token is not None:
            token.expires = min(token.expires, now)
