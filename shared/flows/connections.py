"""Connectors for activities: credentials resolved from the ledger, built once per loop.

``connector_for(settings, client, platform, account)`` reads the account's
``Connection`` from the ledger, opens its sealed credentials with
``settings.credentials_key`` (``shared.vault``) and builds the platform's connector
(``shared.platforms.registry``). Connectors are kept per event loop and account, so a
page fetch does not pay a token exchange each time. Credentials never leave this module
except into the connector.

Rotating refresh tokens (Shopify, Etsy) are written back here: each connector gets a
``LedgerGrants`` store (``shared.platforms.tokens.GrantStore``). When the connector
rotates the refresh token it calls ``save``: the credentials are re-sealed with the new
tokens and stored on the Connection with if-match on its ETag, only while the stored
refresh token is still the one that was used. ``load`` re-reads the stored grant (after a
refused refresh: another worker may have rotated first). Quiltt's scarce Session tokens
are shared the same way (``LedgerSessions``, a ``quiltt.auth.SessionStore``): the token,
its expiry and a worker's claim on issuing it are kept in the sealed credentials.

Our own write-back changes the sealed text without a rebuild; a change made elsewhere
(another worker's rotation or session, a second connect with new credentials) builds a
new connector, and the old one is closed a grace period later (a fetch may still be
using it).

``use_transport(factory)`` lets devhost and tests route every connector's HTTP through
an in-process transport (``factory(platform) -> httpx transport``); production leaves
it unset and connectors use the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from shared.errors import ConfigurationError
from shared.flows.clock import utcnow
from shared.platforms import registry
from shared.platforms.base import Connector
from shared.platforms.quiltt.auth import CLAIM_KEY, Claim, Session, claim_of
from shared.platforms.tokens import Grant
from shared.settings import Settings
from shared.storage.ledger import Connection, ConnectionStatus, Ledger

log = logging.getLogger(__name__)

RETIRE_GRACE_S = 900.0
"""How long a replaced connector stays open (loop time) for fetches still using it."""

KNOWN_TEXTS = 8
TransportFactory = Callable[[str], Any]
_transport: list[TransportFactory | None] = [None]


@dataclass
class _Slot:
    """The connector of one account on one loop, and the sealed texts it stands for: the
    one it was built from and those its own write-backs produced (a read that raced a
    write-back may still show an earlier one)."""

    known: list[str]
    connector: Connector | None = None

    def follow(self, sealed: str) -> None:
        self.known = [*self.known, fingerprint(sealed)][-KNOWN_TEXTS:]


@dataclass
class _LoopCache:
    slots: dict[tuple, _Slot] = field(default_factory=dict)
    retired: list[tuple[float, Connector]] = field(default_factory=list)


_CACHE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopCache] = (
    weakref.WeakKeyDictionary()
)


@contextlib.contextmanager
def use_transport(factory: TransportFactory | None) -> Iterator[None]:
    """Route connectors built inside the block through ``factory(platform)``."""
    previous = _transport[0]
    _transport[0] = factory
    try:
        yield
    finally:
        _transport[0] = previous


def credentials_of(settings: Settings, connection: Connection) -> dict[str, Any]:
    """The connection's credentials, unsealed. ConfigurationError when they cannot be
    opened (no key, no sealed credentials) — the message never contains them."""
    from shared.vault import open_sealed

    if not connection.encrypted_credentials:
        raise ConfigurationError(
            f"connection {connection.platform}/{connection.account} has no stored credentials"
        )
    return open_sealed(
        settings.credentials_key, connection.encrypted_credentials, context=seal_context(connection)
    )


def seal_context(connection: Connection) -> str:
    """What a connection's sealed credentials are bound to (``shared.vault`` context)."""
    return f"{connection.client}|{connection.platform}|{connection.account}"


def fingerprint(sealed: str | None) -> str:
    return hashlib.sha256((sealed or "").encode()).hexdigest()[:16]


async def load_connection(settings: Settings, client: str, platform: str, account: str):
    connection = await Ledger(settings).get_connection(client, platform, account)
    if connection is None:
        raise ConfigurationError(f"client {client!r} has no {platform} connection {account!r}")
    if connection.status == ConnectionStatus.REVOKED:
        raise ConfigurationError(f"{platform} connection {account!r} of {client!r} is revoked")
    return connection


class _LedgerCredentials:
    """A connection's sealed credentials as a store a connector writes back to.

    ``on_written(sealed)`` is told the new sealed text after each write this store made.
    Errors: storage faults (TransientError …) and ConfigurationError (credentials that no
    longer open) propagate to the connector, which treats the store as advisory."""

    def __init__(
        self,
        settings: Settings,
        client: str,
        platform: str,
        account: str,
        *,
        on_written: Callable[[str], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._where = (client, platform, account)
        self._on_written = on_written
        self.writes = 0  # write-backs that landed (for tests and metrics)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'/'.join(self._where)})"

    async def _stored(self) -> dict[str, Any] | None:
        connection = await Ledger(self._settings).get_connection(*self._where)
        if connection is None or not connection.encrypted_credentials:
            return None
        return credentials_of(self._settings, connection)

    async def _rewrite(self, decide: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
        """Compare-and-set the credentials: ``decide(stored)`` returns the credentials to
        store or None to leave them (asked again on the winner's row after a lost race).
        True if a write of ours landed."""
        from shared.vault import seal

        written: list[str] = []

        def change(current: Connection) -> Connection | None:
            if not current.encrypted_credentials:
                return None
            stored = credentials_of(self._settings, current)
            renewed = decide(stored)
            if renewed is None or renewed == stored:
                return None
            sealed = seal(self._settings.credentials_key, renewed, context=seal_context(current))
            written.append(sealed)
            return current.model_copy(
                update={"encrypted_credentials": sealed, "updated_at": utcnow()}
            )

        after = await Ledger(self._settings).update_connection(*self._where, change)
        landed = after is not None and bool(written) and after.encrypted_credentials == written[-1]
        if landed:
            self.writes += 1
            if self._on_written is not None:
                self._on_written(written[-1])
        return landed


class LedgerGrants(_LedgerCredentials):
    """A connection's rotating grant, kept sealed in its ledger row (a ``GrantStore``)."""

    async def load(self) -> Grant | None:
        stored = await self._stored()
        return None if stored is None else Grant.from_credentials(stored, self._where[1])

    async def save(self, grant: Grant, *, replaces: SecretStr) -> None:
        def decide(stored: dict[str, Any]) -> dict[str, Any] | None:
            if stored.get("refresh_token") != replaces.get_secret_value():
                return None  # moved on: another worker's rotation or a new connect
            return grant.into(stored)

        if not await self._rewrite(decide):
            log.info("%s/%s: stored credentials moved on; left as stored", *self._where[1:])


class LedgerSessions(_LedgerCredentials):
    """A Quiltt connection's Session token and issuing claim, kept sealed in its ledger
    row (a ``quiltt.auth.SessionStore``; see that module for how workers use it)."""

    async def claim(
        self, *, now: float, live_after: float, until: float, stale: str | None
    ) -> Claim:
        found: list[Claim] = []

        def decide(stored: dict[str, Any]) -> dict[str, Any] | None:
            session, held = Session.from_credentials(stored), claim_of(stored)
            if (
                session is not None
                and session.expires_at > live_after
                and session.token.get_secret_value() != stale
            ):
                found.append(Claim(session=session))
                return None
            if held is not None and held > now:
                found.append(Claim(held_until=held))
                return None
            found.append(Claim(ours=True))
            return {**stored, CLAIM_KEY: repr(until)}

        landed = await self._rewrite(decide)
        if not found:  # no connection or no credentials: nothing to coordinate on
            return Claim()
        return found[-1] if landed or not found[-1].ours else Claim()

    async def save(self, session: Session) -> None:
        def decide(stored: dict[str, Any]) -> dict[str, Any] | None:
            kept = Session.from_credentials(stored)
            if kept is not None and kept.expires_at > session.expires_at:
                return {k: v for k, v in stored.items() if k != CLAIM_KEY}
            return session.into(stored)

        await self._rewrite(decide)

    async def release(self, *, until: float) -> None:
        def decide(stored: dict[str, Any]) -> dict[str, Any] | None:
            if stored.get(CLAIM_KEY) != repr(until):
                return None  # not ours (any more)
            return {k: v for k, v in stored.items() if k != CLAIM_KEY}

        await self._rewrite(decide)


SESSION_PLATFORMS = frozenset({"quiltt"})
"""Platforms whose connectors share a session token through ``LedgerSessions``; the
others get ``LedgerGrants`` (used by those whose refresh tokens rotate)."""


async def connector_for(settings: Settings, client: str, platform: str, account: str) -> Connector:
    """The (cached) connector of one connected account; see the module docstring."""
    connection = await load_connection(settings, client, platform, account)
    loop = asyncio.get_running_loop()
    cache = _CACHE.setdefault(loop, _LoopCache())
    key = (id(settings), client, platform, account, id(_transport[0]))
    current = fingerprint(connection.encrypted_credentials)
    slot = cache.slots.get(key)
    if slot is not None and current in slot.known and slot.connector is not None:
        return slot.connector
    fresh = _Slot([current])
    factory = _transport[0]
    fresh.connector = registry.build(
        platform,
        settings,
        credentials_of(settings, connection),
        account,
        transport=factory(platform) if factory is not None else None,
        clock=utcnow,
        store=(LedgerSessions if platform in SESSION_PLATFORMS else LedgerGrants)(
            settings, client, platform, account, on_written=fresh.follow
        ),
    )
    cache.slots[key] = fresh
    if slot is not None and slot.connector is not None:
        cache.retired.append((loop.time() + RETIRE_GRACE_S, slot.connector))
    await _close_retired(cache, loop.time())
    return fresh.connector


async def _close_retired(cache: _LoopCache, now: float) -> None:
    due = [c for deadline, c in cache.retired if deadline <= now]
    cache.retired = [(d, c) for d, c in cache.retired if d > now]
    for connector in due:
        with contextlib.suppress(Exception):
            await connector.aclose()


async def close_connectors() -> None:
    """Close every connector cached on the running loop (end of a devhost run)."""
    cache = _CACHE.pop(asyncio.get_running_loop(), None)
    if cache is None:
        return
    await _close_retired(cache, float("inf"))
    for slot in cache.slots.values():
        if slot.connector is not None:
            with contextlib.suppress(Exception):
                await slot.connector.aclose()
