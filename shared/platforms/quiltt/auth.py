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

Sharing between workers (``SessionStore``; ``shared.flows.connections.LedgerSessions``
keeps it sealed in the Connection's credentials as ``session_token``,
``session_expires_at`` and ``session_claim_until``). The per-Profile caps are too small
for a token per process: ten workers starting a sync together, or a host recycled a few
times a day, would spend the hour's or the day's issuance. So a worker without a live
token asks the store first (``claim``): a live token stored by another worker is adopted;
a claim another worker holds (it is issuing right now) is waited out, polling the store,
for at most ``CLAIM_POLLS`` x ``CLAIM_POLL_S`` (then the fetch is throttled until the claim
ends); otherwise the claim is taken (compare-and-set on the row), the token issued,
saved and the claim dropped. A claim lasts ``CLAIM_S`` (a worker that died issuing holds
nobody up longer). A connector built from credentials that carry a stored token starts
from it (a restarted worker issues nothing). The store is advisory: when it cannot be
read or written the worker issues and keeps its token to itself, as before.

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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

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
CLAIM_S = 30.0  # a worker issuing a Profile's token holds others off this long at most
CLAIM_POLL_S = 0.25  # how often a worker waiting on another's claim reads the store
CLAIM_POLLS = 20  # then the fetch is throttled until the claim ends

TOKEN_KEY, EXPIRES_KEY, CLAIM_KEY = "session_token", "session_expires_at", "session_claim_until"
SESSION_KEYS = (TOKEN_KEY, EXPIRES_KEY, CLAIM_KEY)
"""Where a shared Session token lives in a Quiltt connection's (sealed) credentials."""


class TokenRefused(TributaryError):
    """No Session token was issued; ``classified`` says why and what to do."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.reason or f"session issuance failed ({classified.status})")
        self.classified = classified


@dataclass
class Session:
    token: SecretStr
    expires_at: float  # epoch seconds

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any]) -> Session | None:
        """The token stored in a connection's credentials, if a well-formed one is."""
        token, expires = credentials.get(TOKEN_KEY), _number(credentials.get(EXPIRES_KEY))
        if not isinstance(token, str) or not token or expires is None:
            return None
        return cls(token=SecretStr(token), expires_at=expires)

    def into(self, credentials: Mapping[str, str]) -> dict[str, str]:
        """``credentials`` holding this token (and no claim)."""
        kept = {k: v for k, v in credentials.items() if k not in SESSION_KEYS}
        token = self.token.get_secret_value()
        return {**kept, TOKEN_KEY: token, EXPIRES_KEY: repr(self.expires_at)}


def claim_of(credentials: Mapping[str, Any]) -> float | None:
    """Until when (epoch s) a worker's claim on issuing, stored in ``credentials``, runs."""
    return _number(credentials.get(CLAIM_KEY))


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Claim:
    """What the shared store answered: a live token stored by another worker
    (``session``), a claim another worker holds until ``held_until``, or neither: the
    claim is this worker's (``ours``) or there is nothing to coordinate on."""

    session: Session | None = None
    held_until: float | None = None
    ours: bool = False


class SessionStore(Protocol):
    """Where the workers of every machine share a Profile's Session token."""

    async def claim(
        self, *, now: float, live_after: float, until: float, stale: str | None
    ) -> Claim:
        """Atomically: the stored token if it expires after ``live_after`` and is not
        ``stale``; else another worker's claim if it runs past ``now``; else a claim of
        ours until ``until``, written."""
        ...

    async def save(self, session: Session) -> None:
        """Store ``session`` (unless a later-expiring token is stored) and drop the claim."""
        ...

    async def release(self, *, until: float) -> None:
        """Drop our claim (``until`` as claimed) after an issuance that failed."""
        ...


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

    def offer(self, key: str, session: Session | None) -> None:
        """Keep ``session`` for ``key`` unless the kept one expires later."""
        kept = self.entries.get(key)
        if session is not None and (kept is None or session.expires_at > kept.expires_at):
            self.entries[key] = session

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
        store: SessionStore | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
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
        self._store, self._sleep = store, sleep
        self._cache.offer(self._key, Session.from_credentials(credentials))

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
            return (await self._shared_or_issued(http, stale)).token.get_secret_value()

    async def _shared_or_issued(self, http: httpx.AsyncClient, stale: str | None) -> Session:
        """Another worker's live token from the store, or one issued here under a claim
        (see the module docstring)."""
        for poll in range(CLAIM_POLLS + 1):
            now = self._now()
            until = now + CLAIM_S
            claim = await self._claim(now, until, stale)
            if claim.session is not None:
                self._cache.offer(self._key, claim.session)
                log.info("quiltt session for %s taken from the store", self.profile_id)
                return claim.session
            if claim.held_until is None:
                break
            if poll == CLAIM_POLLS:
                reason = "quiltt session being issued by another worker; waiting for it"
                wait = max(claim.held_until - now, CLAIM_POLL_S)
                raise TokenRefused(
                    Classified(
                        outcome=Outcome.THROTTLED, status=0, reason=reason, retry_after_s=wait
                    )
                )
            await self._sleep(CLAIM_POLL_S)
        try:
            session = await self._issue(http)
        except TokenRefused:
            if claim.ours and self._store is not None:
                await self._advise("release", self._store.release(until=until))
            raise
        if self._store is not None:
            await self._advise("save", self._store.save(session))
        return session

    async def _claim(self, now: float, until: float, stale: str | None) -> Claim:
        if self._store is None:
            return Claim()
        asked = self._store.claim(
            now=now, live_after=now + self._margin_s, until=until, stale=stale
        )
        return await self._advise("claim", asked) or Claim()

    async def _advise(self, what: str, call: Awaitable[Any]) -> Any:
        """Await a store call; the store is advisory, so its failure is logged, not raised."""
        try:
            return await call
        except Exception as exc:  # storage faults of any kind: go on without the store
            log.warning(
                "quiltt session store %s failed for %s (%s); going on without it",
                what,
                self.profile_id,
                type(exc).__name__,
            )
            return None

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
