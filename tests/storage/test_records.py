import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from azure.core.exceptions import ResourceNotFoundError
from pydantic import BaseModel

from shared.errors import ConfigurationError
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.keys import split_key
from shared.storage.records import (
    MAX_BATCH_OPS,
    UNDATED,
    RecordStore,
    period_of,
    plan_batches,
    record_keys,
    records_table,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def order(n: int, *, day: int = 0, **extra) -> dict:
    return {
        "platform": "shopify",
        "account": "acme",
        "resource": "orders",
        "natural_key": f"ord-{n}",
        "order_id": f"ord-{n}",
        "created_at": T0 + timedelta(days=day, minutes=n),
        "total": {"amount": f"{n}.99", "currency": "USD"},
        **extra,
    }


@pytest.fixture
def store(settings: Settings, clients: StorageClients) -> RecordStore:
    return RecordStore(settings, clients=clients, concurrency=6)


async def test_upserting_twice_stores_each_record_once(store: RecordStore) -> None:
    records = [order(n) for n in range(250)]
    assert await store.upsert("c1", records) == 250
    assert await store.upsert("c1", records) == 250
    assert await store.count("c1", "shopify", "orders") == 250
    stored = sorted(await store.read("c1", "shopify", "orders"), key=lambda r: r["order_id"])
    assert stored == sorted(records, key=lambda r: r["order_id"])


async def test_a_later_version_replaces_the_row(store: RecordStore) -> None:
    await store.upsert("c1", [order(1, status="open", note="first")])
    await store.upsert("c1", [order(1, status="paid")])
    [stored] = await store.read("c1", "shopify", "orders")
    assert stored["status"] == "paid" and "note" not in stored


async def test_batches_span_partitions_with_more_than_100_each(store: RecordStore) -> None:
    days = [0] * 230 + [31] * 150 + [60] * 101  # January, February, March
    records = [order(n, day=day) for n, day in enumerate(days)]
    records += [{**order(1000 + n), "created_at": None} for n in range(120)]  # undated
    batches = plan_batches(store.to_entity("c1", r) for r in records)
    assert all(len(b) <= MAX_BATCH_OPS for b in batches)
    assert all(len({e["PartitionKey"] for e in b}) == 1 for b in batches)
    assert len(batches) == 3 + 2 + 2 + 2

    assert await store.upsert("c1", records) == 601
    by_period = {
        p: await store.count("c1", "shopify", "orders", period=p)
        for p in ("2024-01", "2024-02", "2024-03", UNDATED)
    }
    assert by_period == {"2024-01": 230, "2024-02": 150, "2024-03": 101, UNDATED: 120}
    assert await store.count("c1", "shopify", "orders") == 601
    assert await store.count("c2", "shopify", "orders") == 0
    assert await store.count("c1", "shopify", "order_items") == 0


AWKWARD_KEYS = [
    "a/b",
    "#1",
    "what?",
    "back\\slash",
    "100%",
    "x|y",
    "O'Brien",
    "注文-😀",
    "ctrl\x01\x1f",
    " spaced ",
    "%2F",
]


async def test_awkward_natural_keys_round_trip(store: RecordStore) -> None:
    records = [
        {**order(n), "natural_key": key, "account": "shop/1|ü"}
        for n, key in enumerate(AWKWARD_KEYS)
    ]
    records.append({**order(99), "natural_key": "long/" * 300})  # shortened with a hash
    assert await store.upsert("client#1", records) == len(records)
    assert await store.upsert("client#1", records) == len(records)
    stored = await store.read("client#1", "shopify", "orders")
    assert Counter(r["natural_key"] for r in stored) == Counter(r["natural_key"] for r in records)
    _, row = record_keys("client#1", records[0])
    assert split_key(row) == ["shop/1|ü", "a/b"]


async def test_decimals_stay_exact_and_times_come_back_in_utc(store: RecordStore) -> None:
    tz = timezone(timedelta(hours=-5))
    record = order(
        1,
        amount=Decimal("0.1") + Decimal("0.2"),
        fee=Decimal("-12345678901234567890.000100"),
        zero=Decimal("0.00"),
        quantity=3,
        big=2**40,
        ratio=0.25,
        posted_at=datetime(2024, 1, 31, 22, 30, 0, 1, tzinfo=tz),
        tags=["a", "b"],
        missing=None,
        flag=False,
    )
    await store.upsert("c1", [record])
    [stored] = await store.read("c1", "shopify", "orders")
    assert stored == record
    assert str(stored["amount"]) == "0.3" and str(stored["fee"]) == "-12345678901234567890.000100"
    assert str(stored["zero"]) == "0.00"
    assert stored["posted_at"].tzinfo == UTC
    assert stored["posted_at"] == datetime(2024, 2, 1, 3, 30, 0, 1, tzinfo=UTC)


async def test_long_text_fields_survive_azure_property_limit(store: RecordStore) -> None:
    text = "ü" * 70_000
    await store.upsert("c1", [order(1, description=text)])
    [stored] = await store.read("c1", "shopify", "orders")
    assert stored["description"] == text


async def test_business_date_picks_the_partition(store: RecordStore) -> None:
    at = datetime(2024, 2, 29, 23, 0, tzinfo=timezone(timedelta(hours=-3)))  # March in UTC
    partition, _ = record_keys("c1", order(1, created_at=at))
    assert partition == "c1|shopify|orders|2024-03"
    assert period_of("2024-05-07") == "2024-05"
    assert period_of("2024-05-31T23:00:00-02:00") == "2024-06"
    partition, _ = record_keys("c1", {**order(1), "resource": "inventory"})
    assert partition.endswith("|" + UNDATED)
    with pytest.raises(ValueError):
        record_keys("c1", {**order(1), "created_at": datetime(2024, 1, 1)})


async def test_bad_records_are_refused_before_anything_is_written(store: RecordStore) -> None:
    with pytest.raises(ValueError, match="natural_key"):
        await store.upsert("c1", [order(1), {**order(2), "natural_key": ""}])
    with pytest.raises(ValueError, match="platform"):
        await store.upsert("c1", [order(1), {"account": "a", "resource": "orders"}])
    assert await store.count("c1", "shopify", "orders") == 0


class Payout(BaseModel):
    platform: str = "etsy"
    account: str = "shop"
    resource: str = "payouts"
    natural_key: str
    amount: Decimal


async def test_pydantic_models_are_accepted(store: RecordStore) -> None:
    await store.upsert("c1", [Payout(natural_key="p1", amount=Decimal("10.50"))])
    [stored] = await store.read("c1", "etsy", "payouts", period=UNDATED)
    assert Payout.model_validate(stored) == Payout(natural_key="p1", amount=Decimal("10.50"))


async def test_read_prefix_returns_one_orders_items_of_one_account(store: RecordStore) -> None:
    def item(account: str, key: str) -> dict:
        return {**order(0), "resource": "order_items", "account": account, "natural_key": key}

    keys = ["o1|1", "o1|2", "o10|1", "o2|1", "o1"]
    await store.upsert("c1", [item("acme", k) for k in keys] + [item("acme2", "o1|9")])
    found = await store.read_prefix(
        "c1", "shopify", "order_items", period="2024-01", account="acme", head="o1|"
    )
    assert sorted(r["natural_key"] for r in found) == ["o1|1", "o1|2"]
    assert all(r["account"] == "acme" for r in found)


async def test_natural_keys_are_those_of_the_stored_records_in_order(store: RecordStore) -> None:
    records = [{**order(n), "natural_key": key} for n, key in enumerate(AWKWARD_KEYS)]
    records.append({**order(98), "natural_key": "k" * 40_000})  # stored in chunks
    records += [order(n, day=40) for n in range(120)]  # another partition, several batches
    await store.upsert("c1", records)
    keys = [k async for k in store.natural_keys("c1", "shopify", "orders")]
    assert keys == [r["natural_key"] for r in await store.read("c1", "shopify", "orders")]
    assert Counter(keys) == Counter(r["natural_key"] for r in records)
    february = [k async for k in store.natural_keys("c1", "shopify", "orders", period="2024-02")]
    assert sorted(february) == sorted(f"ord-{n}" for n in range(120))
    assert [k async for k in store.natural_keys("c2", "shopify", "orders")] == []


async def rows_of(clients: StorageClients, table: str) -> list[tuple[str, str]]:
    """(PartitionKey, RowKey) of every entity of ``table``, read around the store."""
    client = await clients.table(table, create=False)
    try:
        return [(e["PartitionKey"], e["RowKey"]) async for e in client.list_entities()]
    except ResourceNotFoundError:
        return []


async def test_each_client_platform_and_resource_has_its_own_table(
    store: RecordStore, clients: StorageClients
) -> None:
    etsy = [{**order(n), "platform": "etsy"} for n in range(3)]
    returns = [{**order(n), "resource": "returns"} for n in range(4)]
    assert await store.upsert("c1", [order(n) for n in range(5)] + etsy + returns) == 12
    assert await store.upsert("c2", [order(n) for n in range(2)]) == 2
    keys = [("c1", "shopify", "orders"), ("c1", "etsy", "orders"), ("c1", "shopify", "returns")]
    keys += [("c2", "shopify", "orders"), ("c2", "etsy", "orders")]
    tables = {key: store.table_for(*key) for key in keys}
    assert len(set(tables.values())) == 5
    names = {t.name async for t in clients.tables.list_tables()}
    assert {tables[k] for k in keys[:4]} <= names
    assert tables["c2", "etsy", "orders"] not in names, "a table is created by its first write"
    assert store.table_for("c1", "shopify", "returns") not in {
        store.table_for("c1", "shopify", r) for r in ("orders", "order_items")
    }
    stored = {key: await rows_of(clients, table) for key, table in tables.items()}
    assert [len(stored[k]) for k in keys] == [5, 3, 4, 2, 0]
    for (client, platform, resource), rows in stored.items():
        assert all(pk.startswith(f"{client}|{platform}|{resource}|") for pk, _ in rows), rows
    assert [r["natural_key"] for r in await store.read("c1", "shopify", "returns")] == [
        f"ord-{n}" for n in range(4)
    ]

    assert [r["natural_key"] for r in await store.read("c2", "shopify", "orders")] == [
        "ord-0",
        "ord-1",
    ]
    assert await store.count("c1", "etsy", "orders") == 3
    assert await store.read("c2", "etsy", "orders") == []
    assert [k async for k in store.natural_keys("c3", "shopify", "orders")] == []
    assert (
        await store.read_prefix(
            "c3", "shopify", "orders", period="2024-01", account="acme", head="ord"
        )
        == []
    )
    names_after = {t.name async for t in clients.tables.list_tables()}
    assert names_after == names, "reads of clients never written create no tables"


async def test_clients_whose_letters_agree_still_get_their_own_tables(
    store: RecordStore,
) -> None:
    twins = ["Acme-1", "acme1", "ACME 1", "acme#1"]
    assert len({store.table_for(c, "shopify", "orders") for c in twins}) == len(twins)
    for n, client in enumerate(twins):
        await store.upsert(client, [order(n)])
    for n, client in enumerate(twins):
        assert [r["order_id"] for r in await store.read(client, "shopify", "orders")] == [
            f"ord-{n}"
        ]


def test_records_table_names_follow_azures_rules() -> None:
    name = records_table("trib", "Acme Corp #7", "shopify", "order_items")
    assert re.fullmatch(r"tribrecshopifyorderitemsacmecorp7[0-9a-f]{8}", name), name
    assert name == records_table("trib", "Acme Corp #7", "shopify", "order_items")
    for client in ("x" * 500, "注文-😀", "", "\udcff"):
        long = records_table("t" + "p" * 20, client, "shopify", "bank_transactions")
        assert 3 <= len(long) <= 63 and re.fullmatch(r"[A-Za-z][A-Za-z0-9]+", long), long
    assert records_table("trib", "a", "amazon", "orders") != records_table(
        "trib", "a", "ebay", "orders"
    )
    with pytest.raises(ValueError, match="platform"):
        records_table("trib", "c1", "shop-ify", "orders")
    with pytest.raises(ValueError, match="resource"):
        records_table("trib", "c1", "shopify", "order-items")
    with pytest.raises(ConfigurationError):
        records_table("p" * 50, "c1", "shopify", "orders")  # no room for the hash
    with pytest.raises(ConfigurationError):
        RecordStore(
            Settings(storage_connection="UseDevelopmentStorage=true", table_prefix="p" * 55)
        )


async def test_a_record_of_a_bad_platform_is_refused_before_anything_is_written(
    store: RecordStore,
) -> None:
    with pytest.raises(ValueError, match="platform"):
        await store.upsert("c1", [order(1), {**order(2), "platform": "shop/ify"}])
    assert await store.count("c1", "shopify", "orders") == 0
