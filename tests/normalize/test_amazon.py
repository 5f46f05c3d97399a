"""Amazon: Orders, Finances and FBA Inventory pages, flat-file reports, spec examples."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import MalformedPayloadError
from shared.models import Money, Transaction
from shared.normalize import normalize
from tests.normalize.specs import assert_valid, examples

ORDERS_SPEC = "amazon-ordersV0.json"
FINANCES_SPEC = "amazon-financesV0.json"
INVENTORY_SPEC = "amazon-fbaInventory.json"


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def jpy(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="JPY")


# --- the specs' own examples -----------------------------------------------------------


@pytest.mark.parametrize("example", examples(ORDERS_SPEC, "/orders/v0/orders"))
def test_get_orders_spec_examples(example: dict[str, Any]) -> None:
    orders = normalize("amazon", "orders", example, account="A1")
    assert [o.order_id for o in orders] == [
        o["AmazonOrderId"] for o in example["payload"]["Orders"]
    ]
    for order, raw in zip(orders, example["payload"]["Orders"], strict=True):
        assert order.natural_key == raw["AmazonOrderId"] and order.created_at.tzinfo is UTC
        assert order.status == raw["OrderStatus"]
        if "OrderTotal" in raw:
            assert order.total == Money(
                amount=Decimal(raw["OrderTotal"]["Amount"]),
                currency=raw["OrderTotal"]["CurrencyCode"],
            )
        else:
            assert order.total is None  # Pending orders show no prices


@pytest.mark.parametrize("example", examples(ORDERS_SPEC, "/orders/v0/orders/{orderId}/orderItems"))
def test_get_order_items_spec_examples(example: dict[str, Any]) -> None:
    items = normalize("amazon", "order_items", example)
    body = example["payload"]
    assert len(items) == len(body["OrderItems"])
    for item, raw in zip(items, body["OrderItems"], strict=True):
        assert item.order_id == body["AmazonOrderId"] and item.item_id == raw["OrderItemId"]
        assert item.natural_key == f"{body['AmazonOrderId']}|{raw['SellerSKU']}"
        assert item.quantity == raw["QuantityOrdered"] and item.product_id == raw["ASIN"]
        assert item.line_price == Money(
            amount=Decimal(raw["ItemPrice"]["Amount"]), currency=raw["ItemPrice"]["CurrencyCode"]
        )


FINANCE_EXAMPLES = [
    example
    for path in (
        "/finances/v0/financialEvents",
        "/finances/v0/financialEventGroups/{eventGroupId}/financialEvents",
        "/finances/v0/orders/{orderId}/financialEvents",
    )
    for example in examples(FINANCES_SPEC, path)
]


@pytest.mark.parametrize("example", FINANCE_EXAMPLES)
def test_financial_events_spec_examples(example: dict[str, Any]) -> None:
    records = normalize("amazon", "transactions", example)
    events = example["payload"]["FinancialEvents"]
    assert {r.event_type for r in records} <= set(events)
    assert len({r.natural_key for r in records}) == len(records)
    for record in records:
        assert record.amount == usd("25.37")  # every example amount is 25.37 USD
        undated = record.event_type in ("ServiceFeeEventList",)
        assert (record.posted_at is None) == undated
    # breakdowns that restate other amounts are not components
    assert not [r for r in records if r.type in ("TotalAmount", "transactionValue")]


def test_financial_event_groups_spec_example() -> None:
    (example,) = examples(FINANCES_SPEC, "/finances/v0/financialEventGroups")
    (payout,) = normalize("amazon", "payouts", example)
    assert payout.payout_id == payout.natural_key == "1"
    assert payout.amount == usd("10.34") and payout.settled_amount == usd("39.43")
    assert payout.issued_at == datetime(2020, 2, 7, 14, 38, 42, 128000, tzinfo=UTC)
    assert payout.status == "TRANSFERED" and payout.bank_reference == "34550454504545"


# --- realistic pages (validated against the spec) --------------------------------------


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": amount}


def cur(amount: float | int, currency: str = "USD") -> dict[str, Any]:
    return {"CurrencyCode": currency, "CurrencyAmount": amount}


ORDERS_PAGE = {
    "payload": {
        "Orders": [
            {
                "AmazonOrderId": "114-3941689-8772232",
                "PurchaseDate": "2026-10-30T23:10:05Z",
                "LastUpdateDate": "2026-10-31T02:00:00Z",
                "OrderStatus": "Shipped",
                "FulfillmentChannel": "AFN",
                "OrderTotal": money("34.97"),
                "MarketplaceId": "ATVPDKIKX0DER",
                "SellerOrderId": "114-3941689-8772232",
            },
            {
                "AmazonOrderId": "250-5512345-1234567",
                "PurchaseDate": "2026-10-31T12:34:56Z",
                "LastUpdateDate": "2026-10-31T12:40:00Z",
                "OrderStatus": "Canceled",
                "MarketplaceId": "A1VC38T7YXB528",
            },
        ],
        "NextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4",
    }
}
ITEMS_PAGE = {
    "payload": {
        "AmazonOrderId": "250-5512345-1234567",
        "OrderItems": [
            {
                "ASIN": "B0JP000001",
                "SellerSKU": "JP-TEA-01",
                "OrderItemId": "40000000000001",
                "QuantityOrdered": 2,
                "QuantityShipped": 0,
                "ItemPrice": money("3000", "JPY"),
                "ItemTax": money("300", "JPY"),
                "ShippingPrice": money("500", "JPY"),
                "ShippingTax": money("50", "JPY"),
                "PromotionDiscount": money("200", "JPY"),
                "IsGift": "false",
            },
            {"ASIN": "B0JP000002", "OrderItemId": "40000000000002", "QuantityOrdered": 1},
        ],
    }
}


def test_realistic_pages_follow_the_spec() -> None:
    assert_valid(ORDERS_SPEC, "GetOrdersResponse", ORDERS_PAGE)
    assert_valid(ORDERS_SPEC, "GetOrderItemsResponse", ITEMS_PAGE)
    assert_valid(FINANCES_SPEC, "ListFinancialEventsResponse", events_page(SHIPMENT, REFUND))
    assert_valid(FINANCES_SPEC, "ListFinancialEventsResponse", events_page(ADJUSTMENT, FEE))
    assert_valid(INVENTORY_SPEC, "GetInventorySummariesResponse", INVENTORY_PAGE)


def test_orders_page() -> None:
    shipped, canceled = normalize("amazon", "orders", ORDERS_PAGE, account="A2")
    assert shipped.total == usd("34.97") and shipped.cancelled is False
    assert shipped.updated_at == datetime(2026, 10, 31, 2, tzinfo=UTC)
    assert shipped.seller_reference == "114-3941689-8772232"
    assert canceled.cancelled is True and canceled.total is None
    assert canceled.marketplace == "A1VC38T7YXB528"


def test_order_items_page_in_yen() -> None:
    priced, bare = normalize("amazon", "order_items", ITEMS_PAGE)
    assert priced.line_price == jpy("3000") and priced.tax == jpy("350")
    assert priced.shipping == jpy("500") and priced.discount == jpy("200")
    assert priced.natural_key == "250-5512345-1234567|JP-TEA-01"
    # no SellerSKU: the ASIN stands in; a Pending order's item has no prices
    assert bare.natural_key == "250-5512345-1234567|asin:B0JP000002"
    assert bare.line_price is None and bare.sku is None


# --- flat-file reports -----------------------------------------------------------------

ORDER_HEADER = (
    "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
    "fulfillment-channel\tsales-channel\tproduct-name\tsku\tasin\titem-status\tquantity\t"
    "currency\titem-price\titem-tax\tshipping-price\tshipping-tax\tgift-wrap-price\t"
    "gift-wrap-tax\titem-promotion-discount\tship-promotion-discount"
)


def report(*rows: str, header: str = ORDER_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


ORDER_REPORT = report(
    # a Japanese order, two items, printed in the marketplace's +09:00 offset, in yen
    "250-5512345-1234567\t\t2026-11-01T08:10:00+09:00\t2026-11-01T09:00:00+09:00\tShipped\t"
    "Amazon\tAmazon.co.jp\tGreen tea\tJP-TEA-01\tB0JP000001\tShipped\t2\tJPY\t3000\t300\t500\t"
    "50\t\t\t-200\t",
    "250-5512345-1234567\t\t2026-11-01T08:10:00+09:00\t2026-11-01T09:30:00+09:00\tShipped\t"
    "Amazon\tAmazon.co.jp\tTea cup\tJP-CUP-02\tB0JP000003\tShipped\t1\tJPY\t1200\t120\t0\t0\t"
    "\t\t\t",
    # a US order still Pending: no prices yet
    "114-0000001-0000001\tM-1\t2026-10-31T23:59:59+00:00\t2026-10-31T23:59:59+00:00\tPending\t"
    "Merchant\tAmazon.com\tMug\tUS-MUG-1\tB0US000001\tUnshipped\t1\t\t\t\t\t\t\t\t\t",
)


def test_order_report_groups_rows_into_orders_in_utc() -> None:
    jp, pending = normalize("amazon", "orders", ORDER_REPORT, account="A2")
    assert jp.natural_key == "250-5512345-1234567"
    assert jp.created_at == datetime(2026, 10, 31, 23, 10, tzinfo=UTC)  # +09:00 -> previous day
    assert jp.updated_at == datetime(2026, 11, 1, 0, 30, tzinfo=UTC)  # latest row wins
    assert jp.marketplace == "A1VC38T7YXB528"
    assert jp.subtotal == jpy("4200") and jp.tax == jpy("470") and jp.shipping == jpy("500")
    assert jp.discount == jpy("200") and jp.total == jpy("4970")
    assert pending.total is None and pending.seller_reference == "M-1"
    assert pending.marketplace == "ATVPDKIKX0DER" and pending.status == "Pending"


def test_order_report_items_share_keys_with_the_api() -> None:
    report_items = normalize("amazon", "order_items", ORDER_REPORT)
    api_items = normalize("amazon", "order_items", ITEMS_PAGE)
    assert report_items[0].natural_key == api_items[0].natural_key
    tea = report_items[0]
    assert tea.quantity == 2 and tea.line_price == jpy("3000") and tea.discount == jpy("200")
    assert tea.created_at == datetime(2026, 10, 31, 23, 10, tzinfo=UTC)
    assert [i.natural_key for i in report_items] == [
        "250-5512345-1234567|JP-TEA-01",
        "250-5512345-1234567|JP-CUP-02",
        "114-0000001-0000001|US-MUG-1",
    ]


RETURN_HEADER = (
    "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\t"
    "Currency code\tMerchant SKU\tReturn quantity\tReturn reason\tRefunded Amount"
)
RETURN_REPORT = report(
    "250-5512345-1234567\t2026-11-01T08:10:00+09:00\t2026-11-20T07:00:00+09:00\tClosed\t"
    "DkYxR8xQRRMA\tJPY\tJP-TEA-01\t1\tDEFECTIVE\t1650",
    "250-5512345-1234567\t2026-11-01T08:10:00+09:00\t2026-11-20T07:00:00+09:00\tClosed\t"
    "DkYxR8xQRRMA\tJPY\tJP-CUP-02\t1\tDEFECTIVE\t1320",
    "114-0000001-0000001\t2026-10-31T23:59:59+00:00\t2026-11-21T10:00:00+00:00\tApproved\t"
    "D9nT0pQ1RRMA\tUSD\tUS-MUG-1\t1\tNO_LONGER_NEEDED\t",
    header=RETURN_HEADER,
)


def test_returns_report_groups_rows_by_rma() -> None:
    closed, approved = normalize("amazon", "returns", RETURN_REPORT)
    assert closed.natural_key == closed.return_id == "DkYxR8xQRRMA"
    assert closed.created_at == datetime(2026, 11, 19, 22, tzinfo=UTC)
    assert closed.refund_amount == jpy("2970") and len(closed.lines) == 2
    assert closed.lines[0].sku == "JP-TEA-01" and closed.lines[0].amount == jpy("1650")
    assert approved.refund_amount is None and approved.status == "Approved"


@pytest.mark.parametrize(
    ("resource", "text", "field"),
    [
        ("orders", report(header="amazon-order-id\tsku"), "line[1].purchase-date"),
        ("orders", ORDER_REPORT.replace("2026-10-31T23:59:59+00:00", "31/10/2026", 1), "line[4]"),
        ("order_items", ORDER_REPORT.replace("\t2\tJPY", "\ttwo\tJPY"), "line[2].quantity"),
        ("orders", ORDER_REPORT.replace("\tJPY\t3000", "\t\t3000"), "line[2].currency"),
        ("returns", RETURN_REPORT.replace("DkYxR8xQRRMA", "", 1), "line[2].Amazon RMA ID"),
    ],
)
def test_malformed_reports_name_line_and_column(resource: str, text: str, field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("amazon", resource, text)
    assert info.value.field.startswith(field)


# --- financial events: components, keys, sums ------------------------------------------

SHIPMENT = {
    "AmazonOrderId": "114-3941689-8772232",
    "MarketplaceName": "Amazon.com",
    "PostedDate": "2026-10-31T06:12:09Z",
    "ShipmentItemList": [
        {
            "SellerSKU": "US-MUG-1",
            "OrderItemId": "20000000000001",
            "QuantityShipped": 1,
            "ItemChargeList": [
                {"ChargeType": "Principal", "ChargeAmount": cur(29.99)},
                {"ChargeType": "Tax", "ChargeAmount": cur(2.4)},
                {"ChargeType": "ShippingCharge", "ChargeAmount": cur(4.99)},
            ],
            "ItemFeeList": [
                {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": cur(-3.22)},
                {"FeeType": "Commission", "FeeAmount": cur(-5.25)},
            ],
            "ItemTaxWithheldList": [
                {
                    "TaxCollectionModel": "MarketplaceFacilitator",
                    "TaxesWithheld": [
                        {
                            "ChargeType": "MarketplaceFacilitatorTax-Principal",
                            "ChargeAmount": cur(-2.4),
                        }
                    ],
                }
            ],
            "PromotionList": [
                {
                    "PromotionType": "PromotionMetaDataDefinitionValue",
                    "PromotionId": "P1",
                    "PromotionAmount": cur(-2.0),
                }
            ],
        }
    ],
}
REFUND = {
    "AmazonOrderId": "114-3941689-8772232",
    "PostedDate": "2026-11-10T10:00:00Z",
    "ShipmentItemAdjustmentList": [
        {
            "SellerSKU": "US-MUG-1",
            "OrderAdjustmentItemId": "A1B2C3",
            "QuantityShipped": 1,
            "ItemChargeAdjustmentList": [{"ChargeType": "Principal", "ChargeAmount": cur(-29.99)}],
            "ItemFeeAdjustmentList": [
                {"FeeType": "Commission", "FeeAmount": cur(5.25)},
                {"FeeType": "RefundCommission", "FeeAmount": cur(-1.05)},
            ],
        }
    ],
}
ADJUSTMENT = {
    "AdjustmentType": "FBAInventoryReimbursement",
    "PostedDate": "2026-11-03T00:00:01Z",
    "AdjustmentAmount": cur(12.0),
    "AdjustmentItemList": [
        {
            "Quantity": "2",
            "PerUnitAmount": cur(6.0),
            "TotalAmount": cur(12.0),
            "SellerSKU": "US-MUG-1",
        }
    ],
}
FEE = {
    "FeeDescription": "Subscription Fee",
    "FeeList": [{"FeeType": "Subscription", "FeeAmount": cur(-4900, "JPY")}],
}
POSTAGE = {
    "AdjustmentType": "PostageBilling",
    "PostedDate": "2026-11-04T12:00:00Z",
    "AdjustmentAmount": cur(-6.57),
}


def events_page(*events: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        name = (
            "RefundEventList"
            if "ShipmentItemAdjustmentList" in event
            else "ShipmentEventList"
            if "ShipmentItemList" in event
            else "ServiceFeeEventList"
            if "FeeList" in event
            else "AdjustmentEventList"
        )
        lists[name].append(copy.deepcopy(event))
    payload: dict[str, Any] = {"FinancialEvents": dict(lists)}
    if token:
        payload["NextToken"] = token
    return {"payload": payload}


def by_event(records: list[Transaction]) -> dict[str, list[Transaction]]:
    grouped: dict[str, list[Transaction]] = defaultdict(list)
    for record in records:
        grouped[record.transaction_id or ""].append(record)
    return grouped


def total(records: list[Transaction]) -> Decimal:
    return sum((r.amount.amount for r in records), Decimal(0))


def test_one_transaction_per_money_component() -> None:
    records = normalize("amazon", "transactions", events_page(SHIPMENT, REFUND), account="A2")
    shipment, refund = by_event(records).values()
    assert [(r.kind, r.type, r.amount.amount) for r in shipment] == [
        ("charge", "Principal", Decimal("29.99")),
        ("charge", "Tax", Decimal("2.4")),
        ("charge", "ShippingCharge", Decimal("4.99")),
        ("fee", "FBAPerUnitFulfillmentFee", Decimal("-3.22")),
        ("fee", "Commission", Decimal("-5.25")),
        ("tax", "MarketplaceFacilitatorTax-Principal", Decimal("-2.4")),
        ("promotion", "PromotionMetaDataDefinitionValue", Decimal("-2.0")),
    ]
    assert total(shipment) == Decimal("24.51")  # what the event adds to the settlement
    assert {(r.order_id, r.sku, r.order_item_id) for r in shipment} == {
        ("114-3941689-8772232", "US-MUG-1", "20000000000001")
    }
    assert shipment[0].posted_at == datetime(2026, 10, 31, 6, 12, 9, tzinfo=UTC)
    assert [r.kind for r in refund] == ["refund", "fee", "fee"]  # negative adjustments
    assert total(refund) == Decimal("-25.79")
    assert shipment[3].natural_key.endswith(":ShipmentItemList.0.ItemFeeList.0.FeeAmount")


def test_adjustments_skip_their_breakdown_and_undated_fees_are_kept() -> None:
    adjustment, postage, fee = normalize(
        "amazon", "transactions", events_page(ADJUSTMENT, POSTAGE, FEE)
    )
    assert (adjustment.kind, adjustment.type, adjustment.amount) == (
        "adjustment",
        "FBAInventoryReimbursement",
        usd("12.0"),
    )
    assert postage.amount == usd("-6.57") and postage.type == "PostageBilling"  # negative
    assert fee.amount == jpy("-4900") and fee.posted_at is None  # Amazon gives no date
    assert fee.kind == "fee" and fee.description == "Subscription Fee"


def test_synthetic_keys_are_stable_across_pages_and_positions() -> None:
    page_one = normalize("amazon", "transactions", events_page(SHIPMENT, POSTAGE, token="t1"))
    # the same events again, in another page, order and key order, amounts as Decimals
    reordered = json.loads(json.dumps(POSTAGE), parse_float=Decimal)
    reordered = dict(reversed(list(reordered.items())))
    page_two = normalize("amazon", "transactions", events_page(ADJUSTMENT, reordered, SHIPMENT))
    keys_one = {r.natural_key for r in page_one}
    keys_two = {r.natural_key for r in page_two}
    assert keys_one <= keys_two and len(keys_two - keys_one) == 1  # only ADJUSTMENT is new
    again = {r.natural_key: r for r in page_two}
    assert all(again[r.natural_key] == r for r in page_one)


@settings(max_examples=30, deadline=None)
@given(st.permutations([SHIPMENT, REFUND, ADJUSTMENT, POSTAGE, FEE, POSTAGE]))
def test_keys_do_not_depend_on_event_order(events: list[dict[str, Any]]) -> None:
    reference = normalize(
        "amazon", "transactions", events_page(SHIPMENT, REFUND, ADJUSTMENT, POSTAGE, FEE, POSTAGE)
    )
    shuffled = normalize("amazon", "transactions", events_page(*events))
    assert sorted(r.natural_key for r in shuffled) == sorted(r.natural_key for r in reference)


def test_different_content_gives_different_keys() -> None:
    changed = copy.deepcopy(POSTAGE)
    changed["AdjustmentAmount"]["CurrencyAmount"] = -6.58
    later = {**POSTAGE, "PostedDate": "2026-11-04T12:00:01Z"}
    keys = [
        normalize("amazon", "transactions", events_page(e))[0].natural_key
        for e in (POSTAGE, changed, later)
    ]
    assert len(set(keys)) == 3
    # the same content in another event list is another event
    as_service_fee = {"payload": {"FinancialEvents": {"RetrochargeEventList": [POSTAGE]}}}
    assert normalize("amazon", "transactions", as_service_fee)[0].natural_key not in keys


def test_duplicates_within_a_page_are_returned_with_equal_keys() -> None:
    records = normalize("amazon", "transactions", events_page(POSTAGE, POSTAGE))
    assert len(records) == 2 and records[0] == records[1]


def test_undated_events_are_told_apart_by_their_group() -> None:
    """A subscription fee has no date and no id: this month's and last month's are the same
    bytes. The group (``scope``) of a listFinancialEventsByGroupId page separates them."""
    page = events_page(FEE)
    (october,) = normalize("amazon", "transactions", page, scope="GROUP-OCT")
    (november,) = normalize("amazon", "transactions", page, scope="GROUP-NOV")
    assert october.natural_key != november.natural_key
    assert (october.payout_id, november.payout_id) == ("GROUP-OCT", "GROUP-NOV")
    (again,) = normalize("amazon", "transactions", page, scope="GROUP-OCT")
    assert again == october
    # dated events keep one key whichever path (by group, by date, by order) fetched them
    (by_group,) = normalize("amazon", "transactions", events_page(POSTAGE), scope="GROUP-OCT")
    (by_date,) = normalize("amazon", "transactions", events_page(POSTAGE))
    assert by_group.natural_key == by_date.natural_key
    assert (by_group.payout_id, by_date.payout_id) == ("GROUP-OCT", None)


def test_empty_finance_pages_are_empty() -> None:
    assert normalize("amazon", "transactions", {"payload": {"FinancialEvents": {}}}) == []
    assert normalize("amazon", "transactions", {"payload": {"NextToken": "x"}}) == []
    assert normalize("amazon", "payouts", {"payload": {}}) == []


@pytest.mark.parametrize(
    ("page", "field"),
    [
        (
            events_page({k: v for k, v in SHIPMENT.items() if k != "PostedDate"}),
            "$.payload.FinancialEvents.ShipmentEventList[0].PostedDate",
        ),
        (
            events_page({**POSTAGE, "AdjustmentAmount": {"CurrencyCode": "USD"}}),
            "$.payload.FinancialEvents.AdjustmentEventList[0].AdjustmentAmount.CurrencyAmount",
        ),
        (
            events_page({**POSTAGE, "AdjustmentAmount": cur("six")}),
            "$.payload.FinancialEvents.AdjustmentEventList[0].AdjustmentAmount.CurrencyAmount",
        ),
        (
            events_page({**POSTAGE, "PostedDate": "2026-11-04 12:00"}),
            "$.payload.FinancialEvents.AdjustmentEventList[0].PostedDate",
        ),
        ({"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}, "$.errors"),
    ],
)
def test_malformed_finance_pages(page: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("amazon", "transactions", page)
    assert (info.value.platform, info.value.resource, info.value.field) == (
        "amazon",
        "transactions",
        field,
    )


@pytest.mark.parametrize(
    ("resource", "page", "field"),
    [
        (
            "orders",
            {"payload": {"Orders": [{"PurchaseDate": "2024-01-01T00:00:00Z"}]}},
            "$.payload.Orders[0].AmazonOrderId",
        ),
        ("orders", {"payload": {}}, "$.payload.Orders"),
        ("orders", {"Orders": []}, "$.payload"),
        ("order_items", {"payload": {"OrderItems": []}}, "$.payload.AmazonOrderId"),
        (
            "payouts",
            {"payload": {"FinancialEventGroupList": [{"ProcessingStatus": "Open"}]}},
            "$.payload.FinancialEventGroupList[0].FinancialEventGroupId",
        ),
    ],
)
def test_malformed_pages_name_the_field(resource: str, page: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("amazon", resource, page)
    assert info.value.field == field


# --- inventory -------------------------------------------------------------------------

INVENTORY_PAGE = {
    "pagination": {"nextToken": "seed"},
    "payload": {
        "granularity": {"granularityType": "Marketplace", "granularityId": "ATVPDKIKX0DER"},
        "inventorySummaries": [
            {
                "asin": "B0US000001",
                "fnSku": "X0000001",
                "sellerSku": "US-MUG-1",
                "condition": "NewItem",
                "inventoryDetails": {
                    "fulfillableQuantity": 40,
                    "inboundWorkingQuantity": 0,
                    "inboundShippedQuantity": 24,
                    "inboundReceivingQuantity": 1,
                    "reservedQuantity": {"totalReservedQuantity": 3},
                    "unfulfillableQuantity": {"totalUnfulfillableQuantity": 2},
                },
                "lastUpdatedTime": "2026-10-31T05:00:00Z",
                "productName": "Mug",
                "totalQuantity": 70,
            },
            {"asin": "B0US000002", "sellerSku": "US-MUG-2", "lastUpdatedTime": ""},
        ],
    },
}


def test_inventory_summaries() -> None:
    full, bare = normalize("amazon", "inventory", INVENTORY_PAGE, account="A2")
    assert full.natural_key == "ATVPDKIKX0DER|US-MUG-1" and full.location_id == "ATVPDKIKX0DER"
    assert (full.available, full.total, full.reserved, full.inbound) == (40, 70, 3, 25)
    assert full.updated_at == datetime(2026, 10, 31, 5, tzinfo=UTC)
    assert (bare.available, bare.total, bare.updated_at) == (None, None, None)
