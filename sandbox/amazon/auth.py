"""Login with Amazon (LWA): refresh tokens in, one-hour access tokens out.

``POST /auth/o2/token`` (form-encoded or JSON) with grant_type=refresh_token, client_id,
client_secret and refresh_token answers ``{"access_token": "Atza|…", "refresh_token",
"token_type": "bearer", "expires_in": 3600}``. Refusals, as LWA words them:

    grant_type missing / other        400 invalid_request / unsupported_grant_type
    client id or secret wrong         401 invalid_client "Client authentication failed"
    refresh token missing / unknown   400 invalid_request / invalid_grant

Access tokens expire 3600 s after issue on the world clock. The ``token_expiry`` fault,
decided when a token is issued, makes it die early (somewhere in its first 55 minutes)
while ``expires_in`` still says 3600. App credentials are fake values derived from the
scenario seed; each client's refresh token from the client's seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.amazon.errors import lwa_error

if TYPE_CHECKING:
    from sandbox.faults import Faults

ACCESS_TOKEN_SECONDS = 3600


def _digest(*parts: object, size: int = 16) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=size).hexdigest()


@dataclass(frozen=True)
class Grant:
    client_id: str
    issued: float
    expires: float


class Lwa:
    def __init__(self, scenario_seed: int, clients: dict[str, int], faults: Faults) -> None:
        self.client_id = f"amzn1.application-oa2-client.{_digest('lwa-id', scenario_seed)}"
        self.client_secret = f"amzn1.oa2-cs.v1.{_digest('lwa-secret', scenario_seed, size=32)}"
        self._seed = scenario_seed
        self._faults = faults
        self._refresh = {self.refresh_token(cid, seed): cid for cid, seed in clients.items()}
        self._grants: dict[str, Grant] = {}

    def refresh_token(self, client_id: str, client_seed: int) -> str:
        return f"Atzr|IwEB{_digest('refresh', self._seed, client_id, client_seed, size=48)}"

    def exchange(self, form: dict[str, str], now: float) -> tuple[int, dict[str, object]]:
        """Answer a token request: (HTTP status, JSON body)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            return 400, lwa_error(
                "invalid_request", "The request is missing a required parameter : grant_type"
            )
        if grant_type != "refresh_token":
            return 400, lwa_error(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            )
        if form.get("client_id") != self.client_id or (
            form.get("client_secret") != self.client_secret
        ):
            return 401, lwa_error("invalid_client", "Client authentication failed")
        refresh = form.get("refresh_token")
        if not refresh:
            return 400, lwa_error(
                "invalid_request", "The request is missing a required parameter : refresh_token"
            )
        if refresh not in self._refresh:
            return 400, lwa_error(
                "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = f"Atza|IwEB{_digest('access', self._seed, len(self._grants), refresh, size=48)}"
        lifetime = float(ACCESS_TOKEN_SECONDS)
        if self._faults.roll("amazon", "token_expiry", "lwa", refresh):
            lifetime = 300 + 3000 * self._faults.uniform("amazon", "token_life", token)
        self._grants[token] = Grant(self._refresh[refresh], now, now + lifetime)
        body = {
            "access_token": token,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
        return 200, body

    def early_expiry(self, token: str) -> bool:
        grant = self._grants[token]
        return grant.expires - grant.issued < ACCESS_TOKEN_SECONDS

    def check(self, token: str | None, now: float) -> tuple[str | None, str]:
        """(client id, "") for a live token, else (None, "missing" | "invalid" | "expired")."""
        if not token:
            return None, "missing"
        grant = self._grants.get(token)
        if grant is None:
            return None, "invalid"
        if now >= grant.expires:
            return None, "expired"
        return grant.client_id, ""
