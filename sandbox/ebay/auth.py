"""eBay OAuth: the token endpoint's grants and the checks on ``Authorization: Bearer``.

``POST /identity/v1/oauth2/token`` (form-encoded) with ``Authorization: Basic
base64(client_id:client_secret)``:

    grant_type=refresh_token&refresh_token=…[&scope=…]  -> a User Access Token
    grant_type=client_credentials[&scope=…]              -> an Application Access Token

Both live ``access_token_ttl_s`` (7,200 s) on the world clock. ``scope`` is a
space-separated list that must be a subset of what the refresh token was granted (every
sell scope the connectors need, below); omitted, the token gets all of them. Refresh
tokens are fixed per client and do not expire within a run (eBay's last 18 months).

Errors (OAuth 2.0 shape): bad or missing client credentials 401 ``invalid_client``;
missing parameters 400 ``invalid_request``; an unknown grant type 400
``unsupported_grant_type``; an unknown refresh token 400 ``invalid_grant``; scopes beyond
the grant 400 ``invalid_scope``.

Token strings are deterministic (scenario seed, client, issue number) so that runs with
the same seed see the same tokens. The ``token_expiry`` fault ends a token early
(``expire``).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass

from sandbox.ebay.errors import OAuthError
from sandbox.ebay.formats import digest

SCOPE_ROOT = "https://api.ebay.com/oauth/api_scope"
USER_SCOPES = frozenset(
    {
        SCOPE_ROOT,
        f"{SCOPE_ROOT}/sell.fulfillment",
        f"{SCOPE_ROOT}/sell.fulfillment.readonly",
        f"{SCOPE_ROOT}/sell.finances",
        f"{SCOPE_ROOT}/sell.inventory",
        f"{SCOPE_ROOT}/sell.inventory.readonly",
        f"{SCOPE_ROOT}/sell.analytics.readonly",
    }
)
APP_SCOPES = frozenset({SCOPE_ROOT})
# Any one of these scopes admits a call to the API.
API_SCOPES = {
    "fulfillment": {f"{SCOPE_ROOT}/sell.fulfillment", f"{SCOPE_ROOT}/sell.fulfillment.readonly"},
    "finances": {f"{SCOPE_ROOT}/sell.finances"},
    "inventory": {f"{SCOPE_ROOT}/sell.inventory", f"{SCOPE_ROOT}/sell.inventory.readonly"},
    "analytics": {SCOPE_ROOT, f"{SCOPE_ROOT}/sell.analytics.readonly"},
}


@dataclass
class Token:
    client_id: str | None  # None for an application token
    scopes: frozenset[str]
    expires: float


class EbayOAuth:
    def __init__(self, scenario_seed: int, clients: dict[str, int], ttl_s: float) -> None:
        self.seed = scenario_seed
        self.ttl_s = ttl_s
        self.app_id = f"Tributar-Sandbox-PRD-{digest('app', scenario_seed, size=5)[:9]}"
        self.cert_id = f"PRD-{digest('cert', scenario_seed, size=12)}"
        self._refresh = {self.refresh_token(c, s): c for c, s in clients.items()}
        self._tokens: dict[str, Token] = {}
        self._issued: Counter = Counter()

    def refresh_token(self, client_id: str, client_seed: int) -> str:
        secret = digest("refresh", self.seed, client_id, client_seed, size=24)
        return f"v^1.1#i^1#r^1#I^3#p^3#f^0#t^Ul4x{secret}"

    def check_client(self, authorization: str | None) -> None:
        """Basic auth with the application's client id and secret, or ``invalid_client``."""
        refused = OAuthError(401, "invalid_client", "client authentication failed")
        if not authorization or not authorization.startswith("Basic "):
            raise refused
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise refused from exc
        if pair != f"{self.app_id}:{self.cert_id}":
            raise refused

    def grant(self, form: dict[str, str], now: float) -> tuple[str, dict[str, object]]:
        """Validate a token request; returns (quota api, response body)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "request is missing a required parameter")
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token")
            if not refresh:
                raise OAuthError(400, "invalid_request", "request is missing the refresh_token")
            if refresh not in self._refresh:
                raise OAuthError(
                    400,
                    "invalid_grant",
                    "the provided authorization refresh token is invalid or was issued to "
                    "another client",
                )
            scopes = self._scopes(form.get("scope"), USER_SCOPES)
            token = self._issue(self._refresh[refresh], scopes, now)
            return "oauth_refresh", self._reply(token, "User Access Token")
        if grant_type == "client_credentials":
            scopes = self._scopes(form.get("scope"), APP_SCOPES)
            return "oauth_client", self._reply(
                self._issue(None, scopes, now), "Application Access Token"
            )
        raise OAuthError(
            400,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        )

    def _scopes(self, requested: str | None, granted: frozenset[str]) -> frozenset[str]:
        if not requested:
            return granted
        scopes = frozenset(requested.split())
        if not scopes <= granted:
            raise OAuthError(
                400,
                "invalid_scope",
                "The requested scope is invalid, unknown, malformed, or exceeds the scope "
                "granted to the client",
            )
        return scopes

    def _issue(self, client_id: str | None, scopes: frozenset[str], now: float) -> str:
        owner = client_id or "application"
        self._issued[owner] += 1
        kind = "p^3" if client_id else "p^1"
        secret = digest("access", self.seed, owner, self._issued[owner], size=32)
        token = f"v^1.1#i^1#{kind}#r^0#I^3#f^0#t^H4sI{secret}"
        self._tokens[token] = Token(client_id, scopes, now + self.ttl_s)
        return token

    def _reply(self, token: str, token_type: str) -> dict[str, object]:
        return {"access_token": token, "expires_in": int(self.ttl_s), "token_type": token_type}

    def access(self, token: str, now: float) -> Token | None:
        """The live token, or None if unknown or expired."""
        found = self._tokens.get(token)
        if found is None or now >= found.expires:
            return None
        return found

    def expire(self, token: str, now: float) -> None:
        """End ``token`` early (the ``token_expiry`` fault)."""
        if token in self._tokens:
            self._tokens[token].expires = min(self._tokens[token].expires, now)
