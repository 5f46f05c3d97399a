"""The lean transaction writer against Azurite, side by side with the SDK's own."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from azure.data.tables import UpdateMode
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import TransientError
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.codec import encode_fields
from shared.storage.keys import escape_key
from shared.storage.transactions import (
    TransactionRejected,
    check_reply,
    lean_available,
    submit_upserts,
)

AWKWARD_KEYS = [
    escape_key(k) for k in ["plain", "it's", "a b", "ünï©ødé", "100%", "x#y?z", "b\\s", "+&=|"]
]


def entities(partition: str = "p|2024-01") -> list[dict[str, Any]]:
    out = []
    for n, row in enumerate(AWKWARD_KEYS):
        fields = {
            "text": f'row {n} ‘quoted’ "double"',
            "small": n - 3,
            "big": 2**40 + n,
            "huge": 2**70,
            "ratio": n / 7,
            "whole": 2.0,
            "nan": math.nan,
            "inf": -math.inf,
            "flag": n % 2 == 0,
            "at": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            "day": date(2024, 1, 2),
            "money": Decimal("10.10"),
            "blob": bytes(range(n + 1)),
            "guid": UUID(int=n + 1),
            "nested": {"a": [1, "b", None]},
            "missing": None,
        }
        out.append(encode_fields(fields, keys={"PartitionKey": partition, "RowKey": row}))
    return out


def comparable(entity: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """An entity as (type, value) per property (so 2 and 2.0 differ), NaN comparable."""
    out = {}
    for name, value in entity.items():
        kind = type(value).__name__
        if isinstance(value, float) and math.isnan(value):
            value = "NaN!"
        elif isinstance(value, datetime):  # the SDK's subclass: compare as a datetime
            kind, value = "datetime", (value.isoformat(), value.tzinfo == UTC)
        out[name] = (kind, value)
    return out


async def stored(clients: StorageClients, name: str) -> list[dict[str, Any]]:
    table = await clients.table(name)
    rows = [comparable(dict(e)) async for e in table.list_entities()]
    return sorted(rows, key=lambda e: e["RowKey"][1])


async def test_the_installed_sdk_offers_the_lean_path(
    settings: Settings, clients: StorageClients
) -> None:
    assert lean_available(await clients.table(f"{settings.table_prefix}lean"))


async def test_lean_writes_store_exactly_what_the_sdk_stores(
    settings: Settings, clients: StorageClients
) -> None:
    lean, sdk = f"{settings.table_prefix}lean", f"{settings.table_prefix}sdk"
    await submit_upserts(await clients.table(lean), entities())
    operations = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities()]
    await (await clients.table(sdk)).submit_transaction(operations)
    ours, theirs = await stored(clients, lean), await stored(clients, sdk)
    assert len(ours) == len(AWKWARD_KEYS)
    assert ours == theirs


async def test_an_upsert_replaces_the_whole_entity(
    settings: Settings, clients: StorageClients
) -> None:
    name = f"{settings.table_prefix}lean"
    table = await clients.table(name)
    await submit_upserts(table, [{"PartitionKey": "p", "RowKey": "r", "a": 1, "b": "x"}])
    await submit_upserts(table, [{"PartitionKey": "p", "RowKey": "r", "a": 2}])
    [row] = await stored(clients, name)
    assert row["a"] == ("int", 2) and "b" not in row


async def test_a_refused_transaction_writes_nothing_and_names_the_reason(
    settings: Settings, clients: StorageClients
) -> None:
    name = f"{settings.table_prefix}lean"
    table = await clients.table(name)
    batch = [
        {"PartitionKey": "p", "RowKey": "ok", "a": 1},
        {"PartitionKey": "p", "RowKey": "too-big", "a": "y" * 40_000},
    ]
    with pytest.raises(TransactionRejected) as refused:
        await submit_upserts(table, batch)
    assert refused.value.status == 400 and refused.value.code == "PropertyValueTooLarge"
    assert await stored(clients, name) == []


@pytest.mark.parametrize(
    "batch",
    [
        [{"PartitionKey": "p", "RowKey": "a"}, {"PartitionKey": "q", "RowKey": "b"}],
        [{"PartitionKey": "p", "RowKey": str(n)} for n in range(101)],
    ],
    ids=["two partitions", "101 entities"],
)
async def test_a_batch_azure_would_refuse_is_not_sent(
    settings: Settings, clients: StorageClients, batch: list[dict[str, Any]]
) -> None:
    name = f"{settings.table_prefix}lean"
    with pytest.raises(ValueError, match="one partition"):
        await submit_upserts(await clients.table(name), batch)
    assert await stored(clients, name) == []


class _WithoutPrivateClient:
    """A TableClient as a future SDK without ``_client`` would look to the lean path."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        if name == "_client":
            raise AttributeError(name)
        return getattr(self._table, name)


async def test_without_the_private_client_the_sdk_path_writes_the_same(
    settings: Settings, clients: StorageClients
) -> None:
    name = f"{settings.table_prefix}fallback"
    wrapped = _WithoutPrivateClient(await clients.table(name))
    assert not lean_available(wrapped)
    await submit_upserts(wrapped, entities())
    await submit_upserts(await clients.table(f"{settings.table_prefix}lean"), entities())
    assert await stored(clients, name) == await stored(clients, f"{settings.table_prefix}lean")


def _reply(*statuses: int, error: str = "") -> str:
    parts = [
        f"--changesetresponse_x\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 {s} X\r\n\r\n"
        for s in statuses
    ]
    return "--batchresponse_x\r\n" + "".join(parts) + error + "--batchresponse_x--\r\n"


@pytest.mark.parametrize(
    ("reply", "expected", "raised"),
    [
        (_reply(204, 204, 204), 3, None),
        (_reply(204, 204), 3, TransactionRejected),
        (_reply(500), 3, TransientError),
        (_reply(503), 2, TransientError),
        (_reply(429), 2, TransientError),
        (_reply(404), 2, TransactionRejected),
    ],
    ids=["all written", "parts missing", "500", "503", "429", "404"],
)
def test_check_reply_reads_each_part_status(
    reply: str, expected: int, raised: type[Exception] | None
) -> None:
    if raised is None:
        check_reply(reply, expected)
    else:
        with pytest.raises(raised):
            check_reply(reply, expected)


def test_a_refusal_carries_the_service_code_and_message() -> None:
    body = '{"odata.error":{"code":"EntityTooLarge","message":{"value":"too big"}}}\r\n'
    with pytest.raises(TransactionRejected, match="too big") as refused:
        check_reply(_reply(413, error=body), 2)
    assert (refused.value.status, refused.value.code) == (413, "EntityTooLarge")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40) | st.sampled_from(["acme|ord-1|", "it's", "é|%7C", "a~b_c.d-e"]))
def test_keys_in_operation_urls_are_quoted_exactly_as_urllib_quotes_them(text: str) -> None:
    from urllib.parse import quote

    from shared.storage.transactions import _key

    try:
        expected = quote(text.replace("'", "''"), safe="")
    except UnicodeEncodeError:  # a lone surrogate: refused alike
        with pytest.raises(UnicodeEncodeError):
            _key(text)
        return
    assert _key(text) == expected
