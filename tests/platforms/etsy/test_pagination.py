"""Etsy chains, pure: window bounds, the 31-day ledger split, offsets, fan-out, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ConfigurationError
from shared.platforms.base import PageRequest, Window
from shared.platforms.etsy.normalize import created_bounds
from shared.platforms.etsy.pagination import (
    EARLIEST,
    LEDGER_WINDOW_S,
    bounds,
    first_request,
    misordered,
    missing_adjustments,
    next_request,
    reported_count,
    short_page,
)

SHOP = "12345"


def window(start: datetime, end: datetime) -> Window:
    return Window(start=start, end=end)


def page(count: int, results: list[dict] | None = None) -> dict:
    return {"count": count, "results": results or []}


def walk(request: PageRequest, count: int = 0) -> list[PageRequest]:
    chain = [request]
    while (request := next_request(request, page(count))) is not None:
        chain.append(request)
        assert len(chain) < 10_000
    return chain


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 2, tzinfo=UTC),
            (1767225600, 1767311999),
        ),
        (
            datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC),
            datetime(2026, 1, 2, 0, 0, 0, 1, tzinfo=UTC),
            (1767225601, 1767312000),
        ),
        (
            datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))),
            datetime(2026, 1, 2, tzinfo=UTC),
            (1767225600, 1767311999),
        ),
        (
            datetime(1990, 1, 1, tzinfo=UTC),
            datetime(2000, 1, 2, tzinfo=UTC),
            (EARLIEST, EARLIEST + 86_399),
        ),
    ],
)
def test_bounds_are_inclusive_seconds_of_the_half_open_window(start, end, expected) -> None:
    assert bounds(window(start, end)) == expected


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "empty window"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "empty window"),
        (datetime(1990, 1, 1, tzinfo=UTC), datetime(1999, 1, 1, tzinfo=UTC), "before 2000"),
    ],
)
def test_bad_windows_are_refused(start, end, problem) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        first_request(SHOP, "orders", window(start, end))


@pytest.mark.parametrize(
    ("resource", "kwargs", "problem"),
    [
        ("refunds", {}, "no resource"),
        ("orders", {"bulk": True}, "no bulk path"),
        ("orders", {"limit": 101}, "page limit"),
        ("orders", {"limit": 0}, "page limit"),
    ],
)
def test_bad_requests_are_refused(resource, kwargs, problem) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        first_request(SHOP, resource, None, **kwargs)


def test_ledger_needs_a_window_and_a_numeric_shop() -> None:
    with pytest.raises(ConfigurationError, match="needs a window"):
        first_request(SHOP, "transactions", None)
    with pytest.raises(ConfigurationError, match="numeric"):
        first_request("my-shop", "orders", None)


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(EARLIEST, 1_900_000_000),
    length=st.integers(1, 400 * 86_400),
    micros=st.integers(0, 999_999),
)
def test_ledger_split_covers_the_window_in_31_day_requests(start, length, micros) -> None:
    begin = datetime.fromtimestamp(start, UTC) + timedelta(microseconds=micros)
    span = window(begin, begin + timedelta(seconds=length))
    low, high = bounds(span)
    chain = walk(first_request(SHOP, "transactions", span))
    pieces = [(r.params["min_created"], r.params["max_created"]) for r in chain]
    assert pieces[0][0] == low and pieces[-1][1] == high
    assert all(0 <= b - a < LEDGER_WINDOW_S for a, b in pieces)
    assert all(b[0] == a[1] + 1 for a, b in pairwise(pieces))
    assert len(pieces) == -(-(high - low + 1) // LEDGER_WINDOW_S)
    assert [r.page_number for r in chain] == list(range(len(chain)))
    assert all(r.route == "api" and r.window == span for r in chain)


def test_ledger_pages_each_sub_window_before_the_next() -> None:
    span = window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    chain = walk(first_request(SHOP, "transactions", span, limit=100), count=250)
    offsets = [(r.params["min_created"], r.params["offset"]) for r in chain]
    firsts = sorted({m for m, _ in offsets})
    assert len(firsts) == 2
    assert offsets == [(m, o) for m in firsts for o in (0, 100, 200)]


def test_orders_offsets_step_back_when_records_leave_the_filter() -> None:
    request = first_request(SHOP, "returns", None, limit=10)
    assert request.step == "index" and request.params == {"limit": 10, "offset": 0}
    orders = first_request(SHOP, "orders", None, limit=10)
    second = next_request(orders, page(30, [{"receipt_id": i} for i in range(10)]))
    assert second.params["offset"] == 10 and second.state["count"] == 30
    third = next_request(second, page(28, [{"receipt_id": i} for i in range(10)]))
    assert third.params["offset"] == 8  # two left the filter: step back two
    fourth = next_request(third, page(28, [{"receipt_id": i} for i in range(10)]))
    assert fourth.params["offset"] == 18
    assert next_request(fourth, page(28, [{"receipt_id": i} for i in range(10)])) is None


def test_by_update_lists_by_last_modification() -> None:
    span = window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    created = first_request(SHOP, "orders", span)
    modified = first_request(SHOP, "orders", span, by_update=True)
    assert set(created.params) == {"min_created", "max_created", "limit", "offset"}
    assert set(modified.params) == {"min_last_modified", "max_last_modified", "limit", "offset"}
    returns = first_request(SHOP, "returns", span, by_update=True)
    assert returns.params.keys() == modified.params.keys()


def test_history_returns_list_receipts_by_creation() -> None:
    # a receipt modified while the backfill runs (a refund, a note) would leave every
    # modification window of the backfill: its creation never moves
    span = window(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC))
    returns = first_request(SHOP, "returns", span)
    orders = first_request(SHOP, "orders", span)
    assert returns.step == "index" and (returns.path, returns.params) == (
        orders.path,
        orders.params,
    )


def test_a_returns_visit_expects_one_adjustment_per_listed_refund() -> None:
    returns = first_request(SHOP, "returns", None, limit=3)
    two = [{"created_timestamp": 1_700_000_000}, {"created_timestamp": 1_700_000_500}]
    listed = [
        {"receipt_id": 1, "refunds": two},
        {"receipt_id": 2},  # an older API version: visited, nothing expected
        {"receipt_id": 3, "refunds": two[:1]},
    ]
    visits, item = [], next_request(returns, page(3, listed))
    while item is not None:
        visits.append(item)
        item = next_request(item, page(1))
    assert [v.state.get("refunds") for v in visits] == [2, None, 1]
    first, older, last = visits

    def payments(*adjustments: int) -> dict:
        rows = [{"payment_adjustments": [{}] * n} for n in adjustments]
        return {"count": len(rows), "results": rows}

    lacking = missing_adjustments(first, payments(1))
    assert lacking is not None and "receipt 1" in lacking and "1 adjustments" in lacking
    assert missing_adjustments(first, payments(2)) is None
    assert missing_adjustments(first, payments(3)) is None  # one refunded since: fine
    assert missing_adjustments(last, payments(0)) is not None
    assert missing_adjustments(older, payments(0)) is None
    index = first_request(SHOP, "returns", None)
    assert missing_adjustments(index, page(1, [{"receipt_id": 1}])) is None


def test_order_items_are_the_receipt_pages_themselves() -> None:
    span = window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    for by_update in (False, True):
        items = first_request(SHOP, "order_items", span, by_update=by_update, limit=2)
        orders = first_request(SHOP, "orders", span, by_update=by_update, limit=2)
        assert items.step == "page" and (items.path, items.params) == (orders.path, orders.params)
        second = next_request(items, page(3, [{"receipt_id": 1}, {"receipt_id": 2}]))
        assert second.step == "page" and second.params["offset"] == 2
        assert next_request(second, page(3, [{"receipt_id": 3}])) is None


def test_fan_out_visits_each_listed_receipt_once_then_the_next_index_page() -> None:
    # an order-items chain begun by an earlier version: receipts, then one by one
    index = first_request(SHOP, "order_items", None, limit=3).model_copy(update={"step": "index"})
    assert index.path == f"/v3/application/shops/{SHOP}/receipts" and index.step == "index"
    listed = page(5, [{"receipt_id": 1}, {"receipt_id": 2}, {"receipt_id": 2}])
    item = next_request(index, listed)
    visited = []
    while item is not None and item.step == "page":
        visited.append(item.path)
        item = next_request(item, page(1, [{"transaction_id": 9}]))
    shop = f"/v3/application/shops/{SHOP}"
    assert visited == [f"{shop}/receipts/1/transactions", f"{shop}/receipts/2/transactions"]
    assert item.step == "index" and item.params["offset"] == 3
    # the next index page repeats receipt 2 (offset paging): it is not visited again
    item = next_request(item, page(5, [{"receipt_id": 2}, {"receipt_id": 3}]))
    assert item.path == f"{shop}/receipts/3/transactions"
    assert next_request(item, page(1)) is None


def test_inventory_is_the_listings_with_their_inventory_attached() -> None:
    inventory = first_request(SHOP, "inventory", None, limit=2)
    assert inventory.path == f"/v3/application/shops/{SHOP}/listings"
    assert inventory.window is None and inventory.step == "page"
    assert inventory.params == {"state": "active", "includes": "Inventory", "limit": 2, "offset": 0}
    second = next_request(inventory, page(3, [{"listing_id": 1}, {"listing_id": 2}]))
    assert second.step == "page" and second.params == {**inventory.params, "offset": 2}
    assert next_request(second, page(3, [{"listing_id": 3}])) is None


def test_inventory_and_returns_fan_out_to_their_own_operations() -> None:
    # an inventory chain begun by an earlier version: active listings, then one by one
    inventory = first_request(SHOP, "inventory", None).model_copy(
        update={"path": f"/v3/application/shops/{SHOP}/listings/active", "step": "index"}
    )
    item = next_request(inventory, page(1, [{"listing_id": 77}]))
    assert item.path == "/v3/application/listings/77/inventory" and item.params == {}
    returns = first_request(SHOP, "returns", None)
    item = next_request(returns, page(1, [{"receipt_id": 5}]))
    assert item.path == f"/v3/application/shops/{SHOP}/receipts/5/payments"
    assert next_request(item, page(1)) is None
    assert next_request(returns, page(0)) is None


def test_returns_visit_only_receipts_with_refunds_or_silent_on_them() -> None:
    returns = first_request(SHOP, "returns", None, limit=4)
    listed = [
        {"receipt_id": 1, "refunds": []},
        {"receipt_id": 2, "refunds": [{"created_timestamp": 1_700_000_000}]},
        {"receipt_id": 3},  # an older API version: no refunds field, so visited
        {"receipt_id": 4, "refunds": []},
    ]
    item = next_request(returns, page(6, listed))
    visited = []
    while item is not None and item.step == "page":
        visited.append(item.path.split("/")[-2])
        item = next_request(item, page(1))
    assert visited == ["2", "3"]
    assert item.step == "index" and item.params["offset"] == 4
    # a page without refunds moves straight to the next index page, then ends
    assert next_request(item, page(6, [{"receipt_id": 5, "refunds": []}])) is None
    # order items (a chain begun by an earlier version) never skip on a refunds field
    items = first_request(SHOP, "order_items", None).model_copy(update={"step": "index"})
    assert next_request(items, page(1, [{"receipt_id": 9, "refunds": []}])).step == "page"


def test_bulk_items_stop_once_a_page_reaches_below_the_window() -> None:
    span = window(datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC))
    low = bounds(span)[0]
    request = first_request(SHOP, "order_items", span, bulk=True, limit=2)
    assert request.path.endswith(f"/shops/{SHOP}/transactions") and request.step == "page"
    newer = page(10, [{"create_timestamp": low + 5}, {"create_timestamp": low}])
    second = next_request(request, newer)
    assert second is not None and second.params["offset"] == 2
    older = page(10, [{"create_timestamp": low}, {"create_timestamp": low - 1}])
    assert next_request(second, older) is None
    everything = first_request(SHOP, "order_items", None, bulk=True, limit=2)
    assert next_request(everything, older) is not None


def test_windowed_bulk_pages_carry_their_window_and_report_no_count() -> None:
    span = window(datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 20, 0, 0, 0, 1, tzinfo=UTC))
    low, high = bounds(span)
    request = first_request(SHOP, "order_items", span, bulk=True, limit=2)
    assert created_bounds(request.state["scope"]) == (low, high)
    second = next_request(request, page(10, [{"create_timestamp": high + 9}] * 2))
    assert second is not None and second.state["scope"] == request.state["scope"]
    assert reported_count(request, page(10)) is None
    everything = first_request(SHOP, "order_items", None, bulk=True, limit=2)
    assert "scope" not in everything.state and reported_count(everything, page(10)) == 10
    paged = first_request(SHOP, "order_items", span)
    assert reported_count(paged, page(7)) == 7 and reported_count(paged, {"x": 1}) is None


@pytest.mark.parametrize(
    ("offset", "count", "results", "short"),
    [
        (0, 250, 100, False),
        (0, 250, 99, True),
        (200, 250, 50, False),
        (200, 250, 49, True),
        (200, 250, 51, False),  # a repeated record
        (300, 250, 0, False),
        (0, 0, 0, False),
    ],
)
def test_short_pages_are_spotted(offset, count, results, short) -> None:
    request = first_request(SHOP, "orders", None).model_copy(
        update={"params": {"limit": 100, "offset": offset}}
    )
    body = page(count, [{"receipt_id": i} for i in range(results)])
    assert (short_page(request, body) is not None) is short


def test_requests_are_plain_json_without_secrets() -> None:
    span = window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    for resource in ("orders", "order_items", "transactions", "payouts", "returns", "inventory"):
        request = first_request(SHOP, resource, span)
        assert PageRequest.model_validate_json(request.model_dump_json()) == request
        assert request.platform == "etsy" and request.method == "GET"


@pytest.mark.parametrize(
    ("stamps", "rise"),
    [
        ([30, 20, 20, 10], None),  # ties: one receipt's transactions
        ([30, None, 10], None),  # an undated transaction is not judged
        ([], None),
        ([30, 10, 20], "created 10 then 20"),
        ([10, None, 30], "created 10 then 30"),
    ],
)
def test_a_windowed_bulk_page_must_be_newest_first(stamps, rise) -> None:
    span = window(datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC))
    results = [{"transaction_id": n, "create_timestamp": t} for n, t in enumerate(stamps)]
    body = page(9, [{k: v for k, v in r.items() if v is not None} for r in results])
    reason = misordered(first_request(SHOP, "order_items", span, bulk=True), body)
    if rise is None:
        assert reason is None
    else:
        assert reason is not None and reason.endswith(rise)
    assert misordered(first_request(SHOP, "order_items", None, bulk=True), body) is None
