"""Etsy auth: the ``x-api-key`` header and OAuth 2.0 refresh grants on a rotating token.

- Every ``/v3/application`` request carries ``x-api-key: <keystring>:<shared_secret>``
  (the keystring alone is refused with 403 since 2026-02-09) and, for shop data,
  ``Authorization: Bearer <access token>``.
- ``POST <token_url>`` (form) ``grant_type=refresh_token&client_id=<keystring>&
  refresh_token=…`` answers ``{access_token, token_type, expires_in (3600), refresh_token}``.
  Etsy rotates the refresh token on use. The grant is a ``shared.platforms.tokens``
  ``RotatingToken``: one process-wide ``TokenCache`` entry and lock per account (token
  URL, keystring, user or shop id), every rotation written back through the ``store``
  (``GrantStore``) and, for older callers, handed to ``on_rotate`` (the new refresh
  token); a refused refresh re-reads the store once another worker may have rotated.
- Credentials may carry ``access_token`` and ``expires_at`` (epoch seconds), as the store
  writes them back: a live stored access token is used without a refresh.
- The access token is used until ``margin_s`` before it expires, by the injected clock
  ``now`` (epoch seconds). ``access_token(stale=t)`` forces one refresh unless another
  caller already replaced ``t``: concurrent fetches that all saw a 401 refresh once.
- A refused refresh raises ``TokenRefused`` carrying the ``Classified`` outcome (a 400
  ``invalid_grant`` is permanent, a 5xx transient, a 429 throttled; a 401 from the token
  endpoint is permanent: refreshing again cannot help).

Secrets are ``SecretStr``; ``repr`` shows the keystring's first characters only, and no
log line or exception message holds a token or secret.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import ConfigurationError, TributaryError
from shared.platforms.base import Classified, Outcome
from shared.platforms.etsy.classify import classify
from shared.platforms.tokens import Grant, GrantBook, GrantStore, RotatingToken

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 120.0


class TokenRefused(TributaryError):
    """The token endpoint did not hand out an access token; ``classified`` says why."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.reason or f"token refresh failed ({classified.status})")
        self.classified = classified


def refused_grant(exc: BaseException) -> bool:
    """True if Etsy refused the refresh token itself (400 / 401), not the moment."""
    return (
        isinstance(exc, TokenRefused)
        and exc.classified.outcome is Outcome.PERMANENT
        and exc.classified.status in (400, 401)
    )


class TokenCache(GrantBook):
    """Etsy grants by account key; one per process (``PROCESS_CACHE``) unless a test
    injects its own."""


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
        store: GrantStore | None = None,
    ) -> None:
        if not token_url:
            raise ConfigurationError("etsy: the token URL (auth_url) is not set")
        self.token_url = token_url
        self._keystring = _required(credentials, "keystring", keystring)
        self._secret = SecretStr(_required(credentials, "shared_secret", shared_secret))
        refresh = _required(credentials, "refresh_token")
        self._now = now
        owner = credentials.get("user_id") or credentials.get("shop_id") or f"~{refresh}"
        key = hashlib.sha256(f"etsy|{token_url}|{self._keystring}|{owner}".encode()).hexdigest()
        self._cache = PROCESS_CACHE if cache is None else cache
        self._token = RotatingToken(
            key,
            Grant.from_credentials(credentials, "etsy"),
            exchange=self._exchange,
            rejected=refused_grant,
            book=self._cache,
            now=now,
            margin_s=margin_s,
            label="etsy",
            store=store,
            on_rotate=on_rotate,
        )

    def __repr__(self) -> str:
        return f"EtsyAuth(keystring={self._keystring[:4]}…, token_url={self.token_url!r})"

    @property
    def exchanges(self) -> int:
        """Token calls made through this object."""
        return self._token.exchanges

    def api_key(self) -> str:
        """The ``x-api-key`` header value: ``keystring:shared_secret``."""
        return f"{self._keystring}:{self._secret.get_secret_value()}"

    def current(self) -> Grant:
        """The account's newest grant in this process (secret: never log it)."""
        return self._token.current()

    async def access_token(self, http: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """A live access token: the cached one, or a fresh one from the token endpoint.

        ``stale``: a token the API just refused; refresh unless the cache moved on."""
        return await self._token.token(http, stale=stale)

    async def _exchange(self, http: httpx.AsyncClient, refresh: SecretStr) -> Grant:
        form = {"grant_type": "refresh_token", "client_id": self._keystring}
        form["refresh_token"] = refresh.get_secret_value()
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
        grant = _grant(body, started)
        log.info("etsy access token refreshed (valid %.0f s)", (grant.expires_at or 0) - started)
        return grant


def _grant(body: Any, started: float) -> Grant:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        reason = "etsy token endpoint answered without an access_token"
        raise TokenRefused(Classified(outcome=Outcome.PERMANENT, status=200, reason=reason))
    try:
        lifetime = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    rotated = body.get("refresh_token")
    return Grant(
        refresh=SecretStr(rotated) if isinstance(rotated, str) and rotated else None,
        access=SecretStr(body["access_token"]),
        expires_at=started + lifetime,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
