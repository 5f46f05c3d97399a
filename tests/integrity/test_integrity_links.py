"""The pure rules of the links between resources (shared.integrity, section 7): which
orders need items, which payouts are settled and where their transactions lie, whether
windows cover a span, and how differences are worded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.flows.verdicts import months
from shared.integrity import (
    covered,
    items_problem,
    money_problem,
    needs_items,
    orders_lacking_items,
    orphans,
    orphans_problem,
    payout_scope,
    payouts_off,
    payouts_unlisted,
    unlisted_problem,
)
from shared.models import Money, Order, OrderItem, Payout, Transaction
from shared.platforms.base import Window

T = datetime(2026, 6, 15, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def at(days: float) -> datetime:
    return T + timedelta(days=days)


def span(start: float, end: float) -> Window:
    return Window(start=at(start), end=at(end))


def order(key: str, platform: str = "ebay", status: str | None = None) -> Order:
    return Order(
        platform=platform, account="a", natural_key=key, order_id=key, created_at=T, status=status
    )


def money(amount: str, currency: str = "USD") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def payout(platform: str, **fields) -> Payout:
    fields.setdefault("amount", money("10"))
    return Payout(platform=platform, account="a", natural_key="p", payout_id="p", **fields)


@pytest.mark.parametrize(
    ("platform", "status", "expected"),
    [
        ("amazon", "Shipped", True),
        ("amazon", "Pending", True),  # items are listed, only their prices withheld
        ("amazon", "Unshipped", True),
        ("amazon", "Canceled", False),  # Amazon promises no items for these
        ("amazon", None, True),
        ("shopify", "UNFULFILLED", True),
        ("shopify", "Canceled", True),  # the exemption is Amazon's only
        ("ebay", "FULFILLED", True),
        ("etsy", "canceled", True),
        ("quiltt", None, False),  # no orders there: nothing is required
    ],
)
def test_needs_items(platform, status, expected):
    assert needs_items(order("o", platform, status)) is expected


@pytest.mark.parametrize(
    ("orders", "counts", "lacking"),
    [
        ([order("o1"), order("o2")], {"o1": 1, "o2": 3}, []),
        ([order("o1"), order("o2")], {"o1": 1}, ["o2"]),
        ([order("o2"), order("o1")], {"o1": 0}, ["o1", "o2"]),  # sorted, zero is none
        ([order("o1"), order("o1")], {}, ["o1"]),  # one id once
        ([order("c", "amazon", "Canceled"), order("s", "amazon", "Shipped")], {}, ["s"]),
        ([], {"o1": 1}, []),
    ],
)
def test_orders_lacking_items(orders, counts, lacking):
    assert orders_lacking_items(orders, counts) == lacking


def test_items_problem_names_the_orders():
    bare = [f"o{i}" for i in range(7)]
    assert items_problem(bare, 40) == (
        "7 of 40 orders have no items stored: o0, o1, o2, o3, o4 and 2 more"
    )


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        (
            "amazon closed group: its start's block, events in the group's period",
            payout("amazon", period_start=at(0), period_end=at(14), status="Processing"),
            (at(14), Window(start=at(0), end=at(0) + timedelta(microseconds=1)), span(0, 14)),
        ),
        ("amazon open group", payout("amazon", period_start=at(0), status="Unknown"), None),
        ("amazon without start", payout("amazon", period_end=at(14)), None),
        (
            "ebay succeeded: a month of postings before the issue",
            payout("ebay", status="SUCCEEDED", issued_at=at(0)),
            (at(0), span(-31, 0), span(-31, 0)),
        ),
        ("ebay initiated", payout("ebay", status="INITIATED", issued_at=at(0)), None),
        ("ebay without date", payout("ebay", status="SUCCEEDED"), None),
        (
            "shopify paid",
            payout("shopify", status="PAID", issued_at=at(0)),
            (at(0), span(-31, 0), span(-31, 0)),
        ),
        ("shopify scheduled", payout("shopify", status="SCHEDULED", issued_at=at(0)), None),
        ("shopify paid without amount", payout("shopify", status="PAID", amount=None), None),
        ("etsy names no transactions", payout("etsy", issued_at=at(0), status="paid"), None),
    ],
)
def test_payout_scope(name, given, expected):
    scope = payout_scope(given)
    if expected is None:
        assert scope is None, name
        return
    assert scope is not None, name
    assert (scope.settled_at, scope.cover, scope.read) == expected, name
    assert scope.undated is (given.platform == "amazon")


@pytest.mark.parametrize(
    ("name", "windows", "expected"),
    [
        ("one window exactly", [span(0, 10)], True),
        ("one window around", [span(-1, 11)], True),
        ("end short", [span(0, 9.9)], False),
        ("start late", [span(0.1, 10)], False),
        ("abutting, unsorted", [span(5, 10), span(0, 5)], True),
        ("gap between", [span(0, 4), span(5, 10)], False),
        ("overlapping", [span(0, 6), span(2, 4), span(5, 10)], True),
        ("nested inside a longer one", [span(-5, 20), span(1, 2)], True),
        ("outside only", [span(-10, -1), span(11, 20)], False),
        ("none", [], False),
    ],
)
def test_covered(name, windows, expected):
    assert covered(span(0, 10), windows) is expected, name


def test_an_empty_span_is_covered():
    assert covered(span(3, 3), []) is True


def test_payouts_off():
    payouts = [
        payout("ebay").model_copy(update={"payout_id": "ok", "amount": money("10.00")}),
        payout("ebay").model_copy(update={"payout_id": "short", "amount": money("10")}),
        payout("ebay").model_copy(update={"payout_id": "yen", "amount": money("10", "JPY")}),
        payout("ebay").model_copy(update={"payout_id": "free", "amount": money("1")}),
        payout("ebay").model_copy(update={"payout_id": "none", "amount": None}),
    ]
    sums = {
        "ok": money("10"),
        "short": money("9.99"),
        "yen": money("10"),
        "none": money("1"),
    }
    wrong, checked, unchecked = payouts_off(payouts, sums)
    assert wrong == [
        "short (10 USD against transactions 9.99 USD)",
        "yen (10 JPY against transactions 10 USD)",
    ]
    assert (checked, unchecked) == (3, 2)
    assert money_problem(wrong) == (
        "2 payouts differ from the sum of their transactions: "
        "short (10 USD against transactions 9.99 USD), yen (10 JPY against transactions 10 USD)"
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC), ["2026-06"]),
        (
            datetime(2026, 6, 2, tzinfo=UTC),
            datetime(2026, 7, 1, tzinfo=UTC),
            ["2026-06", "2026-07"],
        ),
        (
            datetime(2025, 11, 30, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            ["2025-11", "2025-12", "2026-01", "2026-02"],
        ),
        (  # 21:00 at -05:00 is July in UTC
            datetime(2026, 6, 30, 21, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2026, 7, 3, tzinfo=UTC),
            ["2026-07"],
        ),
    ],
)
def test_months(start, end, expected):
    assert months(Window(start=start, end=end)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 15)), max_size=6),
    st.integers(0, 30),
    st.integers(0, 15),
)
def test_covered_means_every_hour_of_the_span_lies_in_a_window(pieces, start, length):
    """Windows of whole hours: the span is covered exactly when each of its hours is."""
    hours = [span(s / 24, (s + n) / 24) for s, n in pieces]
    wanted = span(start / 24, (start + length) / 24)
    every_hour = all(
        any(w.start <= at(h / 24) < w.end for w in hours) for h in range(start, start + length)
    )
    assert covered(wanted, hours) is every_hour


def test_orphans():
    items = [
        OrderItem(platform="ebay", account="a", natural_key=f"{o}|1", order_id=o, quantity=1)
        for o in ("o2", "o1", "o9", "o9")
    ]
    assert orphans(items, {"o1", "o2", "o3"}) == ["o9"]
    assert orphans(items, []) == ["o1", "o2", "o9"]
    assert orphans_problem(["o9"]) == "items of 1 orders that are not stored: o9"


def charge(key: str, platform: str, payout_id: str | None, posted: datetime | None):
    return Transaction(
        platform=platform,
        account="a",
        natural_key=key,
        kind="charge",
        type="Principal",
        posted_at=posted,
        amount=money("1"),
        payout_id=payout_id,
    )


def test_payouts_unlisted_name_amazon_groups_missing_with_where_they_start() -> None:
    transactions = [
        charge("a", "amazon", "g1", at(5)),
        charge("b", "amazon", "g1", at(2)),  # the earliest of g1
        charge("c", "amazon", "g2", at(3)),  # g2 is stored
        charge("d", "amazon", "g3", None),  # undated: cannot be placed
        charge("e", "amazon", None, at(1)),
        charge("f", "ebay", "p9", at(1)),  # eBay names payouts not issued yet
        charge("g", "shopify", "p8", at(1)),
    ]
    found = payouts_unlisted(transactions, ["g2"])
    assert found == {
        "g1": Window(start=at(2) - timedelta(days=31), end=at(2) + timedelta(microseconds=1))
    }
    assert payouts_unlisted(transactions, ["g1", "g2"]) == {}
    assert payouts_unlisted([], []) == {}
    # the span holds the start of a window beginning at the earliest transaction
    assert covered(found["g1"], [span(2, 3)]) is False
    assert covered(found["g1"], [span(-40, 2.5)]) is True
    text = unlisted_problem(["g1"])
    assert text.startswith("1 payouts named by stored transactions are not stored: g1")
