"""Checks for what a platform drops without a count: repeated listings, running totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.integrity import PageFacts, RunningTotal, check_block, running_totals_off
from shared.models import InventoryLevel, Money, Transaction
from shared.platforms.base import Window

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
WINDOW = Window(start=NOW - timedelta(days=30), end=NOW)


def level(sku: str, market: str = "M1") -> InventoryLevel:
    return InventoryLevel(
        platform="amazon", account="a", natural_key=f"{market}|{sku}", sku=sku, location_id=market
    )


def listing_pages(*listings: tuple[str, list[str]]) -> tuple[list[PageFacts], list]:
    """One page per (listing, skus) in order, each ending its chain."""
    pages, records = [], []
    for number, (listing, skus) in enumerate(listings):
        market = listing.partition("#")[0]
        held = [level(s, market) for s in skus]
        pages.append(PageFacts(page_number=number, record_count=len(held), listing=listing))
        records += held
    return pages, records


def test_repeats_naming_the_same_keys_pass() -> None:
    pages, records = listing_pages(("M1#1", ["a", "b"]), ("M1#2", ["a", "b"]), ("M2#1", ["c"]))
    pages += [PageFacts(page_number=3, record_count=1, listing="M2#2")]
    records += [level("c", "M2")]
    report = check_block("inventory", WINDOW, pages, records)
    assert report.ok, report.problems
    assert report.counts["listings"] == 4 and report.counts["listing_gaps"] == 0


def test_a_key_one_repeat_lacks_fails_the_block_naming_it() -> None:
    pages, records = listing_pages(("M1#1", ["a", "c"]), ("M1#2", ["a", "b", "c"]))
    report = check_block("inventory", WINDOW, pages, records)
    assert not report.ok
    assert report.problems == ["listing M1#1 lacks 1 records another listing of M1 named: M1|b"]
    assert report.counts["listing_gaps"] == 1


def test_repeats_are_compared_per_listing_and_over_several_pages() -> None:
    """A repeat spans pages; another marketplace's keys are not compared with it."""
    pages, records = listing_pages(
        ("M1#1", ["a"]), ("M1#1", ["b"]), ("M1#2", ["a", "b"]), ("M2#1", ["x"]), ("M2#2", [])
    )
    report = check_block("inventory", WINDOW, pages, records)
    assert report.problems == ["listing M2#2 lacks 1 records another listing of M2 named: M2|x"]


def test_a_listing_named_once_is_not_compared() -> None:
    pages, records = listing_pages(("M1#1", ["a"]))
    assert check_block("inventory", WINDOW, pages, records).ok


def event(key: str, amount: str, posted: datetime | None, group: str = "G") -> Transaction:
    return Transaction(
        platform="amazon",
        account="a",
        natural_key=key,
        transaction_id=key,
        payout_id=group,
        kind="charge",
        type="Principal",
        amount=Money(amount=Decimal(amount), currency="USD"),
        posted_at=posted,
    )


def total(amount: str, seen_from: datetime = NOW, seen_to: datetime | None = None) -> RunningTotal:
    return RunningTotal(
        payout_id="G",
        total=Money(amount=Decimal(amount), currency="USD"),
        seen_from=seen_from,
        seen_to=seen_to or seen_from + timedelta(seconds=1),
    )


EVENTS = [
    event("e1", "10.00", NOW - timedelta(days=2)),
    event("e2", "-1.50", NOW - timedelta(hours=1)),
    event("fee", "-39.99", None),  # undated (a service fee): always counted
    event("late", "7.00", NOW + timedelta(minutes=1)),  # after the total: not in it
    event("other", "100.00", NOW - timedelta(hours=1), group="H"),
]


@pytest.mark.parametrize(
    ("stated", "off"),
    [
        ("-31.49", False),  # e1 + e2 + fee
        ("-26.49", True),  # the total counts a 5.00 event the listing dropped
        ("-24.49", True),  # as if "late" were in the total
    ],
)
def test_an_open_payouts_total_is_the_sum_of_its_events_posted_by_then(stated, off) -> None:
    found = running_totals_off(EVENTS, [total(stated)])
    assert bool(found) is off, found
    if off:
        assert found[0].startswith("G (running total")


def test_events_posted_during_the_request_may_be_in_the_total_or_not() -> None:
    """The total was taken at some instant of the request's flight: every prefix of the
    events posted in it explains it, nothing else does."""
    start = NOW
    during = [
        event("d1", "1.00", start + timedelta(milliseconds=100)),
        event("d2", "2.00", start + timedelta(milliseconds=200)),
    ]
    base = [event("e1", "10.00", start - timedelta(days=1))]
    span = (start, start + timedelta(milliseconds=300))
    for stated in ("10.00", "11.00", "13.00"):
        assert running_totals_off(base + during, [total(stated, *span)]) == [], stated
    assert running_totals_off(base + during, [total("12.00", *span)]) != []


def test_events_of_one_instant_count_together() -> None:
    at = NOW + timedelta(milliseconds=100)
    events = [event("a", "1.00", at), event("b", "2.00", at)]
    span = (NOW, NOW + timedelta(seconds=1))
    assert running_totals_off(events, [total("3.00", *span)]) == []
    assert running_totals_off(events, [total("1.00", *span)]) != []


def test_an_open_payout_without_listed_events_must_total_zero() -> None:
    assert running_totals_off([], [total("0")]) == []
    assert running_totals_off([], [total("5.00")]) != []
