"""Login with Amazon: refresh token -> access token, cached until shortly before expiry.

``POST <auth_url>`` form-encoded ``grant_type=refresh_token&refresh_token=…&client_id=…&
client_secret=…`` answers ``{"access_token", "token_type", "expires_in"}`` (one hour;
MARKETPLACE_APIS.md §2.1). Every SP-API call then sends ``x-amz-access-token``.

- Credentials arrive as the dict ``python -m sandbox credentials`` prints for Amazon:
  ``client_id``, ``client_secret`` (the LWA app; falling back to the app-level
  ``PlatformSettings.client_id`` / ``client_secret``), ``refresh_token``,
  ``selling_partner_id`` and ``marketplace_ids`` (comma-separated). They are kept as
  ``SecretStr`` and never appear in a repr, a log line or an exception message.
- ``TokenCache`` keeps access tokens per (token URL, app, refresh token) — keyed by a
  digest, never the secret — until ``REFRESH_MARGIN_S`` before they expire. Time comes
  from the injected ``clock`` (UTC datetimes); nothing here reads a clock of its own.
- Failures raise the typed errors of ``shared.errors``: LWA refusing the exchange (400
  invalid_grant, 401 invalid_client) is ``PermanentError``; 429 ``ThrottledError``; 5xx
  and network faults ``TransientError``; a 200 without a usable token
  ``MalformedPayloadError``.
"""

from __future__ import annotations

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

REFRESH_MARGIN_S = 60.0  # refresh this long before the token's stated expiry
Clock = Callable[[], datetime]


class LwaCredentials(BaseModel):
    """One seller's LWA credentials and marketplaces. Secrets are ``SecretStr``."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    selling_partner_id: str = ""
    marketplace_ids: tuple[str, ...]

    @classmethod
    def from_mapping(
        cls, credentials: Mapping[str, str], settings: PlatformSettings | None = None
    ) -> LwaCredentials:
        """From the credentials dict (app id/secret may come from ``settings`` instead).
        Raises ConfigurationError naming the missing keys (never their values)."""
        client_id = credentials.get("client_id") or (settings.client_id if settings else "")
        secret = credentials.get("client_secret") or (
            settings.client_secret.get_secret_value() if settings else ""
        )
        markets = tuple(
            m.strip() for m in str(credentials.get("marketplace_ids", "")).split(",") if m.strip()
        )
        missing = [
            name
            for name, value in (
                ("client_id", client_id),
                ("client_secret", secret),
                ("refresh_token", credentials.get("refresh_token")),
                ("marketplace_ids", markets),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"amazon credentials lack {', '.join(missing)}")
        return cls(
            client_id=client_id,
            client_secret=SecretStr(secret),
            refresh_token=SecretStr(str(credentials["refresh_token"])),
            selling_partner_id=str(credentials.get("selling_partner_id", "")),
            marketplace_ids=markets,
        )

    def cache_key(self, auth_url: str) -> str:
        raw = repr((auth_url, self.client_id, self.refresh_token.get_secret_value()))
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


class TokenCache(SharedTokenCache):
    """Access tokens by cache key; one per process by default (see ``DEFAULT_CACHE``)."""

    margin_s = REFRESH_MARGIN_S


DEFAULT_CACHE = TokenCache()


class LwaAuth:
    """Hands out a live access token, exchanging the refresh token when needed."""

    def __init__(
        self, credentials: LwaCredentials, auth_url: str, cache: TokenCache, clock: Clock
    ) -> None:
        if not auth_url:
            raise ConfigurationError("amazon: settings.amazon.auth_url is empty")
        self._credentials = credentials
        self._auth_url = auth_url
        self._cache = cache
        self._clock = clock
        self._key = credentials.cache_key(auth_url)
        self.exchanges = 0  # token exchanges made by this object (for tests and metrics)

    def __repr__(self) -> str:
        return f"LwaAuth(client_id={self._credentials.client_id!r}, auth_url={self._auth_url!r})"

    def _now(self) -> float:
        return self._clock().timestamp()

    def now(self) -> datetime:
        """The injected clock's time (the connector's time source)."""
        return self._clock()

    async def token(self, http: httpx.AsyncClient) -> str:
        """A cached token while it is usable, else a fresh one."""
        cached = self._cache.get(self._key, self._now())
        if cached is not None:
            return cached.value.get_secret_value()
        return await self.refresh(http)

    def invalidate(self) -> None:
        """Forget the cached token (the API called it expired or invalid)."""
        self._cache.drop(self._key)

    async def refresh(self, http: httpx.AsyncClient) -> str:
        """Exchange the refresh token now and cache the result."""
        creds = self._credentials
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token.get_secret_value(),
            "client_id": creds.client_id,
            "client_secret": creds.client_secret.get_secret_value(),
        }
        issued = self._now()
        try:
            response = await http.post(self._auth_url, data=form)
        except httpx.TransportError as exc:
            raise TransientError(
                f"amazon LWA token exchange failed: {type(exc).__name__}"
            ) from None
        self.exchanges += 1
        token = _parse_token(response, issued)
        self._cache.put(self._key, token)
        log.info("amazon LWA token exchanged; valid %.0f s", token.expires_at - issued)
        return token.value.get_secret_value()


def _parse_token(response: httpx.Response, issued: float) -> AccessToken:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status == 200:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise MalformedPayloadError("amazon", "token", "access_token", "missing or not text")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            raise MalformedPayloadError("amazon", "token", "expires_in", "not a number") from None
        return AccessToken(SecretStr(body["access_token"]), issued + lifetime)
    error = body.get("error", "") if isinstance(body, dict) else ""
    description = body.get("error_description", "") if isinstance(body, dict) else ""
    reason = f"amazon LWA token exchange: HTTP {status} {error} {description}".strip()[:200]
    if status == 429:
        raise ThrottledError(reason, retry_after_s=None)
    if status >= 500:
        raise TransientError(reason)
    raise PermanentError(reason)
