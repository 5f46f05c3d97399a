"""getOrderItems items carry their order's PurchaseDate.

getOrderItems answers have no date, so an item reached through the items chain of a
getOrders page gets its driver order's PurchaseDate (the page's ``scope``) as its
``created_at``: the integrity checks judge dated items only (the orphan check, the
window check). The report (bulk path) dates its item rows by purchase-date: the two
paths agree on every item's date. A chain without dates (built from bare order ids, or
before chains carried them) still lists undated items.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import MalformedPayloadError
from shared.models import Order, OrderItem
from shared.normalize import normalize
from shared.platforms.amazon import pagination
from shared.platforms.base import PageRequest
from tests.platforms.amazon.support import AmazonEnv, records

DOWNLOADS = ("bulk_download",)
PAGE = {"payload": {"AmazonOrderId": "1-1-1", "OrderItems": []}}


def item_page(order_id: str, sku: str) -> dict:
    item = {"ASIN": "B000000001", "SellerSKU": sku, "OrderItemId": "9", "QuantityOrdered": 1}
    return {"payload": {"AmazonOrderId": order_id, "OrderItems": [item]}}


@pytest.fixture(scope="module")
async def crawled() -> dict[str, list]:
    env = AmazonEnv()
    connector = env.connector()
    window = env.history_window()
    try:
        orders = await env.drive(
            connector, connector.first_request("orders", window, now=env.now())
        )
        items = []
        for page in orders:
            items += await env.drive(connector, connector.dependent_request(page))
        report = await env.drive(
            connector, connector.first_request("order_items", window, bulk=True, now=env.now())
        )
    finally:
        await connector.aclose()
    env.assert_still_quiet()
    return {
        "orders": records(orders, "orders", env.account),
        "items": records(items, "order_items", env.account),
        "report_items": records(report, "order_items", env.account, DOWNLOADS),
        "item_requests": [r.request for r in items],
    }


async def test_every_item_of_the_items_chain_has_its_orders_purchase_date(crawled) -> None:
    created = {o.order_id: o.created_at for o in crawled["orders"] if isinstance(o, Order)}
    items = [i for i in crawled["items"] if isinstance(i, OrderItem)]
    assert items and created, "the tiny world has orders with items"
    assert {i.order_id for i in items} <= set(created)
    wrong = [i.natural_key for i in items if i.created_at != created[i.order_id]]
    assert not wrong, f"{len(wrong)} items not dated by their order, e.g. {wrong[:3]}"
    # more than one order's date: a chain over a page's orders dates each by its own
    assert len({i.created_at for i in items}) > 1


async def test_paged_and_report_items_have_the_same_dates(crawled) -> None:
    paged = {i.natural_key: i.created_at for i in crawled["items"]}
    report = {i.natural_key: i.created_at for i in crawled["report_items"]}
    assert report and set(report) == set(paged)
    assert all(report[k] is not None for k in report)
    assert {k: v for k, v in paged.items() if report[k] != v} == {}


async def test_a_multi_page_order_keeps_its_date_on_every_page(crawled) -> None:
    """Each request names its own order's date; the pages after a NextToken too."""
    requests = crawled["item_requests"]
    assert any("NextToken" in r.params for r in requests), "the tiny world has a long order"
    by_order: dict[str, set[str]] = {}
    for request in requests:
        by_order.setdefault(request.state["order_id"], set()).add(request.state["scope"])
    assert by_order and all(len(scopes) == 1 and "" not in scopes for scopes in by_order.values())


def test_the_chain_carries_each_orders_date_through_tokens_and_json() -> None:
    created = {"1-1-1": "2024-03-01T10:00:00+00:00", "2-2-2": "2024-03-02T11:30:00.250000+00:00"}
    first = pagination.order_items_request(["1-1-1", "2-2-2"], created)
    assert first is not None and first.state["scope"] == created["1-1-1"]
    paged = pagination.next_request(first, {"payload": {"NextToken": "t", "OrderItems": []}})
    assert paged is not None and paged.state["scope"] == created["1-1-1"]
    revived = PageRequest.model_validate_json(paged.model_dump_json())  # kept in a history
    second = pagination.next_request(revived, {"payload": {"OrderItems": []}})
    assert second is not None and second.state["order_id"] == "2-2-2"
    assert second.state["scope"] == created["2-2-2"]
    assert pagination.next_request(second, {"payload": {"OrderItems": []}}) is None
    [item] = normalize(
        "amazon", "order_items", item_page("2-2-2", "S"), scope=second.state["scope"]
    )
    assert item.created_at == datetime(2024, 3, 2, 11, 30, 0, 250000, tzinfo=UTC)


def test_a_chain_without_dates_lists_undated_items() -> None:
    first = pagination.order_items_request(["1-1-1", "2-2-2"])
    assert first is not None and "scope" not in first.state
    second = pagination.next_request(first, {"payload": {"OrderItems": []}})
    assert second is not None and "scope" not in second.state
    some = pagination.order_items_request(["1-1-1", "2-2-2"], {"2-2-2": "2024-03-02T00:00:00Z"})
    assert some is not None and some.state["scope"] == ""
    then = pagination.next_request(some, {"payload": {"OrderItems": []}})
    assert then is not None and then.state["scope"] == "2024-03-02T00:00:00Z"
    [item] = normalize("amazon", "order_items", item_page("1-1-1", "S"), scope="")
    assert item.created_at is None


def test_a_scope_that_is_no_date_is_a_malformed_page() -> None:
    with pytest.raises(MalformedPayloadError, match="scope"):
        normalize("amazon", "order_items", item_page("1-1-1", "S"), scope="group-7")


async def test_a_getorders_page_without_purchase_dates_is_malformed() -> None:
    env = AmazonEnv()
    connector = env.connector()
    try:
        window = env.history_window()
        page = await connector.fetch(connector.first_request("orders", window, now=env.now()))
        orders = page.payload["payload"]["Orders"]
        assert orders, "the tiny world's first orders page holds orders"
        chain = connector.dependent_request(page)
        assert chain is not None and chain.state["scope"]
        del orders[0]["PurchaseDate"]
        with pytest.raises(MalformedPayloadError, match="PurchaseDate"):
            connector.dependent_request(page)
    finally:
        await connector.aclose()
