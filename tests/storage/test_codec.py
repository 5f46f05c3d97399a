from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

import pytest
from azure.data.tables import EntityProperty

from shared.storage.codec import (
    CHUNK_CHARS,
    TYPES_PROPERTY,
    decode_fields,
    encode_fields,
)


class Colour(StrEnum):
    RED = "red"


def round_trip(fields: dict) -> dict:
    return decode_fields(encode_fields(fields))


def test_every_supported_type_round_trips() -> None:
    fields = {
        "s": "text",
        "empty": "",
        "b": True,
        "i": -7,
        "i64": 2**40,
        "huge": 10**30,
        "f": 1.5,
        "money": Decimal("1234567890123456789.0100"),
        "at": datetime(2024, 3, 5, 12, 0, 1, 123456, tzinfo=UTC),
        "day": date(2024, 2, 29),
        "none": None,
        "nested": {"a": [1, "x", None], "b": {"c": True}},
        "items": [1, 2, 3],
        "raw": b"\x00\x01",
    }
    assert round_trip(fields) == fields
    assert str(round_trip(fields)["money"]) == "1234567890123456789.0100"


def test_storage_forms() -> None:
    props = encode_fields({"money": Decimal("0.10"), "i64": 2**40, "colour": Colour.RED})
    assert props["money"] == "0.10"
    assert isinstance(props["i64"], EntityProperty)
    assert props["colour"] == "red" and type(props["colour"]) is str


def test_aware_datetimes_are_stored_in_utc() -> None:
    local = datetime(2024, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    stored = encode_fields({"at": local})["at"]
    assert stored.utcoffset() == timedelta(0) and stored == local


def test_nested_values_become_json_strings() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    props = encode_fields({"total": {"amount": Decimal("9.90"), "currency": "EUR", "at": at}})
    assert props["total"] == '{"amount":"9.90","currency":"EUR","at":"2024-01-01T00:00:00+00:00"}'


def test_naive_datetimes_and_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        encode_fields({"at": datetime(2024, 1, 1)})
    for name in ("_private", "PartitionKey", "Timestamp", "has-dash", "1st"):
        with pytest.raises(ValueError, match="field name"):
            encode_fields({name: 1})
    with pytest.raises(TypeError):
        encode_fields({"x": object()})


def test_long_strings_are_split_and_rejoined() -> None:
    text = "注文😀" * CHUNK_CHARS  # 2·CHUNK_CHARS characters
    props = encode_fields({"description": text, "lines": [text]})
    assert len(props["description"]) == CHUNK_CHARS and "_1_description" in props
    assert TYPES_PROPERTY in props
    assert decode_fields(props) == {"description": text, "lines": [text]}


def test_entities_beyond_azure_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="bytes"):
        encode_fields({"blob": "x" * 600_000})
    with pytest.raises(ValueError, match="properties"):
        encode_fields({f"f{i}": i for i in range(253)})
