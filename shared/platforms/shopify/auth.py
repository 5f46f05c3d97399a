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
an auth failure cannot be repaired (``AuthExpiredError``). With a refresh token the grant
is a ``shared.platforms.tokens.RotatingToken``: one process-wide entry and lock per shop
(``PROCESS_CACHE``, keyed by token URL and app), every rotation written back through the
``store`` before the lock is released, and a refused refresh (``RefreshRejected``)
re-reading the store once another worker may have rotated first.

    shop            the shop's handle (``acme`` of ``acme.myshopify.com``) or domain
    access_token    the current access token (optional when a refresh token is given)
    refresh_token   the expiring offline token's refresh token (optional)
    client_id       the app's API key (needed to refresh)
    client_secret   the app's API secret key (needed to refresh)
    expires_at      epoch seconds when ``access_token`` expires (optional)

Secrets never leave this object: ``repr`` shows only the shop, errors name the status
and Shopify's OAuth error code, log lines nothing secret. ``rotated()`` gives the current
credentials (rotated refresh token included).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import AuthExpiredError, ConfigurationError, TransientError
from shared.platforms.tokens import Grant, GrantBook, GrantStore, RotatingToken

TOKEN_HEADER = "X-Shopify-Access-Token"
_KEYS = ("shop", "access_token", "refresh_token", "client_id", "client_secret", "expires_at")
TOKEN_PATH = "/admin/oauth/access_token"
REFRESH_MARGIN_S = 300.0  # refresh this long before the token's expiry
_OAUTH_ERROR_CHARS = 80


class RefreshRejected(AuthExpiredError):
    """Shopify refused the refresh token itself (400 / 401: used, expired or revoked)."""


class TokenCache(GrantBook):
    """Shopify grants by shop; one per process (``PROCESS_CACHE``) unless a test injects
    its own."""


PROCESS_CACHE = TokenCache()


class ShopifyAuth:
    """One shop's access token, refreshed before expiry (see the module docstring)."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        token_url: str,
        *,
        now: Callable[[], float] = time.time,
        cache: GrantBook | None = None,
        store: GrantStore | None = None,
    ) -> None:
        shop = str(credentials.get("shop", "")).strip()
        if not shop:
            raise ConfigurationError("shopify credentials: 'shop' is required")
        self.shop = shop
        self._token_url = token_url
        self._now = now
        seed = Grant.from_credentials(credentials, "shopify")
        self._client_id = str(credentials.get("client_id", ""))
        self._client_secret = _secret(credentials.get("client_secret"))
        self._other = {k: str(v) for k, v in credentials.items() if k not in _KEYS}
        if seed.access is None and seed.refresh is None:
            raise ConfigurationError(
                "shopify credentials: 'access_token' or 'refresh_token' is required"
            )
        self._static = seed  # a non-expiring token (no refresh token)
        self._token: RotatingToken | None = None
        if seed.refresh is not None:
            if not (self._client_id and self._client_secret):
                raise ConfigurationError(
                    "shopify credentials: refreshing needs 'client_id' and 'client_secret'"
                )
            key = hashlib.sha256(f"shopify|{token_url}|{self._client_id}".encode()).hexdigest()
            self._token = RotatingToken(
                key,
                seed,
                exchange=self._exchange,
                rejected=lambda exc: isinstance(exc, RefreshRejected),
                book=PROCESS_CACHE if cache is None else cache,
                now=now,
                margin_s=REFRESH_MARGIN_S,
                label=f"shopify {shop}",
                store=store,
            )

    def __repr__(self) -> str:
        return f"ShopifyAuth(shop={self.shop!r})"

    @property
    def can_refresh(self) -> bool:
        return self._token is not None

    @property
    def refreshes(self) -> int:
        """Token calls made through this object."""
        return 0 if self._token is None else self._token.exchanges

    def current(self) -> Grant:
        """The shop's newest grant in this process (secret: never log it)."""
        return self._static if self._token is None else self._token.current()

    def fresh(self) -> bool:
        """True if the access token is good for at least ``REFRESH_MARGIN_S``."""
        return self.current().usable(self._now(), REFRESH_MARGIN_S)

    async def token(self, client: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """The access token, refreshed first when it is (about to be) expired or is
        ``stale`` (one the API just refused; replaced once, however many callers saw it
        refused). AuthExpiredError if it cannot be renewed (``RefreshRejected`` when
        Shopify refuses the refresh token); TransientError on a 5xx or a network fault."""
        if self._token is not None:
            return await self._token.token(client, stale=stale)
        access = self._static.access
        if access is None or access.get_secret_value() == stale:
            raise AuthExpiredError(
                f"shopify {self.shop}: access token refused and no refresh token to renew it"
            )
        return access.get_secret_value()

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        """The auth header, refreshing first when the token is (about to be) expired."""
        return {TOKEN_HEADER: await self.token(client)}

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Replace the current access token now (it was refused)."""
        await self.token(client, stale=_text(self.current().access) or "")

    async def _exchange(self, client: httpx.AsyncClient, refresh: SecretStr) -> Grant:
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value() if self._client_secret else "",
            "grant_type": "refresh_token",
            "refresh_token": refresh.get_secret_value(),
        }
        started = self._now()
        try:
            response = await client.post(self._token_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(
                f"shopify {self.shop}: token refresh failed: {type(exc).__name__}"
            ) from None
        status = response.status_code
        if status >= 500:
            raise TransientError(f"shopify {self.shop}: token refresh: HTTP {status}")
        body = _json(response)
        if status != 200 or not isinstance(body.get("access_token"), str):
            error = RefreshRejected if status in (400, 401) else AuthExpiredError
            raise error(
                f"shopify {self.shop}: token refresh refused: HTTP {status}"
                f" {_oauth_error(body)}".rstrip()
            )
        rotated = body.get("refresh_token")
        expires_in = _float(body.get("expires_in"))
        return Grant(
            refresh=SecretStr(rotated) if isinstance(rotated, str) and rotated else None,
            access=SecretStr(body["access_token"]),
            expires_at=started + expires_in if expires_in is not None else None,
        )

    def rotated(self) -> dict[str, str]:
        """The credentials as they stand now (the refresh token may have rotated); keys
        this class does not use (``api_version`` …) are kept as they came."""
        out = {**self._other, "shop": self.shop, "client_id": self._client_id}
        if self._client_secret is not None:
            out["client_secret"] = self._client_secret.get_secret_value()
        return self.current().into(out)


def _text(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


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
