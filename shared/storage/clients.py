"""The async Table and Blob service clients of one storage account, built once.

``StorageClients`` owns one ``TableServiceClient`` and one ``BlobServiceClient`` (each
with its own HTTP session) and hands out table and container clients that share them.
It creates a table or container the first time it is asked for it and remembers that
it exists, so writers never pay a create call per write; readers may ask for a table
without creating it.

``shared_clients(settings)`` returns the process's instance for the settings' storage
account and the running event loop (aiohttp sessions belong to one loop), so activities
can build stores per call without opening connections per call. Tests and scripts make
their own with ``StorageClients(connection_string)`` and close it.

Sessions do not trust the environment wholesale (``_without_netrc``): its proxy
settings are applied explicitly, its netrc is not consulted.

``storage_errors()`` turns the SDK's retryable failures into ``TransientError`` /
``ThrottledError`` (shared.errors) so callers can tell "try later" from a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared.errors import ThrottledError, TransientError
from shared.settings import Settings

# The emulator's documented well-known account; the SDKs do not understand the
# "UseDevelopmentStorage=true" shorthand, so it is expanded here.
_DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEVELOPMENT_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    f"AccountKey={_DEV_KEY};"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
# Reuse a pooled connection only if it has idled less than this. Azurite, like any
# Node http server, closes a connection after 5 s idle; aiohttp's default (15 s) would
# hand out such a connection whenever the event loop was busy when the close arrived,
# and the SDK does not retry POSTs (create table, batch, insert) that fail on it.
_IDLE_REUSE_S = 4.0
_RETRYABLE_STATUS = {408, 500, 502, 504}
_THROTTLED_STATUS = {429, 503}


def _expand(connection_string: str) -> str:
    if connection_string.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true":
        return DEVELOPMENT_CONNECTION_STRING
    return connection_string


class _Transport(AioHttpTransport):
    """The SDK's aiohttp transport with a pool that drops connections idle for
    ``_IDLE_REUSE_S`` (the session settings are otherwise the SDK's own, bar trusting
    the environment)."""

    async def open(self) -> None:
        if self.session is None and not self._has_been_opened and self._session_owner:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=_IDLE_REUSE_S),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()


def _without_netrc(kind: Any, connection_string: str) -> Any:
    """A service client whose HTTP session does not trust the environment, with the
    environment's proxy for its host (``HTTPS_PROXY`` …, unless ``NO_PROXY`` exempts
    it) read here once and passed explicitly.

    Why: with ``trust_env`` (the SDK's default) aiohttp looks up ``~/.netrc`` on a worker
    thread before every request that carries no ``auth`` — every storage request, since
    the SDK signs with a header. That thread hop cost about 0.5 ms of CPU per request
    (half a small query's cost) and netrc has nothing to say to Azure Storage. Proxies
    from the environment are still honoured, as before."""

    def made(**extra: Any) -> Any:
        transport = _Transport(use_env_settings=False)
        return kind.from_connection_string(
            connection_string, use_env_settings=False, transport=transport, **extra
        )

    client = made()
    host = urlsplit(client.url).hostname or ""
    proxies = {k: v for k, v in getproxies().items() if k in ("http", "https")}
    if not proxies or proxy_bypass(host):
        return client
    return made(proxies=proxies)


class StorageClients:
    """Service clients for one storage account, plus the tables and containers known to
    exist. Use as ``async with StorageClients(conn) as clients:`` or call ``close()``."""

    def __init__(self, connection_string: str) -> None:
        connection_string = _expand(connection_string)
        self.tables = _without_netrc(TableServiceClient, connection_string)
        self.blobs = _without_netrc(BlobServiceClient, connection_string)
        self._tables: dict[str, TableClient] = {}
        self._unchecked: dict[str, TableClient] = {}  # asked for without creating
        self._containers: dict[str, ContainerClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageClients:
        return cls(settings.storage_connection.get_secret_value())

    async def table(self, name: str, *, create: bool = True) -> TableClient:
        """The client of table ``name``, creating the table on first use in this process
        — unless ``create`` is false (a reader's: the table may then be missing, and its
        requests answer 404)."""
        found = self._tables.get(name)
        if found is not None:
            return found
        if not create:
            if name not in self._unchecked:
                self._unchecked[name] = self.tables.get_table_client(name)
            return self._unchecked[name]
        async with self._locks.setdefault(f"t:{name}", asyncio.Lock()):
            if name not in self._tables:
                client = self.tables.get_table_client(name)
                with contextlib.suppress(ResourceExistsError), storage_errors():
                    await client.create_table()
                self._tables[name] = client
        return self._tables[name]

    async def container(self, name: str) -> ContainerClient:
        """The client of container ``name``, creating it on first use in this process."""
        found = self._containers.get(name)
        if found is not None:
            return found
        async with self._locks.setdefault(f"c:{name}", asyncio.Lock()):
            if name not in self._containers:
                client = self.blobs.get_container_client(name)
                with contextlib.suppress(ResourceExistsError), storage_errors():
                    await client.create_container()
                self._containers[name] = client
        return self._containers[name]

    async def close(self) -> None:
        await self.tables.close()
        await self.blobs.close()

    async def __aenter__(self) -> StorageClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, StorageClients]] = (
    weakref.WeakKeyDictionary()
)


def shared_clients(settings: Settings) -> StorageClients:
    """The process-wide clients for ``settings``' storage account on the running loop.

    Must be called from inside a coroutine. Never closed before the loop ends; that is
    the intended lifetime in a Functions worker."""
    per_loop = _SHARED.setdefault(asyncio.get_running_loop(), {})
    connection = settings.storage_connection.get_secret_value()
    if connection not in per_loop:
        per_loop[connection] = StorageClients(connection)
    return per_loop[connection]


async def close_shared_clients(settings: Settings | None = None) -> None:
    """Close and forget the running loop's clients for ``settings`` — for every storage
    account when None (the end of a run that shares its loop with later ones: a test
    session, a bench series)."""
    per_loop = _SHARED.get(asyncio.get_running_loop(), {})
    if settings is None:
        connections = list(per_loop)
    else:
        connections = [settings.storage_connection.get_secret_value()]
    for connection in connections:
        clients = per_loop.pop(connection, None)
        if clients is not None:
            await clients.close()


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Re-raise the SDK's network faults, timeouts, 5xx and throttling as
    ``TransientError`` / ``ThrottledError``; every other error passes unchanged."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TransientError(f"storage unreachable: {exc}") from exc
    except HttpResponseError as exc:
        if exc.status_code in _THROTTLED_STATUS:
            raise ThrottledError(f"storage throttled: {exc.reason}") from exc
        if exc.status_code in _RETRYABLE_STATUS:
            raise TransientError(f"storage failed: {exc.status_code} {exc.reason}") from exc
        raise
