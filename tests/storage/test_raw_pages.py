import gzip
import json

import pytest

from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.raw_pages import RawPageStore, page_path

BLOCK = ("c1", "shopify", "acme-shop", "orders", "2024-03")
PAGE = {"orders": [{"id": 1, "total_price": "19.90", "note": "naïve ☕"}], "next": None}


@pytest.fixture
def store(settings: Settings, clients: StorageClients) -> RawPageStore:
    return RawPageStore(settings, clients=clients)


def test_path_is_deterministic_and_escaped() -> None:
    assert page_path(*BLOCK, 7) == "c1/shopify/acme-shop/orders/2024-03/00007.json.gz"
    awkward = page_path("c/1", "ebay", "", "..", "a#b?c", 0)
    assert awkward == "c%2F1/ebay/%-/%2E%2E/a%23b%3Fc/00000.json.gz"
    with pytest.raises(ValueError):
        page_path(*BLOCK, -1)


async def test_round_trip_stores_real_gzip(store: RawPageStore, clients: StorageClients) -> None:
    path = await store.put(*BLOCK, 0, PAGE, metadata={"fetched_at": "2024-03-05T00:00:00Z"})
    assert await store.get(*BLOCK, 0) == PAGE

    stored = await store.get_bytes(*BLOCK, 0)
    assert stored[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(stored)) == PAGE

    container = await clients.container(store.container_name)
    props = await container.get_blob_client(path).get_blob_properties()
    assert props.content_settings.content_encoding == "gzip"
    assert props.content_settings.content_type == "application/json"
    assert props.metadata["block_id"] == "2024-03"
    assert props.metadata["fetched_at"] == "2024-03-05T00:00:00Z"


async def test_writing_again_overwrites_with_identical_bytes(store: RawPageStore) -> None:
    await store.put(*BLOCK, 0, PAGE)
    first = await store.get_bytes(*BLOCK, 0)
    await store.put(*BLOCK, 0, PAGE)
    assert await store.get_bytes(*BLOCK, 0) == first
    assert await store.list_pages(*BLOCK) == [0]


async def test_response_bytes_are_kept_verbatim(store: RawPageStore) -> None:
    body = b'{"amount": 0.10000000000000000001, "b": 1}'
    await store.put(*BLOCK, 3, body)
    assert gzip.decompress(await store.get_bytes(*BLOCK, 3)) == body


async def test_list_and_delete_pages_of_one_block(store: RawPageStore) -> None:
    for page in (10, 0, 2, 1):
        await store.put(*BLOCK, page, {"page": page})
    other_block = (*BLOCK[:4], "2024-03-extra")
    await store.put(*other_block, 0, {"other": True})
    assert await store.list_pages(*BLOCK) == [0, 1, 2, 10]
    assert await store.delete_block(*BLOCK) == 4
    assert await store.list_pages(*BLOCK) == []
    assert await store.list_pages(*other_block) == [0]


async def test_awkward_names_and_missing_pages(store: RawPageStore) -> None:
    block = ("client/ü", "etsy", "", "returns", "id#1?")
    await store.put(*block, 0, [1, 2])
    assert await store.get(*block, 0) == [1, 2]
    assert await store.list_pages(*block) == [0]
    with pytest.raises(KeyError):
        await store.get(*block, 1)
