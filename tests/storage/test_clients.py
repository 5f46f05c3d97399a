"""The service clients: environment proxies applied explicitly, netrc never consulted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from devhost.azurite import Azurite
from shared.storage.clients import StorageClients, close_shared_clients, shared_clients

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


class _Stop(Exception):
    pass


async def _proxies_used(connection_string: str) -> dict[str, str]:
    """The proxies the pipeline hands to the transport for a table request (the request
    is stopped before it is sent)."""
    seen: dict[str, str] = {}

    def hook(request) -> None:
        seen.update(request.context.options.get("proxies") or {})
        raise _Stop

    async with StorageClients(connection_string) as clients:
        with pytest.raises(_Stop):
            await clients.tables.get_table_client("proxied").create_table(raw_request_hook=hook)
    return seen


async def test_the_environment_proxy_is_still_used(
    azurite: Azurite, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert await _proxies_used(azurite.connection_string) == {"http": "http://proxy.invalid:3128"}


async def test_no_proxy_exempts_the_storage_host(
    azurite: Azurite, bare_environment: pytest.MonkeyPatch
) -> None:
    bare_environment.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    bare_environment.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert await _proxies_used(azurite.connection_string) == {}


async def test_a_netrc_entry_for_the_storage_host_is_ignored(
    azurite: Azurite, bare_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """aiohttp trusting the environment would add the netrc login as Basic auth, which
    cannot be combined with the SDK's signed Authorization header: every request fails."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-a-secret\n")
    netrc.chmod(0o600)
    bare_environment.setenv("NETRC", str(netrc))
    async with StorageClients(azurite.connection_string) as clients:
        table = await clients.table("netrcignored")
        await table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "n": 1})
        assert (await table.get_entity("p", "r"))["n"] == 1


async def test_shared_clients_are_closed_per_account_or_all_at_once(settings) -> None:
    other = settings.model_copy(update={"storage_connection": SecretStr(_other_endpoint(settings))})
    first, second = shared_clients(settings), shared_clients(other)
    assert shared_clients(settings) is first and first is not second
    await close_shared_clients(settings)
    assert shared_clients(settings) is not first and shared_clients(other) is second
    renewed = shared_clients(settings)
    await close_shared_clients()
    assert shared_clients(settings) is not renewed and shared_clients(other) is not second
    await close_shared_clients()


def _other_endpoint(settings) -> str:
    """The same Azurite under another account string (the key names a client set)."""
    return settings.storage_connection.get_secret_value() + ";"
