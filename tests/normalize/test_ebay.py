"""eBay: Fulfillment getOrders, Finances getTransactions / getPayouts, Inventory items.

The eBay specs carry no response examples, so every fixture here is validated strictly
against the spec's schema first (no field the spec does not define)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import MalformedPayloadError
from shared.models import Money, Transaction
from shared.normalize import normalize
from tests.normalize.specs import assert_valid

FULFILLMENT = "ebay-sell_fulfillment_v1_oas3.yaml"
FINANCES = "ebay-sell_finances_v1_oas3.yaml"
INVENTORY = "ebay-sell_inventory_v1_oas3.json"


def amount(value: str, currency: str = "USD") -> dict[str, str]:
    return {"value": value, "currency": currency}


def usd(value: str) -> Money:
    return Money(amount=Decimal(value), currency="USD")


ORDER = {
    "orderId": "12-01234-56789",
    "creationDate": "2024-05-01T18:22:03.000Z",
    "lastModifiedDate": "2024-05-09T07:01:10.245Z",
    "orderFulfillmentStatus": "FULFILLED",
    "orderPaymentStatus": "PARTIALLY_REFUNDED",
    "salesRecordReference": "0",
    "sellerId": "seller_one",
    "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
    "pricingSummary": {
        "priceSubtotal": amount("40.00"),
        "priceDiscount": amount("-4.00"),
        "deliveryCost": amount("6.50"),
        "tax": amount("3.10"),
        "total": amount("45.60"),
    },
    "paymentSummary": {
        "payments": [],
        "refunds": [
            {
                "refundId": "5000012345",
                "refundDate": "2024-05-09T07:01:09.000Z",
                "refundStatus": "REFUNDED",
                "amount": amount("18.00"),
            },
            {"refundStatus": "PENDING", "amount": amount("2.00")},
        ],
        "totalDueSeller": amount("45.60"),
    },
    "totalFeeBasisAmount": amount("45.60"),
    "totalMarketplaceFee": amount("5.94"),
    "lineItems": [
        {
            "lineItemId": "10045678901234",
            "legacyItemId": "256123456789",
            "sku": "MUG-RED",
            "title": "Red mug",
            "quantity": 2,
            "lineItemCost": amount("40.00"),
            "discountedLineItemCost": amount("36.00"),
            "appliedPromotions": [{"promotionId": "P9", "discountAmount": amount("4.00")}],
            "deliveryCost": {"shippingCost": amount("6.50")},
            "taxes": [{"amount": amount("3.10")}],
            "total": amount("45.60"),
            "purchaseMarketplaceId": "EBAY_US",
            "refunds": [
                {
                    "refundId": "5000012345",
                    "refundDate": "2024-05-09T07:01:09.000Z",
                    "amount": amount("18.00"),
                }
            ],
        }
    ],
}
ORDERS_PAGE = {
    "href": "https://api.ebay.com/sell/fulfillment/v1/order?limit=50&offset=0",
    "limit": 50,
    "offset": 0,
    "total": 1,
    "orders": [ORDER],
}
SALE = {
    "transactionId": "01-10000-00001",
    "orderId": "12-01234-56789",
    "payoutId": "6000000001",
    "salesRecordReference": "0",
    "buyer": {"username": "b***r"},
    "transactionType": "SALE",
    "amount": amount("39.66"),
    "totalFeeBasisAmount": amount("45.60"),
    "totalFeeAmount": amount("5.94"),
    "orderLineItems": [
        {
            "lineItemId": "10045678901234",
            "feeBasisAmount": amount("45.60"),
            "marketplaceFees": [
                {"feeType": "FINAL_VALUE_FEE_FIXED_PER_ORDER", "amount": amount("0.30")},
                {"feeType": "FINAL_VALUE_FEE", "amount": amount("5.64")},
            ],
        }
    ],
    "bookingEntry": "CREDIT",
    "transactionDate": "2024-05-01T18:22:05.123Z",
    "transactionStatus": "PAYOUT",
    "paymentsEntity": "eBay Inc.",
}
REFUND = {
    "transactionId": "01-10000-00002",
    "orderId": "12-01234-56789",
    "transactionType": "REFUND",
    "amount": amount("15.66"),
    "totalFeeAmount": amount("2.34"),
    "bookingEntry": "DEBIT",
    "transactionDate": "2024-05-09T07:01:09.500Z",
    "transactionStatus": "FUNDS_AVAILABLE_FOR_PAYOUT",
}
LABEL = {
    "transactionId": "01-10000-00003",
    "transactionType": "SHIPPING_LABEL",
    "amount": amount("7.25"),
    "totalFeeAmount": amount("0.0"),
    "bookingEntry": "DEBIT",
    "transactionDate": "2024-05-02T10:00:00.000Z",
    "transactionMemo": "Shipping label purchase",
}
TRANSACTIONS_PAGE = {
    "href": "https://apiz.ebay.com/sell/finances/v1/transaction?limit=20&offset=0",
    "limit": 20,
    "offset": 0,
    "total": 3,
    "transactions": [SALE, REFUND, LABEL],
}
PAYOUTS_PAGE = {
    "href": "https://apiz.ebay.com/sell/finances/v1/payout?limit=20&offset=0",
    "limit": 20,
    "offset": 0,
    "total": 1,
    "payouts": [
        {
            "payoutId": "6000000001",
            "payoutStatus": "SUCCEEDED",
            "payoutStatusDescription": "Funds sent",
            "amount": amount("32.41"),
            "payoutDate": "2024-05-03T06:30:00.000Z",
            "transactionCount": 2,
            "bankReference": "EBAY 6000000001",
            "payoutInstrument": {
                "instrumentType": "BankAccount",
                "nickname": "Checking",
                "accountLastFourDigits": "1234",
            },
        }
    ],
}
INVENTORY_PAGE = {
    "href": "https://api.ebay.com/sell/inventory/v1/inventory_item?limit=100&offset=0",
    "limit": 100,
    "size": 1,
    "total": 2,
    "inventoryItems": [
        {
            "sku": "MUG-RED",
            "locale": "en_US",
            "condition": "NEW",
            "product": {"title": "Red mug"},
            "availability": {
                "shipToLocationAvailability": {"quantity": 12},
                "pickupAtLocationAvailability": [
                    {
                        "merchantLocationKey": "store-1",
                        "quantity": 2,
                        "availabilityType": "IN_STOCK",
                    }
                ],
            },
        },
        {"sku": "MUG-BLUE", "locale": "en_US", "condition": "NEW"},
    ],
}


@pytest.mark.parametrize(
    ("spec", "schema", "page"),
    [
        (FULFILLMENT, "OrderSearchPagedCollection", ORDERS_PAGE),
        (FINANCES, "Transactions", TRANSACTIONS_PAGE),
        (FINANCES, "Payouts", PAYOUTS_PAGE),
        (INVENTORY, "InventoryItems", INVENTORY_PAGE),
    ],
)
def test_fixtures_follow_the_spec(spec: str, schema: str, page: dict[str, Any]) -> None:
    assert_valid(spec, schema, page)


def test_orders() -> None:
    (order,) = normalize("ebay", "orders", ORDERS_PAGE, account="seller_one")
    assert order.natural_key == order.order_id == "12-01234-56789"
    assert order.created_at == datetime(2024, 5, 1, 18, 22, 3, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 5, 9, 7, 1, 10, 245000, tzinfo=UTC)
    assert (order.total, order.subtotal, order.tax, order.shipping) == (
        usd("45.60"),
        usd("40.00"),
        usd("3.10"),
        usd("6.50"),
    )
    assert order.discount == usd("4.00")  # eBay prints discounts negative
    assert order.cancelled is False and order.marketplace == "EBAY_US"


def test_line_items() -> None:
    (item,) = normalize("ebay", "order_items", ORDERS_PAGE)
    assert item.natural_key == "12-01234-56789|10045678901234"
    assert (item.sku, item.product_id, item.quantity) == ("MUG-RED", "256123456789", 2)
    assert item.line_price == usd("40.00") and item.discount == usd("4.00")
    assert item.tax == usd("3.10") and item.shipping == usd("6.50")


def test_issued_refunds_are_returns_and_pending_ones_wait() -> None:
    (refund,) = normalize("ebay", "returns", ORDERS_PAGE)
    assert refund.natural_key == "5000012345" and refund.refund_amount == usd("18.00")
    assert refund.status == "REFUNDED" and refund.lines[0].order_item_id == "10045678901234"


def components(records: list[Transaction], txn_id: str) -> list[Transaction]:
    return [r for r in records if r.transaction_id == txn_id]


def test_transactions_split_fees_and_add_up_to_net() -> None:
    records = normalize("ebay", "transactions", TRANSACTIONS_PAGE)
    sale = components(records, "01-10000-00001")
    assert [(r.kind, r.type, r.amount) for r in sale] == [
        ("charge", "SALE", usd("45.60")),
        ("fee", "FINAL_VALUE_FEE_FIXED_PER_ORDER", usd("-0.30")),
        ("fee", "FINAL_VALUE_FEE", usd("-5.64")),
    ]
    assert sum(r.amount.amount for r in sale) == Decimal("39.66")  # eBay's net amount
    assert sale[1].natural_key == "01-10000-00001:SALE:fee:10045678901234:0"
    assert sale[1].order_item_id == "10045678901234" and sale[0].payout_id == "6000000001"
    refund = components(records, "01-10000-00002")
    assert [(r.kind, r.amount) for r in refund] == [("refund", usd("-18.00")), ("fee", usd("2.34"))]
    assert sum(r.amount.amount for r in refund) == Decimal("-15.66")
    (label,) = components(records, "01-10000-00003")
    assert (label.kind, label.amount, label.description) == (
        "fee",
        usd("-7.25"),
        "Shipping label purchase",
    )


def test_payouts_and_inventory() -> None:
    (payout,) = normalize("ebay", "payouts", PAYOUTS_PAGE)
    assert payout.natural_key == "6000000001" and payout.amount == usd("32.41")
    assert payout.issued_at == datetime(2024, 5, 3, 6, 30, tzinfo=UTC)
    assert payout.bank_reference == "EBAY 6000000001"
    stocked, unset = normalize("ebay", "inventory", INVENTORY_PAGE)
    assert (stocked.natural_key, stocked.available) == ("MUG-RED", 12)
    assert (unset.natural_key, unset.available) == ("MUG-BLUE", None)


def test_empty_pages() -> None:
    assert normalize("ebay", "transactions", {}) == []  # 204 No Content
    assert normalize("ebay", "orders", {"total": 0, "limit": 50, "offset": 0}) == []


@pytest.mark.parametrize(
    ("resource", "page", "field"),
    [
        ("orders", {"total": 3, "limit": 50}, "$.orders"),
        ("orders", {"orders": [{**ORDER, "orderId": None}]}, "$.orders[0].orderId"),
        (
            "order_items",
            {"orders": [{**ORDER, "creationDate": "2024-05-01"}]},
            "$.orders[0].creationDate",
        ),
        (
            "transactions",
            {"transactions": [{**SALE, "bookingEntry": "SIDEWAYS"}]},
            "$.transactions[0].bookingEntry",
        ),
        (
            "transactions",
            {"transactions": [{**SALE, "amount": {"currency": "USD"}}]},
            "$.transactions[0].amount.value",
        ),
        (
            "payouts",
            {"payouts": [{"payoutId": "1", "amount": amount("1.00")}]},
            "$.payouts[0].payoutDate",
        ),
        ("inventory", {"errors": [{"errorId": 25001, "message": "System error"}]}, "$.errors"),
    ],
)
def test_malformed_ebay_pages(resource: str, page: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("ebay", resource, page)
    assert (info.value.platform, info.value.resource, info.value.field) == ("ebay", resource, field)
