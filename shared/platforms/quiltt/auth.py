"""Quiltt Session tokens, issued sparingly and reused until shortly before they expire.

``POST <auth_url>`` (``https://auth.quiltt.io/v1/users/sessions``) with
``Authorization: Bearer <API secret key>`` and ``{"userId": "<profile id>"}`` answers 201
``{token, userId, environmentId, expiration (epoch s), expiresAt}``; a token lives 24 h.
Quiltt issues at most 10 tokens an hour and 20 a day per Profile, so a token is never
asked for per request: it is cached (``SessionCache``, process-wide by default, keyed by a
digest of auth URL, Profile and secret) until ``margin_s`` before ``expiration``, on the
injected clock ``now`` (epoch seconds). ``session_token(stale=t)`` replaces a token the API
refused (401), once, however many fetches saw it fail at the same time.

Issuance is authorized by the API secret, so Quiltt counts it in the 25 requests a
second it allows a caller without a Session token, for the whole environment: fifty
Profiles starting together would be refused. The cache paces it: at most
``issuance_per_s`` (20) issuances per clock second per auth URL and secret; one more is
refused here, before any request, as throttled until the next second. The pace holds
within one process (the cache's reach); workers of a scaled-out host pace apart.

A refused issuance raises ``TokenRefused`` carrying the ``Classified`` outcome: the
issuance cap (429) is throttled with a long wait, a bad secret (401) or unknown Profile
(404) permanent, a 5xx transient. Secrets are ``SecretStr``; no repr, log line or
exception message holds the API secret key or a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import ConfigurationError, TributaryError
from shared.platforms.base import Classified, Outcome
from shared.platforms.quiltt.classify import classify

log = logging.getLogger(__name__)

EXPIRY_MARGIN_S = 300.0
DEFAULT_LIFETIME_S = 86_400.0
ISSUANCE_PER_S = 20  # of the 25 a second Quiltt allows the API secret (clock skew)
ISSUANCE_SKEW_S = 0.01  # wait this far into the next second


class TokenRefused(TributaryError):
    """No Session token was issued; ``classified`` says why and what to do."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.reason or f"session issuance failed ({classified.status})")
        self.classified = classified


@dataclass
class Session:
    token: SecretStr
    expires_at: float  # epoch seconds


@dataclass
class SessionCache:
    entries: dict[str, Session] = field(default_factory=dict)
    issued: int = 0  # tokens issued through this cache (issuance is scarce)
    issuance_per_s: int = ISSUANCE_PER_S
    # one lock per key and event loop, held weakly: a finished loop's locks go with it (an
    # id(loop) key could be reused by a later loop and hand it a lock bound to the dead one)
    _locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _issuing: dict[str, tuple[int, int]] = field(default_factory=dict)  # (second, sent)

    def lock(self, key: str) -> asyncio.Lock:
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(key, asyncio.Lock())

    def issuance_wait(self, environment: str, now: float) -> float:
        """0, counting an issuance, if fewer than ``issuance_per_s`` went out for
        ``environment`` in ``now``'s clock second; else the seconds to wait."""
        second = math.floor(now)
        current, sent = self._issuing.get(environment, (second, 0))
        if current != second:
            sent = 0
        if sent >= self.issuance_per_s:
            return second + 1 + ISSUANCE_SKEW_S - now
        self._issuing[environment] = (second, sent + 1)
        return 0.0

    def __repr__(self) -> str:
        return f"SessionCache(entries={len(self.entries)}, issued={self.issued})"


PROCESS_CACHE = SessionCache()


class QuilttAuth:
    def __init__(
        self,
        auth_url: str,
        credentials: dict[str, str],
        *,
        api_secret_key: str = "",
        cache: SessionCache | None = None,
        now: Callable[[], float],
        margin_s: float = EXPIRY_MARGIN_S,
    ) -> None:
        if not auth_url:
            raise ConfigurationError("quiltt: the session URL (auth_url) is not set")
        profile = credentials.get("profile_id", "")
        secret = credentials.get("api_secret_key") or api_secret_key
        if not profile:
            raise ConfigurationError("quiltt credentials lack 'profile_id'")
        if not secret:
            raise ConfigurationError("quiltt credentials lack 'api_secret_key'")
        self.auth_url = auth_url
        self.profile_id = profile
        self._secret = SecretStr(secret)
        self._cache = PROCESS_CACHE if cache is None else cache
        self._now = now
        self._margin_s = margin_s
        self._key = hashlib.sha256(f"{auth_url}|{profile}|{secret}".encode()).hexdigest()
        self._environment = hashlib.sha256(f"{auth_url}|{secret}".encode()).hexdigest()

    def __repr__(self) -> str:
        return f"QuilttAuth(profile_id={self.profile_id!r}, auth_url={self.auth_url!r})"

    def cached(self) -> Session | None:
        entry = self._cache.entries.get(self._key)
        if entry is None or self._now() >= entry.expires_at - self._margin_s:
            return None
        return entry

    async def session_token(self, http: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """A live Session token: the cached one, or a newly issued one.

        ``stale``: a token the API just refused; issue a new one unless the cache moved on."""
        entry = self.cached()
        if entry is not None and entry.token.get_secret_value() != stale:
            return entry.token.get_secret_value()
        async with self._cache.lock(self._key):
            entry = self.cached()
            if entry is not None and entry.token.get_secret_value() != stale:
                return entry.token.get_secret_value()
            return (await self._issue(http)).token.get_secret_value()

    async def _issue(self, http: httpx.AsyncClient) -> Session:
        headers = {"Authorization": f"Bearer {self._secret.get_secret_value()}"}
        started = self._now()
        wait = self._cache.issuance_wait(self._environment, started)
        if wait > 0:
            reason = (
                f"quiltt session issuance paced: {self._cache.issuance_per_s} issued this "
                "second with this API secret (Quiltt allows it 25 requests a second)"
            )
            raise TokenRefused(
                Classified(outcome=Outcome.THROTTLED, status=0, reason=reason, retry_after_s=wait)
            )
        try:
            response = await http.post(
                self.auth_url, json={"userId": self.profile_id}, headers=headers
            )
        except httpx.HTTPError as exc:
            reason = f"quiltt session endpoint unreachable: {type(exc).__name__}"
            raise TokenRefused(
                Classified(outcome=Outcome.TRANSIENT, status=0, reason=reason)
            ) from None
        body = _json(response)
        classified = classify(response.status_code, response.headers, body, started)
        if classified.outcome is Outcome.AUTH_EXPIRED:  # the secret itself is refused
            classified = classified.model_copy(update={"outcome": Outcome.PERMANENT})
        if classified.outcome is not Outcome.OK:
            log.warning("quiltt session issuance refused: %s", classified.reason)
            raise TokenRefused(classified)
        session = _session(body, started)
        self._cache.entries[self._key] = session
        self._cache.issued += 1
        log.info(
            "quiltt session issued for %s (valid %.0f s)",
            self.profile_id,
            session.expires_at - started,
        )
        return session


def _session(body: Any, started: float) -> Session:
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        reason = "quiltt session endpoint answered without a token"
        raise TokenRefused(Classified(outcome=Outcome.PERMANENT, status=201, reason=reason))
    expires = body.get("expiration")
    if not isinstance(expires, int | float) and isinstance(body.get("expiresAt"), str):
        try:
            expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00")).timestamp()
        except ValueError:
            expires = None
    if not isinstance(expires, int | float):
        expires = started + DEFAULT_LIFETIME_S
    return Session(token=SecretStr(body["token"]), expires_at=float(expires))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
