"""Connectors for activities: credentials resolved from the ledger, built once per loop.

``connector_for(settings, client, platform, account)`` reads the account's
``Connection`` from the ledger, opens its sealed credentials with
``settings.credentials_key`` (``shared.vault``) and builds the platform's connector
(``shared.platforms.registry``). Connectors are kept per event loop and connection, so
a page fetch does not pay a token exchange each time; a changed sealed token (a second
connect with new credentials) builds a new one. Credentials never leave this module
except into the connector.

``use_transport(factory)`` lets devhost and tests route every connector's HTTP through
an in-process transport (``factory(platform) -> httpx transport``); production leaves
it unset and connectors use the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from shared.errors import ConfigurationError
from shared.flows.clock import utcnow
from shared.platforms import registry
from shared.platforms.base import Connector
from shared.settings import Settings
from shared.storage.ledger import Connection, ConnectionStatus, Ledger

TransportFactory = Callable[[str], Any]
_transport: list[TransportFactory | None] = [None]
_CACHE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, Connector]] = (
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


async def load_connection(settings: Settings, client: str, platform: str, account: str):
    connection = await Ledger(settings).get_connection(client, platform, account)
    if connection is None:
        raise ConfigurationError(f"client {client!r} has no {platform} connection {account!r}")
    if connection.status == ConnectionStatus.REVOKED:
        raise ConfigurationError(f"{platform} connection {account!r} of {client!r} is revoked")
    return connection


async def connector_for(settings: Settings, client: str, platform: str, account: str) -> Connector:
    """The (cached) connector of one connected account; see the module docstring."""
    connection = await load_connection(settings, client, platform, account)
    sealed = connection.encrypted_credentials or ""
    fingerprint = hashlib.sha256(sealed.encode()).hexdigest()[:16]
    key = (id(settings), client, platform, account, fingerprint, id(_transport[0]))
    cache = _CACHE.setdefault(asyncio.get_running_loop(), {})
    found = cache.get(key)
    if found is None:
        factory = _transport[0]
        transport = factory(platform) if factory is not None else None
        creds = credentials_of(settings, connection)
        found = registry.build(
            platform, settings, creds, account, transport=transport, clock=utcnow
        )
        cache[key] = found
    return found


async def close_connectors() -> None:
    """Close every connector cached on the running loop (end of a devhost run)."""
    cache = _CACHE.pop(asyncio.get_running_loop(), {})
    for connector in cache.values():
        with contextlib.suppress(Exception):
            await connector.aclose()
