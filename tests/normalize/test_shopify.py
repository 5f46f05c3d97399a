"""Shopify: GraphQL pages, REST orders.json (shop-local offsets), bulk JSONL, payments.

Shopify publishes no OpenAPI file; the fixtures use the Admin API's public field names
(Order, LineItem, Refund, MoneyBag, ShopifyPaymentsBalanceTransaction, ...)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import MalformedPayloadError
from shared.models import Money
from shared.normalize import normalize

COST = {
    "cost": {
        "requestedQueryCost": 252,
        "actualQueryCost": 12,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1988,
            "restoreRate": 100.0,
        },
    }
}


def bag(amount: str, currency: str = "USD", presentment: str | None = None) -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": currency},
        "presentmentMoney": {"amount": presentment or amount, "currencyCode": "EUR"},
    }


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


ORDER_1 = {
    "id": "gid://shopify/Order/5001",
    "name": "#1001",
    "createdAt": "2024-03-01T14:15:00Z",
    "updatedAt": "2024-03-05T10:00:00Z",
    "cancelledAt": None,
    "displayFinancialStatus": "PARTIALLY_REFUNDED",
    "displayFulfillmentStatus": "FULFILLED",
    "currencyCode": "USD",
    "totalPriceSet": bag("59.40", presentment="55.00"),
    "subtotalPriceSet": bag("50.00"),
    "totalTaxSet": bag("4.40"),
    "totalShippingPriceSet": bag("10.00"),
    "totalDiscountsSet": bag("5.00"),
    "lineItems": {
        "edges": [
            {
                "node": {
                    "id": "gid://shopify/LineItem/9001",
                    "sku": "MUG-RED",
                    "title": "Red mug",
                    "quantity": 2,
                    "originalUnitPriceSet": bag("15.00"),
                    "originalTotalSet": bag("30.00"),
                    "totalDiscountSet": bag("5.00"),
                    "taxLines": [{"title": "State", "priceSet": bag("2.20")}],
                    "variant": {"id": "gid://shopify/ProductVariant/7001", "sku": "MUG-RED"},
                }
            },
            {
                "node": {
                    "id": "gid://shopify/LineItem/9002",
                    "sku": None,
                    "title": "Gift card",
                    "quantity": 1,
                    "originalUnitPriceSet": bag("20.00"),
                    "variant": None,
                }
            },
        ],
        "pageInfo": {"hasNextPage": False, "endCursor": "eyJsYXN0X2lkIjo5MDAyfQ=="},
    },
    "refunds": [
        {
            "id": "gid://shopify/Refund/3001",
            "createdAt": "2024-03-05T09:59:00Z",
            "note": "damaged",
            "totalRefundedSet": bag("16.50"),
            "refundLineItems": {
                "edges": [
                    {
                        "node": {
                            "quantity": 1,
                            "lineItem": {"id": "gid://shopify/LineItem/9001", "sku": "MUG-RED"},
                            "subtotalSet": bag("15.00"),
                        }
                    }
                ],
                "pageInfo": {"hasNextPage": False},
            },
        }
    ],
}
ORDER_2_JPY = {
    "id": "gid://shopify/Order/5002",
    "name": "#1002",
    "createdAt": "2024-03-31T15:30:00Z",
    "updatedAt": "2024-03-31T15:30:00Z",
    "cancelledAt": "2024-04-01T00:00:00Z",
    "displayFinancialStatus": "VOIDED",
    "displayFulfillmentStatus": "UNFULFILLED",
    "totalPriceSet": bag("1500.0", "JPY"),
    "lineItems": {
        "nodes": [
            {
                "id": "gid://shopify/LineItem/9003",
                "quantity": 3,
                "originalUnitPriceSet": bag("500.0", "JPY"),
            }
        ]
    },
    "refunds": [],
}


def graphql(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "extensions": copy.deepcopy(COST)}


ORDERS_PAGE = graphql(
    {
        "orders": {
            "edges": [{"node": ORDER_1, "cursor": "c1"}, {"node": ORDER_2_JPY, "cursor": "c2"}],
            "pageInfo": {"hasNextPage": True, "endCursor": "c2"},
        }
    }
)


def test_graphql_orders() -> None:
    first, yen = normalize("shopify", "orders", ORDERS_PAGE, account="shop-1.myshopify.com")
    assert first.natural_key == first.order_id == "gid://shopify/Order/5001"
    assert first.total == usd("59.40")  # shop money, not the presentment currency
    assert (first.subtotal, first.tax, first.shipping, first.discount) == (
        usd("50.00"),
        usd("4.40"),
        usd("10.00"),
        usd("5.00"),
    )
    assert first.status == "FULFILLED" and first.payment_status == "PARTIALLY_REFUNDED"
    assert first.cancelled is False and first.seller_reference == "#1001"
    assert yen.total == Money(amount=Decimal("1500.0"), currency="JPY") and yen.cancelled is True
    assert yen.created_at == datetime(2024, 3, 31, 15, 30, tzinfo=UTC)


def test_graphql_line_items() -> None:
    mug, card, yen = normalize("shopify", "order_items", ORDERS_PAGE)
    assert mug.natural_key == "gid://shopify/Order/5001|gid://shopify/LineItem/9001"
    assert mug.unit_price == usd("15.00") and mug.line_price == usd("30.00")
    assert mug.tax == usd("2.20") and mug.discount == usd("5.00")
    assert mug.product_id == "gid://shopify/ProductVariant/7001"
    assert mug.created_at == datetime(2024, 3, 1, 14, 15, tzinfo=UTC)
    assert card.sku is None and card.line_price == usd("20.00")  # unit x quantity
    assert yen.line_price == Money(amount=Decimal("1500.0"), currency="JPY")


def test_graphql_refunds_are_returns() -> None:
    (refund,) = normalize("shopify", "returns", ORDERS_PAGE)
    assert refund.natural_key == "gid://shopify/Refund/3001"
    assert refund.order_id == "gid://shopify/Order/5001" and refund.refund_amount == usd("16.50")
    (line,) = refund.lines
    assert (line.order_item_id, line.sku, line.quantity, line.amount) == (
        "gid://shopify/LineItem/9001",
        "MUG-RED",
        1,
        usd("15.00"),
    )


REST_PAGE = {
    "orders": [
        {
            "id": 5001,
            "admin_graphql_api_id": "gid://shopify/Order/5001",
            "name": "#1001",
            "created_at": "2024-03-01T09:15:00-05:00",
            "updated_at": "2024-03-05T05:00:00-05:00",
            "cancelled_at": None,
            "currency": "USD",
            "total_price": "59.40",
            "subtotal_price": "50.00",
            "total_tax": "4.40",
            "total_discounts": "5.00",
            "total_shipping_price_set": {
                "shop_money": {"amount": "10.00", "currency_code": "USD"},
                "presentment_money": {"amount": "9.20", "currency_code": "EUR"},
            },
            "financial_status": "partially_refunded",
            "fulfillment_status": "fulfilled",
            "line_items": [
                {
                    "id": 9001,
                    "variant_id": 7001,
                    "sku": "MUG-RED",
                    "title": "Red mug",
                    "quantity": 2,
                    "price": "15.00",
                    "total_discount": "5.00",
                    "tax_lines": [{"title": "State", "price": "2.20", "rate": 0.0733}],
                },
            ],
            "refunds": [
                {
                    "id": 3001,
                    "created_at": "2024-03-05T04:59:00-05:00",
                    "note": "damaged",
                    "refund_line_items": [
                        {
                            "line_item_id": 9001,
                            "quantity": 1,
                            "subtotal": "15.00",
                            "line_item": {"id": 9001, "sku": "MUG-RED"},
                        }
                    ],
                    "transactions": [
                        {
                            "kind": "refund",
                            "status": "success",
                            "amount": "16.50",
                            "currency": "USD",
                        },
                        {
                            "kind": "refund",
                            "status": "failure",
                            "amount": "16.50",
                            "currency": "USD",
                        },
                    ],
                },
            ],
        }
    ]
}


def test_rest_orders_in_shop_local_time_match_graphql() -> None:
    (rest,) = normalize("shopify", "orders", REST_PAGE, account="s")
    graph = normalize("shopify", "orders", ORDERS_PAGE, account="s")[0]
    assert rest.created_at == datetime(2024, 3, 1, 14, 15, tzinfo=UTC)  # -05:00 -> UTC
    assert rest.updated_at == graph.updated_at
    assert rest.natural_key == graph.natural_key and rest.storage_key == graph.storage_key
    assert (rest.total, rest.subtotal, rest.tax, rest.shipping, rest.discount) == (
        graph.total,
        graph.subtotal,
        graph.tax,
        graph.shipping,
        graph.discount,
    )


def test_rest_items_and_refunds_share_graphql_keys() -> None:
    (item,) = normalize("shopify", "order_items", REST_PAGE)
    assert item.natural_key == "gid://shopify/Order/5001|gid://shopify/LineItem/9001"
    assert item.line_price == usd("30.00") and item.tax == usd("2.20")
    assert item.product_id == "gid://shopify/ProductVariant/7001"
    (refund,) = normalize("shopify", "returns", REST_PAGE)
    assert refund.natural_key == "gid://shopify/Refund/3001"
    assert refund.refund_amount == usd("16.50")  # the failed attempt does not count
    assert refund.created_at == datetime(2024, 3, 5, 9, 59, tzinfo=UTC)


def bulk(*objects: dict[str, Any]) -> str:
    return "\n".join(json.dumps(o) for o in objects) + "\n"


BULK = bulk(
    {
        "id": "gid://shopify/Order/5001",
        "name": "#1001",
        "createdAt": "2024-03-01T14:15:00Z",
        "updatedAt": "2024-03-05T10:00:00Z",
        "totalPriceSet": bag("59.40"),
        "refunds": [
            {
                "id": "gid://shopify/Refund/3001",
                "createdAt": "2024-03-05T09:59:00Z",
                "totalRefundedSet": bag("16.50"),
            }
        ],
    },
    {
        "id": "gid://shopify/LineItem/9001",
        "sku": "MUG-RED",
        "quantity": 2,
        "originalUnitPriceSet": bag("15.00"),
        "__parentId": "gid://shopify/Order/5001",
    },
    {
        "id": "gid://shopify/LineItem/9004",
        "sku": "TEA",
        "quantity": 1,
        "originalUnitPriceSet": bag("9.00"),
        "__parentId": "gid://shopify/Order/5003",
    },
    {"id": "gid://shopify/Fulfillment/1", "__parentId": "gid://shopify/Order/5001"},
    {
        "id": "gid://shopify/Order/5003",
        "createdAt": "2024-03-02T00:00:00Z",
        "totalPriceSet": bag("9.00"),
        "refunds": [],
    },
)


def test_bulk_jsonl_children_find_their_parents_in_any_order() -> None:
    orders = normalize("shopify", "orders", BULK)
    assert [o.order_id for o in orders] == ["gid://shopify/Order/5001", "gid://shopify/Order/5003"]
    items = normalize("shopify", "order_items", BULK)
    assert [(i.order_id, i.sku, i.line_price) for i in items] == [
        ("gid://shopify/Order/5001", "MUG-RED", usd("30.00")),
        ("gid://shopify/Order/5003", "TEA", usd("9.00")),
    ]
    assert items[1].created_at == datetime(2024, 3, 2, tzinfo=UTC)
    (refund,) = normalize("shopify", "returns", BULK)
    assert refund.natural_key == "gid://shopify/Refund/3001" and refund.lines == ()


def test_bulk_refunds_as_child_lines() -> None:
    text = bulk(
        {"id": "gid://shopify/Order/1", "createdAt": "2024-03-01T00:00:00Z"},
        {
            "id": "gid://shopify/Refund/2",
            "createdAt": "2024-03-02T00:00:00Z",
            "totalRefundedSet": bag("3.00"),
            "__parentId": "gid://shopify/Order/1",
        },
        {
            "quantity": 1,
            "lineItem": {"id": "gid://shopify/LineItem/4", "sku": "S"},
            "__parentId": "gid://shopify/Refund/2",
        },
    )
    (refund,) = normalize("shopify", "returns", text)
    assert refund.order_id == "gid://shopify/Order/1" and refund.lines[0].sku == "S"


def test_a_page_given_as_text_is_a_page_not_jsonl() -> None:
    as_text = json.dumps(ORDERS_PAGE, indent=2)
    assert normalize("shopify", "orders", as_text) == normalize("shopify", "orders", ORDERS_PAGE)


@pytest.mark.parametrize(
    ("resource", "payload", "field"),
    [
        (
            "orders",
            {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": COST,
            },
            "$.errors",
        ),
        ("orders", {"data": ORDERS_PAGE["data"], "errors": [{"message": "partial"}]}, "$.errors"),
        (
            "order_items",
            graphql(
                {
                    "orders": {
                        "nodes": [
                            {
                                **ORDER_1,
                                "lineItems": {
                                    **ORDER_1["lineItems"],
                                    "pageInfo": {"hasNextPage": True},
                                },
                            }
                        ]
                    }
                }
            ),
            "$.data.orders.nodes[0].lineItems.pageInfo.hasNextPage",
        ),
        (
            "orders",
            graphql({"orders": {"nodes": [{**ORDER_1, "createdAt": None}]}}),
            "$.data.orders.nodes[0].createdAt",
        ),
        (
            "orders",
            graphql({"orders": {"nodes": [{**ORDER_1, "totalPriceSet": bag("12,00")}]}}),
            "$.data.orders.nodes[0].totalPriceSet.shopMoney.amount",
        ),
        (
            "orders",
            {"orders": [{**REST_PAGE["orders"][0], "created_at": "2024-03-01T09:15:00"}]},
            "$.orders[0].created_at",
        ),
        (
            "order_items",
            bulk(
                {
                    "id": "gid://shopify/LineItem/1",
                    "quantity": 1,
                    "__parentId": "gid://shopify/Order/404",
                }
            ),
            "line[1].__parentId",
        ),
        ("orders", "{not json\n", "line[1]"),
        ("orders", bulk({"id": "gid://shopify/Product/1", "title": "Mug"}), "line[1].id"),
    ],
)
def test_malformed_shopify_payloads(resource: str, payload: Any, field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("shopify", resource, payload)
    assert (info.value.platform, info.value.resource, info.value.field) == (
        "shopify",
        resource,
        field,
    )


# --- Shopify Payments -------------------------------------------------------------------


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currencyCode": currency}


BALANCE_PAGE = graphql(
    {
        "shopifyPaymentsAccount": {
            "balanceTransactions": {
                "edges": [
                    {
                        "node": {
                            "id": "gid://shopify/ShopifyPaymentsBalanceTransaction/1",
                            "type": "CHARGE",
                            "test": False,
                            "transactionDate": "2024-03-01T14:15:05Z",
                            "amount": money("59.40"),
                            "fee": money("2.02"),
                            "net": money("57.38"),
                            "associatedOrder": {"id": "gid://shopify/Order/5001"},
                            "associatedPayout": {
                                "id": "gid://shopify/ShopifyPaymentsPayout/77",
                                "status": "PAID",
                            },
                        }
                    },
                    {
                        "node": {
                            "id": "gid://shopify/ShopifyPaymentsBalanceTransaction/2",
                            "type": "REFUND",
                            "transactionDate": "2024-03-05T09:59:10Z",
                            "amount": money("-16.50"),
                            "fee": money("0.00"),
                            "net": money("-16.50"),
                            "associatedPayout": None,
                        }
                    },
                    {
                        "node": {
                            "id": "gid://shopify/ShopifyPaymentsBalanceTransaction/3",
                            "type": "PAYOUT",
                            "transactionDate": "2024-03-06T00:00:00Z",
                            "amount": money("-40.88"),
                            "fee": money("0.00"),
                            "net": money("-40.88"),
                        }
                    },
                    {
                        "node": {
                            "id": "gid://shopify/ShopifyPaymentsBalanceTransaction/4",
                            "type": "ADJUSTMENT",
                            "transactionDate": "2024-03-06T01:00:00Z",
                            "amount": money("-1.00"),
                            "net": money("-1.00"),
                        }
                    },
                ],
                "pageInfo": {"hasNextPage": False},
            }
        }
    }
)


def test_balance_transactions_split_into_amount_and_fee() -> None:
    charge, fee, refund, payout, adjustment = normalize("shopify", "transactions", BALANCE_PAGE)
    gid = "gid://shopify/ShopifyPaymentsBalanceTransaction/1"
    assert (charge.natural_key, charge.kind, charge.amount) == (gid, "charge", usd("59.40"))
    assert (fee.natural_key, fee.kind, fee.amount) == (f"{gid}:fee", "fee", usd("-2.02"))
    assert charge.amount.amount + fee.amount.amount == Decimal("57.38")  # Shopify's net
    assert fee.transaction_id == charge.transaction_id == gid
    assert charge.payout_id == "gid://shopify/ShopifyPaymentsPayout/77"
    assert charge.order_id == "gid://shopify/Order/5001" and charge.status == "PAID"
    assert (refund.kind, refund.amount) == ("refund", usd("-16.50"))  # zero fee: no component
    assert (payout.kind, adjustment.kind) == ("payout", "adjustment")


PAYOUTS_PAGE = graphql(
    {
        "shopifyPaymentsAccount": {
            "payouts": {
                "nodes": [
                    {
                        "id": "gid://shopify/ShopifyPaymentsPayout/77",
                        "issuedAt": "2024-03-06T00:00:00Z",
                        "status": "PAID",
                        "net": money("40.88"),
                        "legacyResourceId": "77",
                    },
                    {
                        "id": "gid://shopify/ShopifyPaymentsPayout/78",
                        "issuedAt": "2024-03-07T00:00:00Z",
                        "status": "SCHEDULED",
                        "net": money("4000", "JPY"),
                    },
                ]
            }
        }
    }
)


def test_payouts() -> None:
    paid, scheduled = normalize("shopify", "payouts", PAYOUTS_PAGE)
    assert paid.natural_key == "gid://shopify/ShopifyPaymentsPayout/77"
    assert paid.amount == usd("40.88") and paid.issued_at == datetime(2024, 3, 6, tzinfo=UTC)
    assert scheduled.status == "SCHEDULED"
    assert scheduled.amount == Money(amount=Decimal("4000"), currency="JPY")


# --- inventory --------------------------------------------------------------------------


def level(location: str | None, quantities: dict[str, int], **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": "gid://shopify/InventoryLevel/1?inventory_item_id=801",
        "updatedAt": "2024-03-06T12:00:00Z",
        "quantities": [{"name": k, "quantity": v} for k, v in quantities.items()],
        **extra,
    }
    if location:
        node["location"] = {"id": location}
    return node


def test_inventory_levels_by_item() -> None:
    page = graphql(
        {
            "inventoryItems": {
                "edges": [
                    {
                        "node": {
                            "id": "gid://shopify/InventoryItem/801",
                            "sku": "MUG-RED",
                            "inventoryLevels": {
                                "edges": [
                                    {
                                        "node": level(
                                            "gid://shopify/Location/1",
                                            {"available": 7, "on_hand": 9},
                                        )
                                    },
                                    {
                                        "node": level(
                                            "gid://shopify/Location/2",
                                            {"available": 0, "incoming": 12},
                                        )
                                    },
                                ],
                                "pageInfo": {"hasNextPage": False},
                            },
                        }
                    }
                ]
            }
        }
    )
    first, second = normalize("shopify", "inventory", page)
    assert first.natural_key == "gid://shopify/Location/1|gid://shopify/InventoryItem/801"
    assert (first.sku, first.available, first.total) == ("MUG-RED", 7, 9)
    assert (second.available, second.inbound, second.total) == (0, 12, None)


def test_inventory_levels_by_location_and_rest_agree() -> None:
    page = graphql(
        {
            "location": {
                "id": "gid://shopify/Location/1",
                "inventoryLevels": {
                    "nodes": [
                        level(
                            None,
                            {"available": 7},
                            item={"id": "gid://shopify/InventoryItem/801", "sku": "M"},
                        )
                    ]
                },
            }
        }
    )
    rest = {
        "inventory_levels": [
            {
                "inventory_item_id": 801,
                "location_id": 1,
                "available": 7,
                "updated_at": "2024-03-06T07:00:00-05:00",
            }
        ]
    }
    (graph,), (plain,) = (
        normalize("shopify", "inventory", page),
        normalize("shopify", "inventory", rest),
    )
    assert graph.natural_key == plain.natural_key
    assert graph.available == plain.available == 7 and graph.updated_at == plain.updated_at
