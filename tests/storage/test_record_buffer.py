"""A fetch run's record buffer on Azurite: pages' records fill transactions across pages,
a transaction never mixes partitions or tables, nothing counts as stored before the
flush, and a run that died before its flush loses nothing when it is run again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import TransientError
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.record_buffer import RecordBuffer
from shared.storage.records import MAX_BATCH_OPS, RecordStore

T0 = datetime(2024, 1, 31, 12, tzinfo=UTC)


def order(n: int, *, platform: str = "shopify", hours: int = 0, **extra) -> dict:
    return {
        "platform": platform,
        "account": "acme",
        "resource": "orders",
        "natural_key": f"ord-{n}",
        "order_id": f"ord-{n}",
        "created_at": T0 + timedelta(hours=hours),
        "total": {"amount": f"{n}.99", "currency": "USD"},
        **extra,
    }


class Spy:
    """The transactions a store writes: (platform, partitions, size) each."""

    def __init__(self, store: RecordStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[tuple[str, set[str], int]] = []
        real = store.submit_batch

        async def submit(client: str, platform: str, resource: str, entities: list) -> None:
            self.batches.append((platform, {e["PartitionKey"] for e in entities}, len(entities)))
            await real(client, platform, resource, entities)

        monkeypatch.setattr(store, "submit_batch", submit)


@pytest.fixture
def store(settings: Settings, clients: StorageClients) -> RecordStore:
    return RecordStore(settings, clients=clients)


def pages(count: int, size: int, **kw) -> list[list[dict]]:
    return [[order(p * size + i, **kw) for i in range(size)] for p in range(count)]


async def test_pages_of_one_partition_fill_transactions_across_pages(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    buffer = RecordBuffer(store, "c1")
    for page in pages(7, 30):  # 210 records of one month: 100 + 100 + 10, not 7 x 30
        buffer.add(page)
    await buffer.flush()
    assert sorted(size for _, _, size in spy.batches) == [10, 100, 100]
    assert await store.count("c1", "shopify", "orders") == 210


async def test_full_batches_are_written_before_the_flush_and_the_rest_only_at_it(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    buffer = RecordBuffer(store, "c1")
    for page in pages(5, 30):
        buffer.add(page)
    await asyncio.sleep(0.3)  # the full batch's write runs meanwhile
    assert [size for _, _, size in spy.batches] == [MAX_BATCH_OPS]
    assert await store.count("c1", "shopify", "orders") == 100  # 50 still buffered
    await buffer.flush()
    assert await store.count("c1", "shopify", "orders") == 150


async def test_a_transaction_never_holds_two_partitions_or_two_tables(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    buffer = RecordBuffer(store, "c1")
    records = []
    for n in range(260):  # Jan 31 / Feb 1 and two platforms, interleaved within pages
        platform = "shopify" if n % 3 else "etsy"
        records.append(order(n, platform=platform, hours=(n % 2) * 24))
    for start in range(0, 260, 37):
        buffer.add(records[start : start + 37])
    await buffer.flush()
    assert all(len(parts) == 1 and size <= MAX_BATCH_OPS for _, parts, size in spy.batches)
    for platform, partitions, _ in spy.batches:
        assert all(f"|{platform}|orders|" in p for p in partitions)
    written = {(p, next(iter(parts))) for p, parts, _ in spy.batches}
    assert len(written) == 4  # two months on each of two platforms
    assert sum(size for _, _, size in spy.batches) == 260
    stored = [await store.count("c1", p, "orders") for p in ("shopify", "etsy")]
    assert stored == [sum(1 for n in range(260) if n % 3), sum(1 for n in range(260) if not n % 3)]


async def test_a_record_given_again_while_buffered_is_written_once_the_last_version(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    buffer = RecordBuffer(store, "c1")
    buffer.add([order(1, status="open"), order(2)])
    buffer.add([order(1, status="paid")])  # a later page repeats it, changed
    await buffer.flush()
    assert [size for _, _, size in spy.batches] == [2]
    stored = {r["order_id"]: r for r in await store.read("c1", "shopify", "orders")}
    assert stored["ord-1"]["status"] == "paid" and len(stored) == 2


async def test_a_run_that_dies_before_its_flush_loses_nothing_when_run_again(
    store: RecordStore,
) -> None:
    run = pages(4, 40)
    died = RecordBuffer(store, "c1")
    for page in run:
        died.add(page)
    # the worker dies here: the buffer is dropped, no flush, so the run reports nothing
    # (a full batch of 100 may have been written; the other 60 never were)
    await asyncio.sleep(0.3)
    assert await store.count("c1", "shopify", "orders") < 160
    again = RecordBuffer(store, "c1")  # the run made again from the same chain
    for page in run:
        again.add(page)
    await again.flush()
    keys = [r["natural_key"] async for r in store.iter_records("c1", "shopify", "orders")]
    assert sorted(keys) == sorted(r["natural_key"] for page in run for r in page)


async def test_flush_raises_a_failed_write_after_every_write_has_ended(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.submit_batch
    calls: list[int] = []

    async def flaky(client: str, platform: str, resource: str, entities: list) -> None:
        calls.append(len(entities))
        if len(calls) == 1:
            raise TransientError("storage dropped the connection")
        await real(client, platform, resource, entities)

    monkeypatch.setattr(store, "submit_batch", flaky)
    buffer = RecordBuffer(store, "c1")
    buffer.add([order(n) for n in range(150)])
    with pytest.raises(TransientError):
        await buffer.flush()
    assert len(calls) == 2 and await store.count("c1", "shopify", "orders") == 50

    async def twice(operation) -> None:  # what storage_retry does: the same write again
        try:
            await operation()
        except TransientError:
            await operation()

    calls.clear()
    retrying = RecordBuffer(store, "c1", write=twice)
    retrying.add([order(n) for n in range(150)])
    await retrying.flush()
    assert sorted(calls) == [50, 100, 100] and await store.count("c1", "shopify", "orders") == 150


async def test_a_record_that_cannot_be_stored_fails_the_flush(store: RecordStore) -> None:
    buffer = RecordBuffer(store, "c1")
    buffer.add([order(1), {**order(2), "natural_key": ""}, order(3, platform="bad-name")])
    with pytest.raises(ValueError, match="natural_key"):
        await buffer.flush()
    assert await store.count("c1", "shopify", "orders") == 1  # the good one
