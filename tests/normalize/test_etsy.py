"""Etsy: receipts, receipt transactions, ledger entries, payments, listing inventory.

Fixtures in the June 2021 spec's shape are validated strictly against etsy-openapi-v3.json;
the newer field names (``created_timestamp``, ``ledger_type``, receipts carrying their
``transactions``) are not in that copy of the spec and are tested separately."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import MalformedPayloadError
from shared.models import Money
from shared.normalize import normalize
from tests.normalize.specs import assert_valid

SPEC = "etsy-openapi-v3.json"
T0 = 1717200000  # 2024-06-01T00:00:00Z


def etsy_money(amount: int, divisor: int = 100, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "divisor": divisor, "currency_code": currency}


def usd(value: str) -> Money:
    return Money(amount=Decimal(value), currency="USD")


def jpy(value: str) -> Money:
    return Money(amount=Decimal(value), currency="JPY")


def receipt(receipt_id: int, currency: str = "USD", divisor: int = 100, **extra: Any) -> dict:
    m = {"currency": currency, "divisor": divisor}
    return {
        "receipt_id": receipt_id,
        "receipt_type": 0,
        "seller_user_id": 11,
        "buyer_user_id": 22,
        "name": "A. Buyer",
        "first_line": "1 Main St",
        "second_line": None,
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "formatted_address": "1 Main St\nSpringfield, IL 62701",
        "country_iso": "US",
        "payment_method": "cc",
        "payment_email": "",
        "message_from_seller": None,
        "message_from_buyer": None,
        "message_from_payment": None,
        "is_paid": True,
        "is_shipped": False,
        "create_timestamp": T0,
        "update_timestamp": T0 + 3600,
        "gift_message": "",
        "grandtotal": etsy_money(3150 * divisor // 100, **m),
        "subtotal": etsy_money(2700 * divisor // 100, **m),
        "total_price": etsy_money(3000 * divisor // 100, **m),
        "total_shipping_cost": etsy_money(500 * divisor // 100, **m),
        "total_tax_cost": etsy_money(150 * divisor // 100, **m),
        "total_vat_cost": etsy_money(0, **m),
        "discount_amt": etsy_money(300 * divisor // 100, **m),
        "gift_wrap_price": etsy_money(0, **m),
        "shipments": [],
        **extra,
    }


def receipt_transaction(txn_id: int, receipt_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "transaction_id": txn_id,
        "title": "Knitted hat",
        "description": "Warm",
        "seller_user_id": 11,
        "buyer_user_id": 22,
        "create_timestamp": T0,
        "paid_timestamp": T0 + 60,
        "shipped_timestamp": None,
        "quantity": 2,
        "listing_image_id": None,
        "receipt_id": receipt_id,
        "is_digital": False,
        "file_data": "",
        "listing_id": 987654321,
        "transaction_type": "listing",
        "product_id": 555,
        "price": etsy_money(1500),
        "shipping_cost": etsy_money(250),
        **extra,
    }


def ledger_entry(entry_id: int, amount: int, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "ledger_id": 7,
        "sequence_number": entry_id,
        "amount": amount,
        "currency": "USD",
        "description": description,
        "balance": 0,
        "create_date": T0 + entry_id,
        **extra,
    }


def payment(payment_id: int, adjustments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "buyer_user_id": 22,
        "shop_id": 33,
        "receipt_id": 1001,
        "amount_gross": etsy_money(3150),
        "amount_fees": etsy_money(124),
        "amount_net": etsy_money(3026),
        "posted_gross": etsy_money(3150),
        "posted_fees": etsy_money(124),
        "posted_net": etsy_money(3026),
        "adjusted_gross": etsy_money(1650),
        "adjusted_fees": etsy_money(74),
        "adjusted_net": etsy_money(1576),
        "currency": "USD",
        "shop_currency": "USD",
        "buyer_currency": "USD",
        "shipping_user_id": None,
        "shipping_address_id": 1,
        "billing_address_id": 2,
        "status": "settled",
        "shipped_timestamp": None,
        "create_timestamp": T0 + 120,
        "update_timestamp": T0 + 7200,
        "payment_adjustments": adjustments,
    }


ADJUSTMENT = {
    "payment_adjustment_id": 4444,
    "payment_id": 3333,
    "status": "SUCCESS",
    "is_success": True,
    "user_id": 11,
    "reason_code": "customer_changed_mind",
    "total_adjustment_amount": 1500,
    "shop_total_adjustment_amount": 1500,
    "buyer_total_adjustment_amount": 1500,
    "total_fee_adjustment_amount": 50,
    "create_timestamp": T0 + 7000,
    "update_timestamp": T0 + 7000,
}
RECEIPTS = {"count": 2, "results": [receipt(1001), receipt(1002, "JPY", 1, is_paid=False)]}
TRANSACTIONS = {"count": 1, "results": [receipt_transaction(5001, 1001)]}
LEDGER = {
    "count": 4,
    "results": [
        ledger_entry(1, 3026, "payment"),
        ledger_entry(2, -20, "listing"),
        ledger_entry(3, -1500, "refund"),
        ledger_entry(4, -1506, "Disbursement to bank"),
    ],
}
PAYMENTS = {"count": 1, "results": [payment(3333, [ADJUSTMENT])]}
INVENTORY = {
    "products": [
        {
            "product_id": 555,
            "sku": "HAT-RED",
            "is_deleted": False,
            "offerings": [
                {
                    "offering_id": 1,
                    "quantity": 4,
                    "is_enabled": True,
                    "is_deleted": False,
                    "price": etsy_money(1500),
                },
                {
                    "offering_id": 2,
                    "quantity": 9,
                    "is_enabled": False,
                    "is_deleted": False,
                    "price": etsy_money(1500),
                },
            ],
            "property_values": [],
        },
        {
            "product_id": 556,
            "sku": "HAT-OLD",
            "is_deleted": True,
            "offerings": [],
            "property_values": [],
        },
    ],
    "price_on_property": [],
    "quantity_on_property": [],
    "sku_on_property": [],
}


@pytest.mark.parametrize(
    ("schema", "page"),
    [
        ("ShopReceipts", RECEIPTS),
        ("ShopReceiptTransactions", TRANSACTIONS),
        ("PaymentAccountLedgerEntries", LEDGER),
        ("Payments", PAYMENTS),
        ("ListingInventory", INVENTORY),
    ],
)
def test_fixtures_follow_the_spec(schema: str, page: dict[str, Any]) -> None:
    assert_valid(SPEC, schema, page)


def test_receipts_in_epoch_seconds_and_amount_over_divisor() -> None:
    dollars, yen = normalize("etsy", "orders", RECEIPTS, account="shop-33")
    assert dollars.natural_key == dollars.order_id == "1001"
    assert dollars.created_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert dollars.updated_at == datetime(2024, 6, 1, 1, tzinfo=UTC)
    assert (dollars.total, dollars.subtotal, dollars.shipping, dollars.tax, dollars.discount) == (
        usd("31.50"),
        usd("27.00"),
        usd("5.00"),
        usd("1.50"),
        usd("3.00"),
    )
    assert dollars.payment_status == "paid" and yen.payment_status == "unpaid"
    assert yen.total == jpy("31") and yen.shipping == jpy("5")  # JPY: divisor 1


def test_receipt_transactions_are_items() -> None:
    (item,) = normalize("etsy", "order_items", TRANSACTIONS)
    assert item.natural_key == "1001|5001" and item.order_id == "1001"
    assert item.unit_price == usd("15.00") and item.line_price == usd("30.00")
    assert item.shipping == usd("2.50") and item.product_id == "987654321"
    assert item.created_at == datetime(2024, 6, 1, tzinfo=UTC)


def test_newer_receipts_carry_their_transactions() -> None:
    newer = receipt(
        1003,
        created_timestamp=T0 + 5,
        transactions=[
            {**receipt_transaction(5002, 1003), "sku": "HAT-RED", "created_timestamp": T0 + 5}
        ],
    )
    (order,) = normalize("etsy", "orders", {"count": 1, "results": [newer]})
    assert order.created_at == datetime(2024, 6, 1, 0, 0, 5, tzinfo=UTC)
    (item,) = normalize("etsy", "order_items", {"count": 1, "results": [newer]})
    assert (item.natural_key, item.sku) == ("1003|5002", "HAT-RED")


def test_ledger_entries_in_minor_units() -> None:
    records = normalize("etsy", "transactions", LEDGER)
    assert [(r.natural_key, r.kind, r.amount) for r in records] == [
        ("entry:1", "charge", usd("30.26")),
        ("entry:2", "fee", usd("-0.20")),
        ("entry:3", "refund", usd("-15.00")),
        ("entry:4", "payout", usd("-15.06")),
    ]
    assert records[0].posted_at == datetime(2024, 6, 1, 0, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ledger_type", "kind"),
    [
        ("DISBURSE2", "payout"),
        ("REFUND", "refund"),
        ("REFUND_PROCESSING_FEE", "fee"),
        ("PAYMENT_PROCESSING_FEE", "fee"),
        ("transaction", "fee"),
        ("renew_sold_auto", "fee"),
        ("offsite_ads_fee", "fee"),
        ("PAYMENT_GROSS", "charge"),
        ("vat_tax_ep", "tax"),
        ("RESERVE", "adjustment"),
    ],
)
def test_ledger_type_classification(ledger_type: str, kind: str) -> None:
    entry = ledger_entry(9, -100, "x", ledger_type=ledger_type, created_timestamp=T0)
    (record,) = normalize("etsy", "transactions", {"count": 1, "results": [entry]})
    assert (record.kind, record.type) == (kind, ledger_type)


def test_payouts_are_the_disbursement_entries() -> None:
    yen = ledger_entry(5, -120000, "x", currency="JPY", ledger_type="DISBURSE2")
    (first, second) = normalize("etsy", "payouts", {**LEDGER, "results": [*LEDGER["results"], yen]})
    assert (first.natural_key, first.amount) == ("4", usd("15.06"))  # leaves Etsy: positive
    assert first.issued_at == datetime(2024, 6, 1, 0, 0, 4, tzinfo=UTC)
    assert second.amount == jpy("120000")  # ledger minor units of a zero-decimal currency


def test_payments_and_their_refunds() -> None:
    records = normalize("etsy", "transactions", PAYMENTS)
    assert [(r.natural_key, r.kind, r.amount) for r in records] == [
        ("payment:3333:gross", "charge", usd("31.50")),
        ("payment:3333:fees", "fee", usd("-1.24")),
        ("adjustment:4444:refund", "refund", usd("-15.00")),
        ("adjustment:4444:fees", "fee", usd("0.50")),
    ]
    assert sum(r.amount.amount for r in records) == Decimal("15.76")  # adjusted_net
    (refund,) = normalize("etsy", "returns", PAYMENTS)
    assert (refund.natural_key, refund.order_id, refund.refund_amount) == (
        "4444",
        "1001",
        usd("15.00"),
    )
    assert refund.reason == "customer_changed_mind"


def test_listing_inventory() -> None:
    live, deleted = normalize("etsy", "inventory", INVENTORY)
    assert (live.natural_key, live.sku, live.available) == ("555", "HAT-RED", 4)
    assert (deleted.natural_key, deleted.available) == ("556", 0)


def test_listings_with_their_inventory_attached() -> None:
    other = {"products": [{**INVENTORY["products"][0], "product_id": 777, "sku": "CAP"}]}
    page = {
        "count": 2,
        "results": [
            {"listing_id": 1, "inventory": INVENTORY},
            {"listing_id": 2, "inventory": other},
        ],
    }
    records = normalize("etsy", "inventory", page)
    assert [(r.natural_key, r.sku, r.available) for r in records] == [
        ("555", "HAT-RED", 4),
        ("556", "HAT-OLD", 0),
        ("777", "CAP", 4),
    ]
    assert records[:2] == normalize("etsy", "inventory", INVENTORY)  # same records either way
    with pytest.raises(MalformedPayloadError, match="inventory"):
        normalize("etsy", "inventory", {"count": 1, "results": [{"listing_id": 1}]})


@pytest.mark.parametrize(
    ("resource", "page", "field"),
    [
        ("orders", {"count": 1}, "$.results"),
        ("orders", {"error": "Invalid API key"}, "$.error"),
        (
            "orders",
            {"results": [receipt(1, create_timestamp=T0 * 1000)]},
            "$.results[0].create_timestamp",
        ),
        (
            "orders",
            {"results": [receipt(1, grandtotal=etsy_money(100, 3))]},
            "$.results[0].grandtotal.amount",
        ),
        (
            "orders",
            {"results": [receipt(1, grandtotal=etsy_money(100, 0))]},
            "$.results[0].grandtotal.amount",
        ),
        (
            "order_items",
            {"results": [receipt_transaction(1, 2, quantity=None)]},
            "$.results[0].quantity",
        ),
        ("transactions", {"results": [ledger_entry(1, 10.5, "payment")]}, "$.results[0].amount"),
        (
            "transactions",
            {"results": [ledger_entry(1, 10, "payment", currency="")]},
            "$.results[0].currency",
        ),
        (
            "payouts",
            {"results": [ledger_entry(1, -10, "disbursement", create_date="today")]},
            "$.results[0].create_date",
        ),
    ],
)
def test_malformed_etsy_pages(resource: str, page: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("etsy", resource, page)
    assert (info.value.platform, info.value.resource, info.value.field) == ("etsy", resource, field)
