"""eBay OAuth: the refresh-token grant, user access tokens cached until shortly before expiry.

``POST <auth_url>`` (``/identity/v1/oauth2/token``) form-encoded
``grant_type=refresh_token&refresh_token=…&scope=…`` with ``Authorization: Basic
base64(client_id:client_secret)`` answers ``{"access_token", "expires_in": 7200,
"token_type"}`` (MARKETPLACE_APIS.md §4.1). API calls send ``Authorization: Bearer …``.

- Credentials arrive as the dict the sandbox prints for eBay: ``client_id`` and
  ``client_secret`` (the application's keyset — falling back to the app-level
  ``PlatformSettings.client_id`` / ``client_secret``), the seller's ``refresh_token`` and
  the ``scope`` (space-separated) the refresh token was granted; the scope is sent as is
  (omitted when empty, eBay then grants the original scopes).
- Tokens are cached per (token URL, app, refresh token) — keyed by a digest, never the
  secret — until ``REFRESH_MARGIN_S`` before their stated expiry, on the injected clock.
- Failures raise ``shared.errors``: 400 invalid_grant / invalid_scope and 401
  invalid_client ``PermanentError``; 429 (the token endpoint's own daily quota)
  ``ThrottledError``; 5xx and network faults ``TransientError``; a 200 without a token
  ``MalformedPayloadError``. Secrets never reach a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.errors import (
    ConfigurationError,
    MalformedPayloadError,
    PermanentError,
    ThrottledError,
    TransientError,
)
from shared.platforms.tokens import AccessToken
from shared.platforms.tokens import TokenCache as SharedTokenCache
from shared.settings import PlatformSettings

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 120.0
Clock = Callable[[], datetime]


class EbayCredentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    scope: str = ""

    @classmethod
    def from_mapping(
        cls, credentials: Mapping[str, str], settings: PlatformSettings | None = None
    ) -> EbayCredentials:
        """From the credentials dict; raises ConfigurationError naming missing keys."""
        client_id = credentials.get("client_id") or (settings.client_id if settings else "")
        secret = credentials.get("client_secret") or (
            settings.client_secret.get_secret_value() if settings else ""
        )
        missing = [
            name
            for name, value in (
                ("client_id", client_id),
                ("client_secret", secret),
                ("refresh_token", credentials.get("refresh_token")),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"ebay credentials lack {', '.join(missing)}")
        return cls(
            client_id=client_id,
            client_secret=SecretStr(secret),
            refresh_token=SecretStr(str(credentials["refresh_token"])),
            scope=" ".join(str(credentials.get("scope", "")).split()),
        )

    def basic(self) -> str:
        pair = f"{self.client_id}:{self.client_secret.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def cache_key(self, auth_url: str) -> str:
        raw = repr((auth_url, self.client_id, self.refresh_token.get_secret_value(), self.scope))
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


class TokenCache(SharedTokenCache):
    """User access tokens by cache key (one per process by default: ``DEFAULT_CACHE``)."""

    margin_s = REFRESH_MARGIN_S


DEFAULT_CACHE = TokenCache()


class EbayAuth:
    def __init__(
        self, credentials: EbayCredentials, auth_url: str, cache: TokenCache, clock: Clock
    ) -> None:
        if not auth_url:
            raise ConfigurationError("ebay: settings.ebay.auth_url is empty")
        self._credentials = credentials
        self._auth_url = auth_url
        self._cache = cache
        self._clock = clock
        self._key = credentials.cache_key(auth_url)
        self.exchanges = 0

    def __repr__(self) -> str:
        return f"EbayAuth(client_id={self._credentials.client_id!r}, auth_url={self._auth_url!r})"

    async def token(self, http: httpx.AsyncClient) -> str:
        cached = self._cache.get(self._key, self._clock().timestamp())
        if cached is not None:
            return cached.value.get_secret_value()
        return await self.refresh(http)

    def invalidate(self) -> None:
        self._cache.drop(self._key)

    async def refresh(self, http: httpx.AsyncClient) -> str:
        creds = self._credentials
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token.get_secret_value(),
        }
        if creds.scope:
            form["scope"] = creds.scope
        issued = self._clock().timestamp()
        try:
            response = await http.post(
                self._auth_url, data=form, headers={"Authorization": creds.basic()}
            )
        except httpx.TransportError as exc:
            raise TransientError(f"ebay token refresh failed: {type(exc).__name__}") from None
        self.exchanges += 1
        token = _parse(response, issued)
        self._cache.put(self._key, token)
        log.info("ebay user token refreshed; valid %.0f s", token.expires_at - issued)
        return token.value.get_secret_value()


def _parse(response: httpx.Response, issued: float) -> AccessToken:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status == 200:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise MalformedPayloadError("ebay", "token", "access_token", "missing or not text")
        try:
            lifetime = float(body.get("expires_in", 7200))
        except (TypeError, ValueError):
            raise MalformedPayloadError("ebay", "token", "expires_in", "not a number") from None
        return AccessToken(SecretStr(body["access_token"]), issued + lifetime)
    body = body if isinstance(body, dict) else {}
    error = body.get("error") or ""
    if not error and isinstance(body.get("errors"), list) and body["errors"]:
        error = f"errorId {body['errors'][0].get('errorId')}"
    description = body.get("error_description") or ""
    reason = f"ebay token refresh: HTTP {status} {error} {description}".strip()[:200]
    if status == 429:
        raise ThrottledError(reason, retry_after_s=None)
    if status >= 500:
        raise TransientError(reason)
    raise PermanentError(reason)
