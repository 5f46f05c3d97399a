"""Etsy auth: the ``x-api-key`` header and OAuth 2.0 refresh grants, with a token cache.

- Every ``/v3/application`` request carries ``x-api-key: <keystring>:<shared_secret>``
  (the keystring alone is refused with 403 since 2026-02-09) and, for shop data,
  ``Authorization: Bearer <access token>``.
- ``POST <token_url>`` (form) ``grant_type=refresh_token&client_id=<keystring>&
  refresh_token=…`` answers ``{access_token, token_type, expires_in (3600), refresh_token}``.
  Etsy rotates the refresh token on use: the newest one is kept in the cache entry and
  handed to ``on_rotate`` (so the caller can persist it).
- The access token is cached (``TokenCache``, process-wide by default, keyed by a digest of
  token URL, keystring and the original refresh token) until ``margin_s`` before it
  expires, by the injected clock ``now`` (epoch seconds). ``access_token(stale=t)`` forces
  one refresh unless another caller already replaced ``t``: concurrent fetches that all
  saw a 401 refresh once, not once each.
- A refused refresh raises ``TokenRefused`` carrying the ``Classified`` outcome (a 400
  ``invalid_grant`` is permanent, a 5xx transient, a 429 throttled; a 401 from the token
  endpoint is permanent: refreshing again cannot help).

Secrets are ``SecretStr``; ``repr`` shows the keystring's first characters only, and no
log line or exception message holds a token or secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import ConfigurationError, TributaryError
from shared.platforms.base import Classified, Outcome
from shared.platforms.etsy.classify import classify

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 120.0


class TokenRefused(TributaryError):
    """The token endpoint did not hand out an access token; ``classified`` says why."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.reason or f"token refresh failed ({classified.status})")
        self.classified = classified


@dataclass
class CachedToken:
    access: SecretStr
    expires_at: float  # epoch seconds
    refresh: SecretStr  # the newest refresh token (rotation)


@dataclass
class TokenCache:
    """Access tokens by cache key; one per process unless a test injects its own."""

    entries: dict[str, CachedToken] = field(default_factory=dict)
    _locks: dict[tuple[str, int], asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: str) -> asyncio.Lock:
        loop_id = id(asyncio.get_running_loop())
        return self._locks.setdefault((key, loop_id), asyncio.Lock())

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self.entries)})"


PROCESS_CACHE = TokenCache()


def _required(credentials: dict[str, str], name: str, fallback: str = "") -> str:
    value = credentials.get(name) or fallback
    if not value:
        raise ConfigurationError(f"etsy credentials lack {name!r}")
    return value


class EtsyAuth:
    def __init__(
        self,
        token_url: str,
        credentials: dict[str, str],
        *,
        keystring: str = "",
        shared_secret: str = "",
        cache: TokenCache | None = None,
        now: Callable[[], float],
        margin_s: float = REFRESH_MARGIN_S,
        on_rotate: Callable[[str], Any] | None = None,
    ) -> None:
        if not token_url:
            raise ConfigurationError("etsy: the token URL (auth_url) is not set")
        self.token_url = token_url
        self._keystring = _required(credentials, "keystring", keystring)
        self._secret = SecretStr(_required(credentials, "shared_secret", shared_secret))
        refresh = _required(credentials, "refresh_token")
        self._initial_refresh = SecretStr(refresh)
        self._cache = PROCESS_CACHE if cache is None else cache
        self._now = now
        self._margin_s = margin_s
        self._on_rotate = on_rotate
        digest = hashlib.sha256(f"{token_url}|{self._keystring}|{refresh}".encode())
        self._key = digest.hexdigest()

    def __repr__(self) -> str:
        return f"EtsyAuth(keystring={self._keystring[:4]}…, token_url={self.token_url!r})"

    def api_key(self) -> str:
        """The ``x-api-key`` header value: ``keystring:shared_secret``."""
        return f"{self._keystring}:{self._secret.get_secret_value()}"

    def cached(self) -> CachedToken | None:
        entry = self._cache.entries.get(self._key)
        if entry is None or self._now() >= entry.expires_at - self._margin_s:
            return None
        return entry

    async def access_token(self, http: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """A live access token: the cached one, or a fresh one from the token endpoint.

        ``stale``: a token the API just refused; refresh unless the cache moved on."""
        entry = self.cached()
        if entry is not None and entry.access.get_secret_value() != stale:
            return entry.access.get_secret_value()
        async with self._cache.lock(self._key):
            entry = self.cached()
            if entry is not None and entry.access.get_secret_value() != stale:
                return entry.access.get_secret_value()
            return (await self._refresh(http)).access.get_secret_value()

    async def _refresh(self, http: httpx.AsyncClient) -> CachedToken:
        previous = self._cache.entries.get(self._key)
        refresh = (previous.refresh if previous else self._initial_refresh).get_secret_value()
        form = {"grant_type": "refresh_token", "client_id": self._keystring}
        form["refresh_token"] = refresh
        started = self._now()
        try:
            response = await http.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            reason = f"etsy token endpoint unreachable: {type(exc).__name__}"
            raise TokenRefused(
                Classified(outcome=Outcome.TRANSIENT, status=0, reason=reason)
            ) from None
        body = _json(response)
        classified = classify(response.status_code, response.headers, body)
        if classified.outcome is Outcome.AUTH_EXPIRED:
            classified = classified.model_copy(update={"outcome": Outcome.PERMANENT})
        if classified.outcome is not Outcome.OK:
            log.warning("etsy token refresh refused: %s", classified.reason)
            raise TokenRefused(classified)
        entry = self._entry(body, refresh, started)
        self._cache.entries[self._key] = entry
        log.info("etsy access token refreshed (valid %.0f s)", entry.expires_at - started)
        rotated = entry.refresh.get_secret_value()
        if rotated != refresh and self._on_rotate is not None:
            self._on_rotate(rotated)
        return entry

    @staticmethod
    def _entry(body: Any, refresh: str, started: float) -> CachedToken:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            reason = "etsy token endpoint answered without an access_token"
            raise TokenRefused(Classified(outcome=Outcome.PERMANENT, status=200, reason=reason))
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return CachedToken(
            access=SecretStr(body["access_token"]),
            expires_at=started + lifetime,
            refresh=SecretStr(str(body.get("refresh_token") or refresh)),
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
