"""Canonical models: UTC only, exact money, frozen, table-safe keys, JSON round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import unquote

import pytest
from pydantic import ValidationError

from shared.models import (
    BankTransaction,
    Money,
    Order,
    Return,
    ReturnLine,
    Transaction,
    record_from_json,
)

WHEN = datetime(2024, 3, 1, 14, 15, tzinfo=UTC)


def order(**changes: object) -> Order:
    fields = {
        "platform": "shopify",
        "account": "shop-1",
        "natural_key": "gid://shopify/Order/1",
        "order_id": "gid://shopify/Order/1",
        "created_at": WHEN,
        "total": Money(amount=Decimal("10.00"), currency="USD"),
    }
    return Order(**{**fields, **changes})


def test_aware_datetimes_are_converted_to_utc_and_naive_ones_refused() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert order(created_at=datetime(2024, 3, 1, 23, 15, tzinfo=tokyo)).created_at == WHEN
    assert order(created_at=WHEN).created_at.tzinfo is UTC
    with pytest.raises(ValidationError, match="timezone-aware"):
        order(created_at=datetime(2024, 3, 1, 14, 15))


def test_money_is_exact_and_never_float() -> None:
    assert Money(amount="0.10", currency="USD").amount == Decimal("0.10")
    with pytest.raises(ValidationError, match="never float"):
        Money(amount=0.1, currency="USD")
    for currency in ("usd", "US", "USDX"):
        with pytest.raises(ValidationError):
            Money(amount=1, currency=currency)
    with pytest.raises(ValidationError):
        Money(amount=Decimal("NaN"), currency="USD")


def test_records_are_frozen_and_refuse_unknown_fields() -> None:
    record = order()
    with pytest.raises(ValidationError):
        record.status = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        order(colour="red")
    with pytest.raises(ValidationError):
        order(natural_key="")
    with pytest.raises(ValidationError):
        order(platform="walmart")


def test_storage_key_is_table_safe_and_reversible() -> None:
    key = order().storage_key
    assert not set("/\\#?") & set(key)
    parts = key.split("|")
    assert [unquote(p) for p in parts] == ["shopify", "shop-1", "orders", "gid://shopify/Order/1"]
    tricky = order(natural_key="a|b/c#d?e%f", account="x|y").storage_key
    assert [unquote(p) for p in tricky.split("|")] == ["shopify", "x|y", "orders", "a|b/c#d?e%f"]


@pytest.mark.parametrize(
    "record",
    [
        order(),
        Transaction(
            platform="amazon",
            account="A",
            natural_key="abc:FeeList.0.FeeAmount",
            kind="fee",
            type="Commission",
            posted_at=None,
            amount=Money(amount=Decimal("-1.50"), currency="JPY"),
        ),
        Return(
            platform="ebay",
            account="e",
            natural_key="r1",
            return_id="r1",
            created_at=WHEN,
            lines=(ReturnLine(sku="S", quantity=1, amount=Money(amount=1, currency="USD")),),
        ),
        BankTransaction(
            platform="quiltt",
            account="p",
            natural_key="txn_1",
            transaction_id="txn_1",
            booked_at=WHEN.replace(hour=0, minute=0),
            amount=Money(amount=Decimal("-12.34"), currency="USD"),
        ),
    ],
)
def test_json_round_trip_across_durable_boundaries(record: object) -> None:
    data = record.model_dump(mode="json")  # type: ignore[attr-defined]
    back = record_from_json(data)
    assert back == record and type(back) is type(record)
    assert isinstance(data.get("amount", data.get("total", {})), dict | type(None))


def test_money_serializes_as_text_not_float() -> None:
    data = order().model_dump(mode="json")
    assert data["total"] == {"amount": "10.00", "currency": "USD"}
    assert data["created_at"].endswith("Z")
