"""Shopify access tokens: ``X-Shopify-Access-Token`` and expiring offline tokens (S-TOK).

Each shop (one per client) has an offline access token (``shpat_…``) issued at the
scenario's start, living ``access_token_ttl_s`` (3,600 s; 0 = never expires), and a
refresh token (``shprt_…``). ``POST /{shop}/admin/oauth/access_token`` with
``client_id``, ``client_secret``, ``grant_type=refresh_token`` and ``refresh_token``
(JSON or form) returns a new access token and a new refresh token; the old refresh token
stops working at once (rotation) and older access tokens stay valid until they expire.

A request with no token, an unknown, expired or another shop's token gets 401 with
Shopify's body ``{"errors": "[API] Invalid API key or access token (unrecognized login
or wrong password)"}``. Token values derive from the scenario seed (fake, reproducible).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SCOPES = "read_orders,read_all_orders,read_shopify_payments_payouts,read_inventory,read_locations"
REFRESH_TTL_S = 90 * 86_400


class OAuthRefused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Token:
    shop: str
    expires_at: float | None


class ShopifyAuth:
    def __init__(self, seed: int, ttl_s: float) -> None:
        self.seed = seed
        self.ttl_s = ttl_s
        self.client_id = self._digest("client-id", 16)
        self.client_secret = "shpss_" + self._digest("client-secret", 16)
        self._tokens: dict[str, Token] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> shop
        self._issued = 0

    def _digest(self, *parts: object, size: int = 16) -> str:
        return hashlib.blake2b(
            repr((self.seed, "shopify", *parts)).encode(), digest_size=size
        ).hexdigest()

    def register(self, shop: str, now: float) -> tuple[str, str]:
        """The shop's first (access, refresh) token pair, issued at ``now``."""
        return self._issue(shop, now)

    def _issue(self, shop: str, now: float) -> tuple[str, str]:
        self._issued += 1
        access = "shpat_" + self._digest("access", shop, self._issued)
        refresh = "shprt_" + self._digest("refresh", shop, self._issued)
        self._tokens[access] = Token(shop, now + self.ttl_s if self.ttl_s > 0 else None)
        self._refresh[refresh] = shop
        return access, refresh

    def shop_of(self, token: str | None, now: float) -> str | None:
        """The shop a valid token belongs to, else None."""
        found = self._tokens.get(token or "")
        if found is None or (found.expires_at is not None and now >= found.expires_at):
            return None
        return found.shop

    def expire(self, token: str, now: float) -> None:
        if token in self._tokens:
            self._tokens[token].expires_at = now

    def refresh(self, shop: str, form: dict[str, Any], now: float) -> dict[str, Any]:
        if form.get("grant_type") != "refresh_token":
            raise OAuthRefused(400, "unsupported_grant_type", "grant_type must be refresh_token")
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            raise OAuthRefused(401, "invalid_client", "Client authentication failed")
        token = form.get("refresh_token")
        if not token or self._refresh.get(str(token)) != shop:
            raise OAuthRefused(
                400, "invalid_grant", "The refresh token is invalid, expired or was already used"
            )
        del self._refresh[str(token)]
        access, refresh = self._issue(shop, now)
        return {
            "access_token": access,
            "scope": SCOPES,
            "expires_in": int(self.ttl_s) if self.ttl_s > 0 else None,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TTL_S,
        }
