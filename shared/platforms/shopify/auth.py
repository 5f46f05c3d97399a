"""Shopify Admin access tokens: the header, and refreshing expiring offline tokens.

Every Admin call (REST and GraphQL) carries ``X-Shopify-Access-Token: <token>`` (S-TOK).
Offline tokens used to never expire; since 2025-12-10 apps may hold *expiring* offline
tokens (``expires_in`` 3600 s) with a ``refresh_token`` that is **rotated on use**:
``POST {shop}/admin/oauth/access_token`` with ``client_id``, ``client_secret``,
``grant_type=refresh_token`` and ``refresh_token`` answers ``{access_token, expires_in,
refresh_token, refresh_token_expires_in?, scope}``.

``ShopifyAuth`` holds one shop's credentials (``dict[str, str]``; keys below) and hands
out the access token until ``REFRESH_MARGIN_S`` before its expiry, then refreshes. A
credential set without a ``refresh_token`` is a non-expiring token: it is used as is, and
an auth failure cannot be repaired (``AuthExpiredError``).

    shop            the shop's handle (``acme`` of ``acme.myshopify.com``) or domain
    access_token    the current access token (optional when a refresh token is given)
    refresh_token   the expiring offline token's refresh token (optional)
    client_id       the app's API key (needed to refresh)
    client_secret   the app's API secret key (needed to refresh)
    expires_at      epoch seconds when ``access_token`` expires (optional)

Secrets never leave this object: ``repr`` shows only the shop, errors name the status
and Shopify's OAuth error code, log lines nothing secret. The rotated refresh token is
kept here; ``rotated()`` gives the current credentials for the caller to store back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import AuthExpiredError, ConfigurationError, TransientError

TOKEN_HEADER = "X-Shopify-Access-Token"
_KEYS = ("shop", "access_token", "refresh_token", "client_id", "client_secret", "expires_at")
TOKEN_PATH = "/admin/oauth/access_token"
REFRESH_MARGIN_S = 300.0  # refresh this long before the token's expiry
_OAUTH_ERROR_CHARS = 80


class ShopifyAuth:
    """One shop's access token, refreshed before expiry (see the module docstring)."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        token_url: str,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        shop = str(credentials.get("shop", "")).strip()
        if not shop:
            raise ConfigurationError("shopify credentials: 'shop' is required")
        self.shop = shop
        self._token_url = token_url
        self._now = now
        self._access = _secret(credentials.get("access_token"))
        self._refresh = _secret(credentials.get("refresh_token"))
        self._client_id = str(credentials.get("client_id", ""))
        self._client_secret = _secret(credentials.get("client_secret"))
        self._expires_at = _float(credentials.get("expires_at"))
        self._other = {k: str(v) for k, v in credentials.items() if k not in _KEYS}
        if self._access is None and self._refresh is None:
            raise ConfigurationError(
                "shopify credentials: 'access_token' or 'refresh_token' is required"
            )
        if self._refresh is not None and not (self._client_id and self._client_secret):
            raise ConfigurationError(
                "shopify credentials: refreshing needs 'client_id' and 'client_secret'"
            )
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"ShopifyAuth(shop={self.shop!r})"

    @property
    def can_refresh(self) -> bool:
        return self._refresh is not None

    def fresh(self) -> bool:
        """True if the cached access token is good for at least ``REFRESH_MARGIN_S``."""
        if self._access is None:
            return False
        return self._expires_at is None or self._now() < self._expires_at - REFRESH_MARGIN_S

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        """The auth header, refreshing first when the token is (about to be) expired."""
        if not self.fresh():
            await self.refresh(client)
        assert self._access is not None
        return {TOKEN_HEADER: self._access.get_secret_value()}

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Exchange the refresh token for a new access token (and a rotated refresh
        token). AuthExpiredError if there is none or Shopify refuses it; TransientError
        on a 5xx or a network fault."""
        if self._refresh is None:
            raise AuthExpiredError(
                f"shopify {self.shop}: access token refused and no refresh token to renew it"
            )
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value() if self._client_secret else "",
            "grant_type": "refresh_token",
            "refresh_token": self._refresh.get_secret_value(),
        }
        try:
            response = await client.post(self._token_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(
                f"shopify {self.shop}: token refresh failed: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise TransientError(f"shopify {self.shop}: token refresh: HTTP {response.status_code}")
        body = _json(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise AuthExpiredError(
                f"shopify {self.shop}: token refresh refused: HTTP {response.status_code}"
                f" {_oauth_error(body)}".rstrip()
            )
        self._take(body)

    def _take(self, body: Mapping[str, Any]) -> None:
        self._access = SecretStr(body["access_token"])
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            self._refresh = SecretStr(body["refresh_token"])
        expires_in = _float(body.get("expires_in"))
        self._expires_at = self._now() + expires_in if expires_in is not None else None
        self.refreshes += 1

    def rotated(self) -> dict[str, str]:
        """The credentials as they stand now (the refresh token may have rotated); keys
        this class does not use (``api_version`` …) are kept as they came."""
        out = {**self._other, "shop": self.shop, "client_id": self._client_id}
        for key, value in (
            ("access_token", self._access),
            ("refresh_token", self._refresh),
            ("client_secret", self._client_secret),
        ):
            if value is not None:
                out[key] = value.get_secret_value()
        if self._expires_at is not None:
            out["expires_at"] = str(self._expires_at)
        return out


def _secret(value: object) -> SecretStr | None:
    return SecretStr(str(value)) if value else None


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError("shopify credentials: a number was expected") from None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _oauth_error(body: Mapping[str, Any]) -> str:
    """Shopify's OAuth error code only (``invalid_grant``), never the description."""
    error = body.get("error")
    return str(error)[:_OAUTH_ERROR_CHARS] if isinstance(error, str) else ""
