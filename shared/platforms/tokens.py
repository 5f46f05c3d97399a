"""Access tokens and refresh grants shared by the OAuth connectors.

- ``AccessToken`` / ``TokenCache``: bearer tokens by cache key, usable until ``margin_s``
  before their stated expiry (epoch seconds, UTC, on the caller's injected clock); each
  platform's auth module sets its own margin (Amazon, eBay: their refresh tokens do not
  rotate).
- ``Grant`` / ``GrantBook`` / ``RotatingToken`` / ``GrantStore``: refresh tokens that
  rotate on use (Shopify's expiring offline tokens, Etsy), where presenting a refresh
  token hands out its successor and the old one stops working.

Theory of operation (rotating refresh tokens)
=============================================

A rotating refresh token is a baton: only its newest holder can refresh, and every
worker of every machine must end up holding the newest one. Three rules:

1. **One refresh per account at a time in a process.** ``GrantBook`` holds the newest
   ``Grant`` this process knows per account key (platform, token URL, app, account —
   never a token) and one ``asyncio.Lock`` per key and event loop. Every
   ``RotatingToken`` of that account — whatever credentials it was built from — reads
   and writes the same entry under the same lock. A caller that saw access token T
   refused asks with ``stale=T`` and refreshes only if the book still holds T, so
   concurrent 401s cost one refresh.
2. **Every rotation is written back before the lock is released**:
   ``GrantStore.save(grant, replaces=used)`` — the owner (``shared.flows.connections``)
   re-seals the credentials and stores them with if-match on the row's ETag, only if
   the stored refresh token is still the one used. A failed write marks the entry
   ``pending``; the next call writes it again (replacing what the store still holds).
   The access token and its expiry are stored too, so a restarted or second worker uses
   the live access token instead of refreshing.
3. **Another worker may have rotated first.** Before refreshing, the store is read: a
   grant this book has not seen replaces the entry, and a live access token in it is
   used without a refresh. A refresh refused as invalid (``rejected``) re-reads the store
   (a few times over about 1.5 s: the winner writes back one round trip after its
   exchange); a stored refresh token other than the one used is adopted — its access
   token used if live, else refreshed once. Only then is the refusal raised — and
   remembered: later calls still read the store (a reconnect, a late write-back), but do
   not present the dead refresh token to the platform again.

Which grant is newer: an entry remembers (as ``digest``s) the refresh tokens it
succeeded. A grant offered later (credentials a connector is built from, the store's
copy) whose refresh token is the entry's or one of those is older and ignored; any other
refresh token is newer — another worker's rotation, or a reconnect — and replaces it.

Tokens are ``SecretStr`` and never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from shared.errors import ConfigurationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessToken:
    value: SecretStr
    expires_at: float  # epoch seconds, UTC

    def usable(self, now: float, margin_s: float) -> bool:
        return now < self.expires_at - margin_s

    def __repr__(self) -> str:
        return f"AccessToken(value='**********', expires_at={self.expires_at})"


class TokenCache:
    """Access tokens by cache key; a platform subclass sets ``margin_s``."""

    margin_s: float = 60.0

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    def get(self, key: str, now: float) -> AccessToken | None:
        token = self._tokens.get(key)
        return token if token is not None and token.usable(now, self.margin_s) else None

    def put(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def drop(self, key: str) -> None:
        self._tokens.pop(key, None)

    def clear(self) -> None:
        self._tokens.clear()

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"


# --- rotating refresh tokens --------------------------------------------------------------

REREAD_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Pauses between re-reads of the store after a refused refresh (about 1.5 s in all): the
worker that won the race writes its rotation back one storage round trip after its token
exchange, so a loser that reads at once may still see the token it just lost with."""
MAX_ANCESTORS = 64


def digest(secret: str) -> str:
    """A short, one-way name for a token (what the book remembers of old refresh tokens)."""
    return hashlib.blake2b(secret.encode(), digest_size=16, person=b"tribgrant").hexdigest()


def _text(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


@dataclass(frozen=True)
class Grant:
    """One OAuth grant: the refresh token, and the access token it last bought.

    ``expires_at`` (epoch seconds, UTC) is the access token's stated expiry, None when the
    platform stated none (usable until refused). ``ancestors`` names (``digest``) the
    refresh tokens this grant's refresh token succeeded; ``pending`` is set while this
    grant is not yet written back, and holds the refresh token the store still has;
    ``refused`` holds the platform's error once its refresh token was refused and the
    store had no other (later calls raise it without asking the platform again)."""

    refresh: SecretStr | None
    access: SecretStr | None = None
    expires_at: float | None = None
    ancestors: tuple[str, ...] = ()
    pending: SecretStr | None = None
    refused: BaseException | None = None

    def usable(self, now: float, margin_s: float) -> bool:
        if self.access is None:
            return False
        return self.expires_at is None or now < self.expires_at - margin_s

    def descends_from(self, refresh: str) -> bool:
        """True if ``refresh`` is this grant's refresh token or one it succeeded."""
        return refresh == _text(self.refresh) or digest(refresh) in self.ancestors

    def succeeding(self, older: Grant) -> Grant:
        """This grant, recorded as the successor of ``older`` (lineage carried over)."""
        chain = (*older.ancestors, *self.ancestors)
        if older.refresh is not None and _text(older.refresh) != _text(self.refresh):
            chain = (*chain, digest(older.refresh.get_secret_value()))
        unique = tuple(dict.fromkeys(chain))[-MAX_ANCESTORS:]
        return replace(self, ancestors=unique, pending=None, refused=None)

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any], platform: str) -> Grant:
        """From a credentials dict's ``refresh_token``, ``access_token`` and ``expires_at``
        (epoch seconds). ConfigurationError if ``expires_at`` is not a number."""
        raw = credentials.get("expires_at")
        try:
            expires_at = None if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"{platform} credentials: 'expires_at' must be a number (epoch seconds)"
            ) from None
        refresh, access = credentials.get("refresh_token"), credentials.get("access_token")
        return cls(
            refresh=SecretStr(str(refresh)) if refresh else None,
            access=SecretStr(str(access)) if access else None,
            expires_at=expires_at,
        )

    def into(self, credentials: Mapping[str, str]) -> dict[str, str]:
        """``credentials`` with this grant's tokens and expiry in place of theirs."""
        out = {k: v for k, v in credentials.items() if k != "expires_at"}
        for name, value in (("refresh_token", self.refresh), ("access_token", self.access)):
            if value is not None:
                out[name] = value.get_secret_value()
        if self.expires_at is not None:
            out["expires_at"] = repr(float(self.expires_at))
        return out

    def __repr__(self) -> str:
        return f"Grant(expires_at={self.expires_at}, ancestors={len(self.ancestors)})"


class GrantStore(Protocol):
    """Where a connector's owner keeps an account's grant (``shared.flows.connections``
    keeps it sealed on the ledger's Connection). Platform code knows only this."""

    async def load(self) -> Grant | None:
        """The grant as stored now (None if there is none)."""
        ...

    async def save(self, grant: Grant, *, replaces: SecretStr) -> None:
        """Store ``grant`` if the stored refresh token is still ``replaces``; leave a row
        that moved on (another worker's rotation, a reconnect) as it is."""
        ...


class GrantBook:
    """The newest grant per account key in this process, and one asyncio lock per key
    and event loop. Every connector of an account shares its entry and its lock."""

    def __init__(self) -> None:
        self.entries: dict[str, Grant] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]
        self._locks = weakref.WeakKeyDictionary()

    def lock(self, key: str) -> asyncio.Lock:
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(key, asyncio.Lock())

    def offer(self, key: str, grant: Grant) -> Grant:
        """Keep the newer of the entry and ``grant`` (see the theory of operation) and
        return the entry. A grant without a refresh token is never kept."""
        entry = self.entries.get(key)
        if grant.refresh is None:
            return entry if entry is not None else grant
        if entry is None:
            self.entries[key] = grant
            return grant
        offered = grant.refresh.get_secret_value()
        if offered == _text(entry.refresh):
            if grant.access is not None and not _lives_longer(entry, grant):
                entry = replace(entry, access=grant.access, expires_at=grant.expires_at)
                self.entries[key] = entry
            return entry
        if entry.descends_from(offered):
            return entry
        adopted = grant.succeeding(entry)
        self.entries[key] = adopted
        return adopted

    def clear(self) -> None:
        self.entries.clear()
        self._locks.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self.entries)})"


def _lives_longer(entry: Grant, other: Grant) -> bool:
    """True if ``entry``'s access token is at least as good as ``other``'s."""
    if entry.access is None:
        return False
    if entry.expires_at is None:
        return True
    return other.expires_at is not None and entry.expires_at >= other.expires_at


Exchange = Callable[[httpx.AsyncClient, SecretStr], Awaitable[Grant]]


class RotatingToken:
    """One account's access token on a rotating refresh token; see the theory of
    operation at the top of this module.

    ``exchange(http, refresh)`` makes one token call and returns the new grant (its
    ``refresh`` None if the platform did not rotate) or raises the platform's error;
    ``rejected(exc)`` says whether an error means the refresh token itself was refused
    (then the store is re-read). ``key`` names the account (never a secret)."""

    def __init__(
        self,
        key: str,
        seed: Grant,
        *,
        exchange: Exchange,
        rejected: Callable[[BaseException], bool],
        book: GrantBook,
        now: Callable[[], float],
        margin_s: float,
        label: str,
        store: GrantStore | None = None,
        on_rotate: Callable[[str], Any] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if seed.refresh is None:
            raise ConfigurationError(f"{label}: a rotating token needs a refresh token")
        self._key, self._seed, self._book = key, seed, book
        self._exchange, self._rejected = exchange, rejected
        self._now, self._margin_s, self._label = now, margin_s, label
        self._store, self._on_rotate, self._sleep = store, on_rotate, sleep
        self.exchanges = 0  # token calls made through this object
        book.offer(key, seed)

    def __repr__(self) -> str:
        return f"RotatingToken({self._label})"

    def current(self) -> Grant:
        """The account's newest grant in this process."""
        return self._book.entries.get(self._key) or self._book.offer(self._key, self._seed)

    def _live(self, grant: Grant, stale: str | None) -> bool:
        return grant.usable(self._now(), self._margin_s) and _text(grant.access) != stale

    async def token(self, http: httpx.AsyncClient, *, stale: str | None = None) -> str:
        """A live access token. ``stale``: one the API just refused — replaced unless
        another caller replaced it already (concurrent 401s refresh once)."""
        grant = self.current()
        if self._live(grant, stale) and grant.pending is None:
            return grant.access.get_secret_value()  # type: ignore[union-attr]
        async with self._book.lock(self._key):
            grant = self.current()
            if grant.pending is not None:
                await self._save(grant, grant.pending)
            if not self._live(grant, stale):
                grant = await self._stored_or(grant)
            if not self._live(grant, stale) and grant.refused is not None:
                raise grant.refused  # a dead refresh token: reconnecting the account helps
            if not self._live(grant, stale):
                grant = await self._refresh(http, grant, stale)
            return grant.access.get_secret_value()  # type: ignore[union-attr]

    async def _stored_or(self, grant: Grant) -> Grant:
        """Another worker's newer grant from the store, if there is one, else ``grant``."""
        stored = await self._load()
        return grant if stored is None else self._book.offer(self._key, stored)

    async def _refresh(self, http: httpx.AsyncClient, grant: Grant, stale: str | None) -> Grant:
        used = grant.refresh
        assert used is not None
        try:
            fresh = await self._call(http, used)
        except Exception as exc:
            if not self._rejected(exc):
                raise
            stored = await self._reread(used)
            if stored is None:
                self._book.entries[self._key] = replace(self.current(), refused=exc)
                raise
            log.info("%s: refresh token rotated elsewhere; adopting the stored one", self._label)
            grant = stored.succeeding(grant)
            self._book.entries[self._key] = grant
            if self._live(grant, stale):
                return grant
            used = grant.refresh
            assert used is not None
            fresh = await self._call(http, used)
        return await self._keep(grant, fresh, used)

    async def _call(self, http: httpx.AsyncClient, refresh: SecretStr) -> Grant:
        self.exchanges += 1
        return await self._exchange(http, refresh)

    async def _keep(self, grant: Grant, fresh: Grant, used: SecretStr) -> Grant:
        if fresh.refresh is None:
            fresh = replace(fresh, refresh=used)
        kept = fresh.succeeding(grant)
        self._book.entries[self._key] = kept
        await self._save(kept, grant.pending or used)  # what the store holds now
        rotated = _text(kept.refresh)
        if rotated != used.get_secret_value() and self._on_rotate is not None:
            self._on_rotate(rotated)
        return self.current()

    async def _save(self, grant: Grant, replaces: SecretStr) -> None:
        """Write ``grant`` back; on failure mark it pending (retried by the next call)."""
        if self._store is None:
            return
        try:
            await self._store.save(grant, replaces=replaces)
        except Exception as exc:  # storage faults of any kind: keep going, retry later
            log.warning(
                "%s: rotated token not stored yet (%s); retried at the next call",
                self._label,
                type(exc).__name__,
            )
            self._book.entries[self._key] = replace(grant, pending=replaces)
            return
        self._book.entries[self._key] = replace(grant, pending=None)

    async def _load(self) -> Grant | None:
        if self._store is None:
            return None
        try:
            return await self._store.load()
        except Exception as exc:  # the store is advisory here: a refresh can still go on
            log.warning("%s: stored token not readable (%s)", self._label, type(exc).__name__)
            return None

    async def _reread(self, used: SecretStr) -> Grant | None:
        """The stored grant if its refresh token is not ``used`` (re-read a few times, the
        winner's write-back may still be on its way), else None."""
        if self._store is None:
            return None
        for delay in (0.0, *REREAD_DELAYS_S):
            if delay:
                await self._sleep(delay)
            stored = await self._load()
            if stored is not None and _text(stored.refresh) not in (None, _text(used)):
                return stored
        return None
