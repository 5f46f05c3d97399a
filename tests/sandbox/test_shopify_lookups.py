"""The Shopify sandbox's quick lookups answer exactly what the plain scans answered:
balance transactions narrowed by date with bisection, payout status without a node per
transaction, and cursor positions found by bisection in both sort orders."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.shopify import paging, search, views
from sandbox.shopify.graphql_api import TXN_FIELDS, Root
from sandbox.world import World

CLIENT = "c-tiny"


@cache
def _data():
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), platforms=("shopify",))
    return world.platforms["shopify"].data(CLIENT), float(scenario.now)


def _root(now: float) -> Root:
    data, _ = _data()
    return Root(data, "shop", now, 250, lambda *_: False)


def _scanned(root: Root, query: str) -> list[int]:
    """Every visible transaction tested term by term, its payout status as the payments
    docstring states it: PENDING until a payout issued by now holds it."""
    wanted = search.parse(query, TXN_FIELDS)
    chosen = []
    for txn in root.data.payments.visible(root.now):
        held = txn.payout is not None and txn.payout.issued <= root.now
        values = {
            "processed_at": txn.at,
            "payout_status": txn.payout.status(root.now) if held else "PENDING",
            "transaction_type": txn.type,
        }
        if search.matches(wanted, values.__getitem__):
            chosen.append(txn.txn_id)
    return sorted(chosen)


def _served(root: Root, query: str) -> list[int]:
    account = root.shopifyPaymentsAccount(None)
    ids, after = [], None
    while True:
        page = account["balanceTransactions"](None, query=query, first=250, after=after)
        ids += [int(n["id"].rsplit("/", 1)[1]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return sorted(ids)
        after = page["pageInfo"]["endCursor"]


def _iso(t: float) -> str:
    return views.utc(t) or ""


@pytest.mark.parametrize("days_back", [0, 3, 20, 200])
def test_balance_transactions_searched_by_date_and_status_as_a_scan_finds_them(
    days_back: int,
) -> None:
    data, end = _data()
    root = _root(end - days_back * 86_400)
    times = data.payments.times
    assert times, "the tiny shop has balance transactions"
    mid = times[len(times) // 2]
    queries = [
        f"processed_at:>={_iso(mid - 7 * 86_400)} processed_at:<{_iso(mid)}",
        f"processed_at:>{_iso(mid)}",
        f"processed_at:<={_iso(mid)} payout_status:paid",
        f"processed_at:{_iso(mid)[:10]}",  # a whole shop-local day
        "payout_status:pending transaction_type:charge",
        f"processed_at:>={_iso(times[0])} processed_at:<={_iso(times[-1])} payout_status:scheduled",
        "",
    ]
    for query in queries:
        assert _served(root, query) == _scanned(root, query), query


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([">", ">=", "<", "<=", "="]), st.integers(0, 40)),
        max_size=4,
    ),
    st.integers(0, 30),
)
def test_dated_is_the_run_a_scan_keeps(terms: list[tuple[str, int]], visible: int) -> None:
    data, _ = _data()
    payments = data.payments
    times = payments.times  # bounds on the transactions' own times: ties are tested
    bounds = [(op, times[len(times) * k // 41]) for op, k in terms]
    prefix = payments.transactions[: len(payments.transactions) * visible // 30]
    ops = search._OPS
    scan = [t for t in prefix if all(ops[op](t.at, bound) for op, bound in bounds)]
    assert payments.dated(prefix, bounds) == scan


def _linear_page_start(keys: list, cursor: tuple, reverse: bool) -> int:
    """Where the page after ``cursor`` starts: the first key past it in the sort order."""
    for i, key in enumerate(keys):
        if (key < cursor) if reverse else (key > cursor):
            return i
    return len(keys)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(1, 10_000)), unique_by=lambda k: k[1]),
    st.data(),
    st.booleans(),
    st.integers(1, 5),
)
def test_pages_after_a_cursor_start_where_a_scan_says(
    records: list[tuple[int, int]], data: st.DataObject, reverse: bool, first: int
) -> None:
    anywhere = st.tuples(st.integers(-1, 21), st.integers(0, 10_001))
    cursor = data.draw(st.sampled_from(records) | anywhere if records else anywhere)
    keys = sorted(records, reverse=reverse)
    args = paging.Args(first=first, after=paging.encode(cursor), reverse=reverse)
    page = paging.page(records, lambda r: r, lambda r: {"id": r[1]}, args, lambda *_: False)
    start = _linear_page_start(keys, cursor, reverse)
    assert [n["id"] for n in page["nodes"]] == [k[1] for k in keys[start : start + first]]
    before = paging.Args(last=first, before=paging.encode(cursor), reverse=reverse)
    page = paging.page(records, lambda r: r, lambda r: {"id": r[1]}, before, lambda *_: False)
    end = next(
        (i for i, k in enumerate(keys) if not ((k < cursor) if not reverse else (k > cursor))),
        len(keys),
    )
    assert [n["id"] for n in page["nodes"]] == [k[1] for k in keys[max(0, end - first) : end]]
