"""The planner's bulk history and its density loop (``shared.planning``): unit cases and
bounded properties. The phase cases of paged plans are in tests/planning."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.planning import (
    BULK_RECORDS,
    DAY,
    PAGE_SIZE,
    TARGET_PAGES,
    block_id,
    observed_density,
    plan_blocks,
    span_for,
)
from shared.platforms.base import Window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


NOW = utc(2024, 6, 15, 10, 30)
START = utc(2021, 3, 10)
YESTERDAY = utc(2024, 6, 14)


def test_a_quiet_sellers_history_is_one_bulk_job_after_the_recent_day() -> None:
    plan = plan_blocks("orders", START, NOW, density=20, bulk=True)
    assert [(b.phase, b.bulk, b.window.start, b.window.end) for b in plan] == [
        ("recent_day", False, YESTERDAY, NOW),
        ("history", True, START, YESTERDAY),
    ]
    assert [b.order for b in plan] == [0, 1]


def test_the_paged_plan_of_the_same_seller_keeps_its_phases() -> None:
    plan = plan_blocks("orders", START, NOW, density=5)
    assert [b.phase for b in plan] == [
        "recent_day", "month", "half_year", "year", "older", "older", "older"
    ]  # fmt: skip
    assert not any(b.bulk for b in plan)


@pytest.mark.parametrize(
    ("density", "bulk_records", "jobs"),
    [
        (1_000.0, BULK_RECORDS, math.ceil((YESTERDAY - START).days * 1_000 / BULK_RECORDS)),
        (10_000.0, BULK_RECORDS, math.ceil((YESTERDAY - START).days * 10_000 / BULK_RECORDS)),
        (1_000.0, 100_000, math.ceil((YESTERDAY - START).days * 1_000 / 100_000)),
        (0.0, BULK_RECORDS, 1),  # nothing seen: one job (no records expected)
    ],
)
def test_a_busy_sellers_history_is_cut_into_jobs_of_about_bulk_records(
    density, bulk_records, jobs
) -> None:
    plan = plan_blocks("orders", START, NOW, density=density, bulk=True, bulk_records=bulk_records)
    history = plan[1:]
    assert len(history) == jobs
    lengths = {b.window.end - b.window.start for b in history}
    assert max(lengths) - min(lengths) <= DAY  # alike, no sliver
    assert all(b.window.start.hour == 0 and b.window.end.hour == 0 for b in history)
    span = span_for(density, bulk=True, bulk_records=bulk_records)
    assert span is None or all(length <= span + DAY for length in lengths)


def test_max_span_caps_bulk_jobs_too() -> None:
    plan = plan_blocks("orders", START, NOW, density=1, bulk=True, max_span=30 * DAY)
    assert all(b.window.end - b.window.start <= 30 * DAY for b in plan)
    assert len(plan) - 1 == math.ceil((YESTERDAY - START) / (30 * DAY))


def test_a_history_shorter_than_the_recent_day_has_no_bulk_block() -> None:
    plan = plan_blocks("orders", utc(2024, 6, 14, 12), NOW, bulk=True)
    assert [(b.phase, b.bulk) for b in plan] == [("recent_day", False)]
    assert plan[0].window == Window(start=utc(2024, 6, 14, 12), end=NOW)


def test_inventory_stays_one_snapshot_whatever_bulk_says() -> None:
    plan = plan_blocks("inventory", START, NOW, bulk=True)
    assert [(b.phase, b.bulk) for b in plan] == [("snapshot", False)]


def test_measure_on_the_recent_day_then_plan_the_rest() -> None:
    """The flows' loop: plan, load block 0, measure its density, plan again."""
    first = plan_blocks("orders", START, NOW)
    recent = first[0]
    for records in (0, 3, 500, 40_000):
        density = observed_density(records, recent.window)
        for bulk in (False, True):
            again = plan_blocks("orders", START, NOW, density=density, bulk=bulk)
            assert again[0] == recent  # same id, same window: the ledger row is reused
    busy = plan_blocks("orders", START, NOW, density=observed_density(40_000, recent.window))
    quiet = plan_blocks("orders", START, NOW, density=observed_density(3, recent.window))
    assert len(busy) > len(quiet)


def test_observed_density_is_records_per_day() -> None:
    window = Window(start=YESTERDAY, end=NOW)
    assert observed_density(345, window) == pytest.approx(345 / (34.5 / 24))
    assert observed_density(5, Window(start=NOW, end=NOW)) == 0.0


instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
densities = st.one_of(st.none(), st.floats(min_value=0, max_value=50_000))
PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def bulk_plans(draw):
    now = draw(instants)
    start = now - draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5 * 365)))
    records = draw(st.integers(min_value=1_000, max_value=200_000))
    return start, now, draw(densities), records


@PROPERTY
@given(bulk_plans())
def test_bulk_plans_cover_the_history_recent_day_first_then_bulk(case) -> None:
    start, now, density, records = case
    plan = plan_blocks("orders", start, now, density=density, bulk=True, bulk_records=records)
    if start >= now:
        assert plan == []
        return
    assert plan[0].window.end == now and plan[-1].window.start == start
    for newer, older in pairwise(plan):
        assert older.window.end == newer.window.start
    assert [b.order for b in plan] == list(range(len(plan)))
    assert plan[0].phase == "recent_day" and not plan[0].bulk
    assert all(b.phase == "history" and b.bulk for b in plan[1:])
    assert all(b.block_id == block_id("orders", b.window) for b in plan)
    span = span_for(density, bulk=True, bulk_records=records)
    history = plan[1:]
    if span is not None and history:
        length = history[0].window.end - history[-1].window.start
        grid = DAY if span >= DAY else timedelta(hours=1)  # cuts on the nearest grid point
        assert len(history) <= max(1, math.ceil(length / span))
        assert all(b.window.end - b.window.start <= span + grid for b in history)
    elif history:
        assert len(history) == 1


@PROPERTY
@given(bulk_plans(), densities)
def test_bulk_needs_no_more_blocks_than_paging(case, other) -> None:
    start, now, density, _ = case
    paged = plan_blocks("orders", start, now, density=density)
    bulk = plan_blocks("orders", start, now, density=density, bulk=True)
    assert len(bulk) <= len(paged)
    assert bulk[:1] == plan_blocks("orders", start, now, density=other)[:1]


@PROPERTY
@given(bulk_plans())
def test_paged_blocks_target_pages_of_the_density(case) -> None:
    start, now, density, _ = case
    plan = plan_blocks("orders", start, now, density=density)
    span = span_for(density)
    expected = None if span is None else PAGE_SIZE * TARGET_PAGES
    for b in plan[1:]:
        if span is not None and density:
            days = (b.window.end - b.window.start) / DAY
            slack = 1 if span >= DAY else 1 / 24  # cuts on the nearest midnight / hour
            assert days * density <= expected + slack * density + 1e-6
