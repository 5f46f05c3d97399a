"""The paged returns chain (index pages, then the refunds of the orders that have any),
step by step, as pure functions; the crawls in ``test_crawl`` run it on the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from shared.errors import MalformedPayloadError
from shared.normalize import normalize
from shared.platforms.base import PageRequest, Window
from shared.platforms.shopify import bulk, pagination, refunds
from shared.platforms.shopify.queries import (
    NESTED_PAGE,
    details_fit,
    details_max_nested,
    details_node_cost,
    details_text,
    query,
)

W = Window(start=datetime(2026, 9, 1, tzinfo=UTC), end=datetime(2026, 9, 8, tzinfo=UTC))


def first(nested: int | None = None) -> PageRequest:
    return refunds.first(pagination.graphql_first("returns", W), nested)


def order(n: int, refunded: int = 0) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{n}",
        "refunds": [{"id": f"gid://shopify/Refund/{n}{i}"} for i in range(refunded)],
    }


def index(has_next: bool, cursor: str | None, orders: list[dict]) -> dict[str, Any]:
    edges = [{"cursor": f"c{o['id']}", "node": o} for o in orders]
    return {
        "data": {
            "orders": {"edges": edges, "pageInfo": {"hasNextPage": has_next, "endCursor": cursor}}
        }
    }


def refund(rid: str, more_lines: bool = False) -> dict[str, Any]:
    money = {"shopMoney": {"amount": "5.00", "currencyCode": "USD"}}
    line = {"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/9", "sku": "S"}}
    return {
        "id": rid,
        "createdAt": "2026-09-02T10:00:00Z",
        "note": None,
        "totalRefundedSet": money,
        "refundLineItems": {
            "edges": [{"cursor": "l1", "node": {**line, "subtotalSet": money}}],
            "pageInfo": {"hasNextPage": more_lines, "endCursor": "l1"},
        },
    }


def details(*orders: dict[str, Any] | None) -> dict[str, Any]:
    return {"data": {"nodes": list(orders)}}


def test_the_index_asks_two_points_an_order() -> None:
    r = first()
    assert r.cost == query("returns").cost(250) == 2 + 250 * 2
    assert "refunds { id }" in r.body["query"] and "refundLineItems" not in r.body["query"]
    assert r.state["details_nested"] == NESTED_PAGE
    assert first(nested=2).state["details_nested"] == 2


def test_details_query_is_valid_graphql_and_costs_one_refunded_order_a_node() -> None:
    (op,) = parse(details_text()).definitions
    assert isinstance(op, OperationDefinitionNode) and op.operation.value == "query"
    assert "refundLineItems(first: 5)" in details_text()
    # 1 (the order) + 1 (a refund) + 2 (totalRefundedSet) + 2 + 5 x (1 + 1 + 2) (lines)
    assert details_node_cost() == 26
    assert details_fit() == 1000 // 26
    assert (
        details_node_cost(details_max_nested())
        <= 1000
        < details_node_cost(details_max_nested() + 1)
    )


def test_an_index_page_with_refunds_leads_to_their_details_then_back_to_the_index() -> None:
    r = first()
    body = index(True, "z1", [order(1), order(2, 1), order(3), order(4, 2)])
    payload, nxt = refunds.after_index(r, body)
    assert payload is None  # the index holds no records
    assert nxt is not None and refunds.is_details(nxt)
    assert nxt.body["variables"]["ids"] == ["gid://shopify/Order/2", "gid://shopify/Order/4"]
    assert nxt.cost == 2 * details_node_cost() and nxt.page_number == 1
    assert nxt.body["query"] == details_text()
    back = refunds.after_details(nxt)
    assert not refunds.is_details(back) and back.body["variables"]["after"] == "z1"
    assert back.cost == r.cost and back.page_number == 2
    assert PageRequest.model_validate_json(nxt.model_dump_json()) == nxt  # plain JSON


def test_an_index_page_without_refunds_goes_on_and_the_empty_last_one_is_stored() -> None:
    r = first()
    payload, nxt = refunds.after_index(r, index(False, "z1", [order(1), order(2)]))
    assert payload is None and nxt is not None and nxt.state["confirm"] is True
    empty = index(False, None, [])
    payload, end = refunds.after_index(nxt, empty)
    assert payload == empty and end is None
    assert normalize("shopify", "returns", payload, account="shop") == []


def test_more_refunded_orders_than_fit_are_asked_in_turn() -> None:
    fit = details_fit()
    orders = [order(n, 1) for n in range(fit + 3)]
    _, d1 = refunds.after_index(first(), index(True, "z1", orders))
    assert d1 is not None and len(d1.body["variables"]["ids"]) == fit
    d2 = refunds.after_details(d1)
    assert refunds.is_details(d2) and len(d2.body["variables"]["ids"]) == 3
    assert d2.body["variables"]["ids"][0] == orders[fit]["id"] and d2.cost == 3 * 26
    assert refunds.after_details(d2).body["variables"]["after"] == "z1"


def test_truncated_refund_lines_are_asked_again_wider_then_refused() -> None:
    cut = details({"id": "gid://shopify/Order/2", "refunds": [refund("R1", more_lines=True)]})
    assert "R1" in (refunds.truncated(cut) or "")
    assert refunds.truncated(details({"id": "O", "refunds": [refund("R2")]}, None)) is None
    _, d = refunds.after_index(first(), index(True, "z1", [order(n, 1) for n in range(30)]))
    assert d is not None
    sizes, wide = [], d
    while (wider := refunds.widened(wide)) is not None:
        assert wider.page_number == d.page_number and wider.cost <= 1000
        assert f"refundLineItems(first: {wider.state['nested']})" in wider.body["query"]
        asked = wider.body["variables"]["ids"]
        assert asked == d.body["variables"]["ids"][: len(asked)]  # the same orders first
        sizes.append(wider.state["nested"])
        wide = wider
    assert sizes == [10, 20, 40, 80, 160, details_max_nested()]
    rest = refunds.after_details(wide)  # the orders that no longer fitted follow
    assert refunds.is_details(rest) and rest.state["nested"] == NESTED_PAGE
    assert rest.body["variables"]["ids"][0] == d.state["ids"][1]


def test_details_pages_normalize_to_the_refunds_and_skip_null_nodes() -> None:
    body = details(
        {"id": "gid://shopify/Order/2", "createdAt": "2026-09-02T00:00:00Z", "refunds": []},
        None,  # an order deleted since the index page
        {
            "id": "gid://shopify/Order/4",
            "createdAt": "2026-09-02T00:00:00Z",
            "refunds": [refund("gid://shopify/Refund/41"), refund("gid://shopify/Refund/42")],
        },
    )
    got = normalize("shopify", "returns", body, account="shop")
    assert [r.natural_key for r in got] == ["gid://shopify/Refund/41", "gid://shopify/Refund/42"]
    assert all(r.order_id == "gid://shopify/Order/4" and len(r.lines) == 1 for r in got)


def download() -> PageRequest:
    """A returns block's bulk chain at its download step."""
    create = refunds.first(bulk.bulk_first("returns", W), nested=3)
    return create.model_copy(
        update={"step": "bulk_download", "route": "bulk", "cost": 1, "page_number": 3}
    )


def line_item(n: int, order: int) -> dict[str, Any]:
    return {"id": f"gid://shopify/LineItem/{n}", "__parentId": f"gid://shopify/Order/{order}"}


def test_a_bulk_file_with_refunds_leads_to_their_details_and_the_last_ends_the_chain() -> None:
    lines = [
        {"id": "gid://shopify/Order/1", "refunds": []},
        line_item(10, 1),
        {"id": "gid://shopify/Order/2", "refunds": [{"id": "gid://shopify/Refund/21"}]},
        *(line_item(20 + i, 2) for i in range(3)),
        {"id": "gid://shopify/Order/3"},
        {"id": "gid://shopify/Refund/31", "__parentId": "gid://shopify/Order/3"},
        line_item(30, 3),
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    payload, d = refunds.after_bulk(download(), text)
    assert payload is None and d is not None and refunds.is_details(d)
    assert (d.route, d.step, d.method, d.page_number) == ("graphql", "page", "POST", 4)
    # fewest line items first; refund lines asked: the most line items among them
    assert d.body["variables"]["ids"] == ["gid://shopify/Order/3", "gid://shopify/Order/2"]
    assert d.state["nested"] == 3 and d.cost == 2 * details_node_cost(3)
    assert d.body["query"] == details_text(3)
    assert d.path == pagination.graphql_path() and d.window == W
    assert refunds.after_details(d) is None


def test_hinted_details_ask_each_batch_for_the_lines_its_orders_can_have() -> None:
    lines = []
    for n in range(120):  # 110 orders of one line item, then 10 of four, all refunded
        lines.append({"id": f"gid://shopify/Order/{n}", "refunds": [{"id": f"R{n}"}]})
        lines += [line_item(1000 * n + i, n) for i in range(1 if n < 110 else 4)]
    text = "\n".join(json.dumps(line) for line in lines)
    _, d1 = refunds.after_bulk(download(), text)
    assert d1 is not None and d1.state["nested"] == 1
    assert len(d1.body["variables"]["ids"]) == 1000 // details_node_cost(1) == 100
    d2 = refunds.after_details(d1)
    assert d2 is not None and d2.state["nested"] == 4  # 10 of one line, then the wide ones
    assert len(d2.body["variables"]["ids"]) == 20 and d2.cost == 20 * details_node_cost(4)
    assert refunds.after_details(d2) is None
    # a refund with more lines than its order shows line items is still widened
    wider = refunds.widened(d2)
    assert wider is not None and wider.state["nested"] == 8
    assert (
        wider.body["variables"]["ids"]
        == d2.body["variables"]["ids"][: len(wider.body["variables"]["ids"])]
    )


def test_a_bulk_file_without_refunds_is_the_blocks_page() -> None:
    text = json.dumps({"id": "gid://shopify/Order/1", "refunds": []}) + "\n"
    assert refunds.after_bulk(download(), text) == (text, None)
    assert refunds.after_bulk(download(), "") == ("", None)
    with pytest.raises(MalformedPayloadError):
        refunds.after_bulk(download(), '{"id": "gid://shopify/Order/1"}\nnot json\n')


def test_details_costs_are_what_the_chain_asks() -> None:
    hints = [1] * 110 + [4] * 10
    assert refunds.details_costs(hints) == [100 * 10, 20 * 22]
    assert refunds.details_costs([]) == [] and refunds.details_costs(None, 0) == []
    assert refunds.details_costs(None, 40) == [38 * 26, 2 * 26]
