"""GraphQL query texts and their requested cost by Shopify's static rules.

The cost is checked two ways: by hand for small trees (Shopify's documented figures),
and by walking the *rendered text* with graphql-core, independently of the tree the
module computes from, so text and ``PageRequest.cost`` cannot drift apart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from graphql import FieldNode, InlineFragmentNode, OperationDefinitionNode, parse
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ConfigurationError
from shared.platforms.base import Window
from shared.platforms.shopify.bulk import bulk_query
from shared.platforms.shopify.queries import (
    BULK_CURRENT,
    BULK_NODE,
    BULK_RUN,
    MAX_QUERY_COST,
    QUERIES,
    Query,
    Sel,
    bag,
    conn,
    f,
    money,
    query,
    scalars,
    window_filter,
)

CONNECTION_PARTS = {"edges", "node", "nodes", "pageInfo", "cursor"}


def text_cost(selections, variables: dict[str, int] | None = None) -> int:
    """Shopify's rules over a parsed selection set: scalar 0, object 1 + children,
    a field with ``first`` = 2 + first x (1 + node children)."""
    total = 0
    for sel in selections:
        if isinstance(sel, InlineFragmentNode):
            total += text_cost(sel.selection_set.selections)
            continue
        assert isinstance(sel, FieldNode)
        children = sel.selection_set.selections if sel.selection_set else []
        first = next((a for a in sel.arguments or () if a.name.value == "first"), None)
        if first is not None:
            node_sels = _node_selections(children)
            total += 2 + int(first.value.value) * (1 + text_cost(node_sels))
        elif children:
            total += 1 + text_cost(children)
    return total


def _node_selections(children):
    out = []
    for sel in children:
        if sel.name.value == "edges":
            for inner in sel.selection_set.selections:
                if inner.name.value == "node":
                    out.extend(inner.selection_set.selections)
        elif sel.name.value == "nodes":
            out.extend(sel.selection_set.selections)
        elif sel.name.value not in CONNECTION_PARTS:
            raise AssertionError(f"unexpected field {sel.name.value} beside edges")
    return out


def operation(text: str) -> OperationDefinitionNode:
    (op,) = parse(text).definitions
    assert isinstance(op, OperationDefinitionNode)
    return op


@pytest.mark.parametrize(
    ("sel", "cost"),
    [
        (Sel("id"), 0),
        (f("shop", *scalars("id", "name")), 1),
        (money("net"), 1),
        (bag("totalPriceSet"), 2),
        (conn("products", 250, Sel("title")), 252),  # Shopify's documented 252
        (conn("products", 10, Sel("id"), conn("variants", 5, Sel("id"))), 2 + 10 * (1 + 7)),
        (conn("orders", 3, bag("totalPriceSet")), 2 + 3 * 3),
        (conn("orders", 0, Sel("id")), 2),
    ],
)
def test_cost_rules(sel: Sel, cost: int) -> None:
    assert sel.cost() == cost


@pytest.mark.parametrize("resource", sorted(QUERIES))
def test_page_query_is_valid_graphql_and_its_cost_is_the_text_cost(resource: str) -> None:
    q = query(resource)
    first = q.page_size()
    op = operation(q.text(first))
    assert op.operation.value == "query"
    assert {v.variable.name.value for v in op.variable_definitions} == {"after", "query"}
    assert text_cost(op.selection_set.selections) == q.cost(first)
    assert q.cost(first) <= MAX_QUERY_COST < q.cost(first + 1) or first == 250


@pytest.mark.parametrize("resource", sorted(QUERIES))
def test_page_size_is_the_largest_within_a_budget(resource: str) -> None:
    q = query(resource)
    for budget in (200, 500, 1000):
        size = q.page_size(budget)
        assert q.cost(size) <= budget
        assert size == 250 or q.cost(size + 1) > budget


def test_a_budget_below_one_node_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        query("order_items").page_size(50)


def test_orders_page_selects_what_the_normalizer_reads() -> None:
    text = query("orders").text(90)
    for name in ("createdAt", "updatedAt", "displayFinancialStatus", "totalPriceSet", "shopMoney"):
        assert name in text
    assert "orders(first: 90, after: $after, query: $query" in text


def test_unknown_resource() -> None:
    with pytest.raises(ConfigurationError, match="bank_transactions"):
        query("bank_transactions")


def test_window_filter_is_half_open_utc() -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    end = datetime(2026, 9, 2, tzinfo=UTC)
    assert window_filter("created_at", start, end) == (
        "created_at:>='2026-09-01T00:00:00Z' created_at:<'2026-09-02T00:00:00Z'"
    )
    w = Window(start=start, end=end)
    assert query("orders").search(w, by_update=True).startswith("updated_at:>=")
    assert query("transactions").search(w).startswith("processed_at:>=")
    with pytest.raises(ConfigurationError):
        query("payouts").search(w, by_update=True)
    with pytest.raises(ConfigurationError):
        window_filter("created_at", end, start)


def test_bulk_query_has_no_paging_and_is_shared_by_the_order_resources() -> None:
    w = Window(start=datetime(2026, 9, 1, tzinfo=UTC), end=datetime(2026, 10, 1, tzinfo=UTC))
    text = bulk_query("orders", w)
    assert bulk_query("order_items", w) == bulk_query("returns", w) == text
    op = operation(text)
    assert "first" not in text and "pageInfo" not in text and "cursor" not in text
    (orders,) = op.selection_set.selections
    assert orders.name.value == "orders"
    assert orders.arguments[0].value.value == window_filter("created_at", w.start, w.end)
    for name in ("lineItems", "refunds", "totalRefundedSet"):
        assert name in text
    assert "refundLineItems" not in text  # Shopify: no connection inside a list field
    with pytest.raises(ConfigurationError):
        bulk_query("payouts", w)


@pytest.mark.parametrize("text", [BULK_RUN, BULK_NODE, BULK_CURRENT])
def test_bulk_control_texts_parse(text: str) -> None:
    assert operation(text).selection_set.selections


def test_query_cost_counts_objects_above_the_connection() -> None:
    q = Query("x", Sel("payouts", (Sel("id"),), connection=True), root=("shopifyPaymentsAccount",))
    assert q.cost(10) == 1 + 2 + 10
    assert text_cost(operation(q.text(10)).selection_set.selections) == 13


NAMES = st.sampled_from(["a", "b", "c", "d", "e"])


def trees(depth: int):
    if depth == 0:
        return NAMES.map(Sel)
    child = trees(depth - 1)
    kids = st.lists(child, min_size=1, max_size=3).map(tuple)
    obj = st.builds(lambda n, c: Sel(n, c), NAMES, kids)
    nested = st.builds(
        lambda n, size, c: Sel(n, c, first=size, connection=True),
        NAMES,
        st.integers(0, 250),
        kids,
    )
    return st.one_of(NAMES.map(Sel), obj, nested)


@settings(max_examples=150, deadline=None)
@given(
    top=st.lists(trees(2), min_size=1, max_size=4).map(tuple),
    first=st.integers(1, 250),
    root=st.lists(NAMES, max_size=2).map(tuple),
)
def test_any_tree_costs_what_its_rendered_text_costs(top, first, root) -> None:
    q = Query("x", Sel("items", top, connection=True), root=root)
    assert text_cost(operation(q.text(first)).selection_set.selections) == q.cost(first)
