"""The lean query reader against Azurite, side by side with the SDK's query_entities."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shared.settings import Settings
from shared.storage import queries
from shared.storage.clients import StorageClients
from shared.storage.codec import CHUNK_CHARS, decode_fields, encode_fields
from shared.storage.queries import entity_from_json, fields_from_json, literal, query
from shared.storage.transactions import entity_json, submit_upserts
from tests.storage.test_transactions import AWKWARD_KEYS, comparable, entities


def without_timestamp(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k != "Timestamp"}


async def test_lean_reads_return_what_the_sdk_returns(
    settings: Settings, clients: StorageClients
) -> None:
    table = await clients.table(f"{settings.table_prefix}q")
    await submit_upserts(table, entities("p|2024-01"))
    await submit_upserts(table, entities("p|2024-02"))
    condition = f"PartitionKey eq {literal('p|2024-01')}"
    ours = [e async for e in query(table, condition)]
    theirs = [without_timestamp(dict(e)) async for e in table.query_entities(condition)]
    assert len(ours) == len(AWKWARD_KEYS)
    assert [comparable(e) for e in ours] == [comparable(e) for e in theirs]
    decoded, expected = [decode_fields(e) for e in ours], [decode_fields(e) for e in theirs]
    assert all(math.isnan(d.pop("nan")) for d in decoded + expected)
    assert decoded == expected
    assert sorted(d["big"] for d in decoded) == [2**40 + n for n in range(len(AWKWARD_KEYS))]
    assert all(isinstance(e["big"], EntityProperty) for e in ours)
    assert {d["at"] for d in decoded} == {datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)}


async def test_a_query_follows_continuations_past_a_thousand_rows(
    settings: Settings, clients: StorageClients
) -> None:
    table = await clients.table(f"{settings.table_prefix}q")
    for start in range(0, 2_300, 100):
        batch = [
            {"PartitionKey": "p", "RowKey": f"{n:05d}", "n": n} for n in range(start, start + 100)
        ]
        await submit_upserts(table, batch)
    await submit_upserts(table, [{"PartitionKey": "q", "RowKey": "x", "n": -1}])
    rows = [e async for e in query(table, "PartitionKey eq 'p'")]
    assert [r["n"] for r in rows] == list(range(2_300))
    keys = [
        e
        async for e in query(table, "PartitionKey ge 'p' and PartitionKey lt 'r'", select="RowKey")
    ]
    assert len(keys) == 2_301 and all(set(k) == {"RowKey"} for k in keys)


async def test_the_next_page_is_asked_for_before_this_one_is_consumed(
    settings: Settings, clients: StorageClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = await clients.table(f"{settings.table_prefix}q")
    for start in range(0, 2_100, 100):
        await submit_upserts(
            table, [{"PartitionKey": "p", "RowKey": f"{n:05d}"} for n in range(start, start + 100)]
        )
    asked: list[str | None] = []  # the first RowKey of each page asked for
    real = queries._page

    async def page(table, params):
        token = params.get("NextRowKey")  # Azurite's: the RowKey in base64
        asked.append(base64.b64decode(token).decode() if token else None)
        return await real(table, params)

    monkeypatch.setattr(queries, "_page", page)
    rows = query(table, "PartitionKey eq 'p'")
    assert (await anext(rows))["RowKey"] == "00000"
    assert asked == [None, "01000"], "page 2 is asked for while page 1 is consumed"
    assert len([r async for r in rows]) == 2_099
    assert asked == [None, "01000", "02000"]

    asked.clear()
    rows = query(table, "PartitionKey eq 'p'")
    await anext(rows)
    await rows.aclose()  # a caller that stops early: the page asked for ahead is dropped
    assert asked == [None, "01000"]
    assert len([r async for r in query(table, "PartitionKey eq 'p'")]) == 2_100


async def test_quotes_in_a_filter_value_are_literal(
    settings: Settings, clients: StorageClients
) -> None:
    table = await clients.table(f"{settings.table_prefix}q")
    await submit_upserts(table, [{"PartitionKey": "it's", "RowKey": "a", "n": 1}])
    await submit_upserts(table, [{"PartitionKey": "it", "RowKey": "a", "n": 2}])
    condition = "PartitionKey eq " + literal("it's")
    rows = [e async for e in query(table, condition)]
    assert [r["n"] for r in rows] == [1]


async def test_a_missing_table_is_not_found(settings: Settings, clients: StorageClients) -> None:
    table = clients.tables.get_table_client(f"{settings.table_prefix}absent")
    with pytest.raises(ResourceNotFoundError):
        [e async for e in query(table, "PartitionKey eq 'p'")]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"n": 5}, {"n": 5}),
        ({"n@odata.type": "Edm.Int64", "n": "9"}, {"n": EntityProperty(9, EdmType.INT64)}),
        ({"x@odata.type": "Edm.Double", "x": "NaN"}, {"x": "nan"}),
        ({"x@odata.type": "Edm.Double", "x": 2}, {"x": 2.0}),
        ({"b@odata.type": "Edm.Binary", "b": "AAE="}, {"b": b"\x00\x01"}),
        (
            {"t@odata.type": "Edm.DateTime", "t": "2024-01-02T03:04:05.1234567Z"},
            {"t": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)},
        ),
        (
            {"t@odata.type": "Edm.DateTime", "t": "2024-01-02T03:04:05Z"},
            {"t": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
        ),
        ({"odata.etag": "W/x", "Timestamp": "2024-01-01T00:00:00Z", "a": "s"}, {"a": "s"}),
    ],
    ids=["int32", "int64", "nan", "whole double", "binary", "7 digits", "no fraction", "meta"],
)
def test_values_convert_by_their_annotation(item: dict, expected: dict) -> None:
    got = entity_from_json(item)
    if expected.get("x") == "nan":
        assert math.isnan(got["x"])
    else:
        assert got == expected and [type(v) for v in got.values()] == [
            type(v) for v in expected.values()
        ]


def test_an_unknown_annotation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        entity_from_json({"a@odata.type": "Edm.Mystery", "a": "1"})


async def test_fields_read_in_one_pass_equal_the_entities_decoded(
    settings: Settings, clients: StorageClients
) -> None:
    table = await clients.table(f"{settings.table_prefix}q")
    long_text = "ü" * (CHUNK_CHARS * 2 + 5)  # stored in three chunks
    rows = entities("p|2024-01")
    rows.append(
        encode_fields(
            {"long": long_text, "n": None}, keys={"PartitionKey": "p|2024-01", "RowKey": "z"}
        )
    )
    await submit_upserts(table, rows)
    condition = f"PartitionKey eq {literal('p|2024-01')}"
    fields = [f async for f in query(table, condition, fields=True)]
    decoded = [decode_fields(e) async for e in query(table, condition)]
    assert len(fields) == len(rows)
    assert [comparable(f) for f in fields] == [comparable(d) for d in decoded]
    assert {"long": long_text, "n": None} in fields


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
field_values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.booleans(),
    st.integers(),  # Int32, Int64 and beyond (stored as text)
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1601, 1, 1), timezones=st.just(UTC)),  # Azure's range
    st.dates(),
    st.binary(max_size=8),
    st.uuids(),
    json_values,
)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("PartitionKey", "RowKey", "Timestamp")
)


@hsettings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(names, field_values, max_size=8), stamped=st.booleans())
def test_one_pass_equals_entity_then_decode_on_any_fields(fields, stamped) -> None:
    entity = encode_fields(fields, keys={"PartitionKey": "p", "RowKey": "r"})
    item = json.loads(entity_json(entity))  # the JSON form, annotations as on the wire
    if stamped:  # what a query reply adds
        item = {"odata.etag": 'W/"x"', **item, "Timestamp@odata.type": "Edm.DateTime"}
        item["Timestamp"] = "2026-01-01T00:00:00.1234567Z"
    got, expected = fields_from_json(item), decode_fields(entity_from_json(item))
    assert comparable(got) == comparable(expected)
    assert comparable(got) == comparable(decode_fields(entity))  # and what was written


def test_one_pass_refuses_an_unknown_annotation() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        fields_from_json({"a@odata.type": "Edm.Mystery", "a": "1"})
