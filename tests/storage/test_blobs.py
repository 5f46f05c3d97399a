"""The lean blob calls on Azurite: what they write the SDK reads back exactly (bytes,
type, encoding, metadata) and what the SDK wrote they read back exactly; a missing blob
is ResourceNotFoundError; the SDK still exposes what they lean on."""

from __future__ import annotations

import gzip

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.settings import Settings
from shared.storage.blobs import get_blob, lean_available, put_blob
from shared.storage.clients import StorageClients

CONTENT = ContentSettings(content_type="application/json", content_encoding="gzip")
META = {"step": "page", "cursor": "ab12", "records": "3", "scope": "grp%7C1", "reported": ""}
NAMES = [
    "c1/shopify/acme/orders/2024-03/00000.json.gz",
    "c%7C2/etsy/%-/returns/b%2E1/00007.json.gz",
]


@pytest.fixture
async def container(settings: Settings, clients: StorageClients):
    return await clients.container(settings.raw_container)


async def test_the_sdk_still_exposes_the_pipeline_the_lean_calls_use(container) -> None:
    assert lean_available(container)


@pytest.mark.parametrize("name", NAMES)
async def test_a_lean_write_reads_back_through_the_sdk_exactly(container, name: str) -> None:
    data = gzip.compress('{"a":"naïve ☕"}'.encode(), mtime=0)
    await put_blob(container, name, data, content=CONTENT, metadata=META)
    download = await container.download_blob(name, decompress=False)
    assert await download.readall() == data
    props = download.properties
    assert dict(props.metadata) == META
    assert props.content_settings.content_type == "application/json"
    assert props.content_settings.content_encoding == "gzip"
    await put_blob(container, name, b"again", content=CONTENT, metadata={"step": "x"})  # replaced
    assert await get_blob(container, name) == (b"again", {"step": "x"})


@pytest.mark.parametrize("name", NAMES)
async def test_an_sdk_write_reads_back_through_the_lean_read_exactly(container, name: str) -> None:
    data = gzip.compress(b'{"b":1}', mtime=0)  # stored gzip: returned as stored, not decoded
    await container.upload_blob(name, data, overwrite=True, content_settings=CONTENT, metadata=META)
    assert await get_blob(container, name) == (data, META)


async def test_a_missing_blob_is_not_found(container) -> None:
    with pytest.raises(ResourceNotFoundError):
        await get_blob(container, "nothing/here.json.gz")


async def test_without_the_private_pipeline_the_sdk_calls_are_used(
    container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.storage.blobs.lean_available", lambda _: False)
    data = gzip.compress(b"{}", mtime=0)
    await put_blob(container, NAMES[0], data, content=CONTENT, metadata=META)
    assert await get_blob(container, NAMES[0]) == (data, META)
