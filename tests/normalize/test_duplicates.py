"""Duplicates: a page listing a record twice yields it twice, with one natural key.

De-duplication is the loader's idempotent upsert by storage key; the normalizer neither
drops nor merges anything, so an integrity check can still see the duplicate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.normalize import normalize
from tests.normalize import test_ebay, test_etsy, test_quiltt, test_shopify


def twice(page: dict[str, Any], *path: str) -> dict[str, Any]:
    """``page`` with the list at ``path`` doubled."""
    doubled = copy.deepcopy(page)
    holder = doubled
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = holder[path[-1]] * 2
    return doubled


AMAZON_ORDERS = {
    "payload": {
        "Orders": [
            {
                "AmazonOrderId": "114-3941689-8772232",
                "PurchaseDate": "2026-10-30T23:10:05Z",
                "LastUpdateDate": "2026-10-31T02:00:00Z",
                "OrderStatus": "Shipped",
            }
        ]
    }
}
CASES = [
    ("amazon", "orders", twice(AMAZON_ORDERS, "payload", "Orders")),
    ("shopify", "orders", twice(test_shopify.ORDERS_PAGE, "data", "orders", "edges")),
    ("shopify", "order_items", twice(test_shopify.ORDERS_PAGE, "data", "orders", "edges")),
    (
        "shopify",
        "transactions",
        twice(
            test_shopify.BALANCE_PAGE,
            "data",
            "shopifyPaymentsAccount",
            "balanceTransactions",
            "edges",
        ),
    ),
    ("ebay", "orders", twice(test_ebay.ORDERS_PAGE, "orders")),
    ("ebay", "transactions", twice(test_ebay.TRANSACTIONS_PAGE, "transactions")),
    ("etsy", "transactions", twice(test_etsy.LEDGER, "results")),
    ("etsy", "orders", twice(test_etsy.RECEIPTS, "results")),
    (
        "quiltt",
        "bank_transactions",
        twice(
            test_quiltt.page(test_quiltt.txn("txn_1", "2026-03-29", 1, "CREDIT")),
            "data",
            "transactions",
            "edges",
        ),
    ),
]


@pytest.mark.parametrize(("platform", "resource", "page"), CASES, ids=lambda v: str(v)[:20])
def test_duplicates_are_returned_not_merged(
    platform: str, resource: str, page: dict[str, Any]
) -> None:
    records = normalize(platform, resource, page)
    half = len(records) // 2
    assert records and len(records) % 2 == 0
    assert records[:half] == records[half:]
    assert len({r.natural_key for r in records}) == half
