from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.planning import (
    DAY,
    MIN_SPAN,
    PlannedBlock,
    block_id,
    daily_window,
    observed_density,
    plan_blocks,
    span_for,
)
from shared.platforms.base import Window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


NOW = utc(2024, 6, 15, 10, 30)

# (history_start, now) -> [(phase, start, end)] newest first, with a density so low
# that no phase is split (older years are still one block per calendar year).
PHASES = [
    (
        utc(2021, 3, 10),
        NOW,
        [
            ("recent_day", utc(2024, 6, 14), NOW),
            ("month", utc(2024, 6, 1), utc(2024, 6, 14)),
            ("half_year", utc(2024, 1, 1), utc(2024, 6, 1)),
            ("year", utc(2023, 7, 1), utc(2024, 1, 1)),
            ("older", utc(2023, 1, 1), utc(2023, 7, 1)),
            ("older", utc(2022, 1, 1), utc(2023, 1, 1)),
            ("older", utc(2021, 3, 10), utc(2022, 1, 1)),
        ],
    ),
    # On the 2nd of a month the recent day starts on the 1st: no "month" phase.
    (
        utc(2023, 1, 1),
        utc(2024, 3, 2, 0, 5),
        [
            ("recent_day", utc(2024, 3, 1), utc(2024, 3, 2, 0, 5)),
            ("half_year", utc(2023, 10, 1), utc(2024, 3, 1)),
            ("year", utc(2023, 4, 1), utc(2023, 10, 1)),
            ("older", utc(2023, 1, 1), utc(2023, 4, 1)),
        ],
    ),
    # Year boundaries: the year phase ends where the older years start, on 1 January.
    (
        utc(2022, 5, 5),
        utc(2024, 12, 20),
        [
            ("recent_day", utc(2024, 12, 19), utc(2024, 12, 20)),
            ("month", utc(2024, 12, 1), utc(2024, 12, 19)),
            ("half_year", utc(2024, 7, 1), utc(2024, 12, 1)),
            ("year", utc(2024, 1, 1), utc(2024, 7, 1)),
            ("older", utc(2023, 1, 1), utc(2024, 1, 1)),
            ("older", utc(2022, 5, 5), utc(2023, 1, 1)),
        ],
    ),
    # A short history is clipped: only the phases it reaches.
    (
        utc(2024, 6, 10, 12),
        NOW,
        [
            ("recent_day", utc(2024, 6, 14), NOW),
            ("month", utc(2024, 6, 10, 12), utc(2024, 6, 14)),
        ],
    ),
    (utc(2024, 6, 15, 9), NOW, [("recent_day", utc(2024, 6, 15, 9), NOW)]),
    (NOW, NOW, []),
    (NOW + DAY, NOW, []),
]


@pytest.mark.parametrize(("start", "now", "expected"), PHASES)
def test_phases(start, now, expected):
    plan = plan_blocks("orders", start, now, density=0.01)
    assert [(b.phase, b.window.start, b.window.end) for b in plan] == expected
    assert [b.order for b in plan] == list(range(len(plan)))
    assert not any(b.bulk for b in plan)


def test_inventory_is_one_snapshot_block():
    plan = plan_blocks("inventory", utc(2020, 1, 1), NOW, density=10_000)
    assert [(b.phase, b.window.start, b.window.end) for b in plan] == [
        ("snapshot", utc(2020, 1, 1), NOW)
    ]


def test_a_busy_sellers_year_is_split_finer():
    quiet = plan_blocks("orders", utc(2023, 1, 1), NOW, density=20)
    busy = plan_blocks("orders", utc(2023, 1, 1), NOW, density=2_000)
    phase_count = {
        name: (sum(b.phase == name for b in quiet), sum(b.phase == name for b in busy))
        for name in ("year", "half_year", "month")
    }
    # 5,000 records a block: quiet = 250 days a block, busy = 2.5 days a block.
    assert phase_count["year"] == (1, 74)
    assert phase_count["half_year"] == (1, 61)
    assert phase_count["month"] == (1, 6)  # 13 days / 2.5


@pytest.mark.parametrize(
    ("density", "bulk", "expected"),
    [
        (100, False, timedelta(days=50)),
        (None, False, timedelta(days=50)),
        (5_000, False, timedelta(days=1)),
        (1_000, True, timedelta(days=25)),
        (10**7, False, MIN_SPAN),
        (0, False, None),
    ],
)
def test_span_for(density, bulk, expected):
    assert span_for(density, bulk=bulk) == expected


def test_span_for_rejects_negative_density():
    with pytest.raises(ValueError, match="density"):
        span_for(-1)


def test_sub_day_blocks_are_cut_on_whole_hours():
    plan = plan_blocks("orders", utc(2024, 6, 1), NOW, density=30_000)  # 4 h spans
    month = [b for b in plan if b.phase == "month"]
    assert len(month) == 13 * 6
    for b in month:
        assert b.window.start.minute == 0 and b.window.end - b.window.start == timedelta(hours=4)


def test_bulk_covers_longer_windows_except_the_recent_day():
    paged = plan_blocks("orders", utc(2023, 1, 1), NOW, density=500)
    bulk = plan_blocks("orders", utc(2023, 1, 1), NOW, density=500, bulk=True)
    assert len(bulk) < len(paged)
    assert [b.bulk for b in bulk] == [b.phase != "recent_day" for b in bulk]
    assert bulk[0] == paged[0]


def test_max_span_caps_every_block():
    plan = plan_blocks("transactions", utc(2023, 1, 1), NOW, density=0.01, max_span=31 * DAY)
    assert all(b.window.end - b.window.start <= 31 * DAY for b in plan[1:])
    assert plan[0].phase == "recent_day"


def test_block_ids_are_readable_and_name_the_window():
    window = Window(start=utc(2024, 3, 1), end=utc(2024, 4, 1))
    assert block_id("orders", window) == "orders.20240301T000000Z.20240401T000000Z"
    odd = Window(start=utc(2024, 3, 1, 0, 0, 0, 5), end=utc(2024, 4, 1))
    assert block_id("orders", odd) == "orders.20240301T000000.000005Z.20240401T000000Z"


def test_block_limit_keeps_the_newest_blocks():
    plan = plan_blocks("orders", utc(2020, 1, 1), NOW)
    assert plan_blocks("orders", utc(2020, 1, 1), NOW, block_limit=3) == plan[:3]
    assert plan_blocks("orders", utc(2020, 1, 1), NOW, block_limit=0) == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("orders", datetime(2024, 1, 1), NOW), {}, "naive"),
        (("orders", utc(2024, 1, 1), datetime(2024, 6, 1)), {}, "naive"),
        (("", utc(2024, 1, 1), NOW), {}, "resource"),
        (("orders", utc(2024, 1, 1), NOW), {"density": -3}, "density"),
        (("orders", utc(2024, 1, 1), NOW), {"block_limit": -1}, "block_limit"),
        (("orders", utc(2024, 1, 1), NOW), {"max_span": timedelta(minutes=5)}, "max_span"),
    ],
)
def test_bad_input_is_refused(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_blocks(*args, **kwargs)


def test_other_time_zones_become_utc():
    from datetime import timezone

    tokyo = timezone(timedelta(hours=9))
    plan = plan_blocks("orders", datetime(2024, 6, 1, 9, tzinfo=tokyo), NOW)
    assert plan[-1].window.start == utc(2024, 6, 1)
    assert all(b.window.start.utcoffset() == timedelta(0) for b in plan)


def test_observed_density():
    window = Window(start=utc(2024, 6, 14), end=utc(2024, 6, 14, 12))
    assert observed_density(300, window) == 600
    assert observed_density(5, Window(start=NOW, end=NOW)) == 0


def test_planned_blocks_survive_json():
    plan = plan_blocks("orders", utc(2022, 1, 1), NOW, density=300, bulk=True)
    again = [PlannedBlock.model_validate(b.model_dump(mode="json")) for b in plan]
    assert again == plan


@pytest.mark.parametrize(
    ("watermark", "now", "overlap", "expected"),
    [
        (utc(2024, 6, 14), NOW, timedelta(hours=2), (utc(2024, 6, 13, 22), NOW)),
        (utc(2024, 6, 14), NOW, timedelta(0), (utc(2024, 6, 14), NOW)),
        (NOW, NOW, timedelta(minutes=10), (NOW - timedelta(minutes=10), NOW)),
    ],
)
def test_daily_window(watermark, now, overlap, expected):
    window = daily_window(watermark, now, overlap)
    assert (window.start, window.end) == expected


@pytest.mark.parametrize(
    ("watermark", "now", "overlap", "message"),
    [
        (NOW + DAY, NOW, timedelta(hours=1), "after now"),
        (NOW, NOW, timedelta(0), "empty"),
        (utc(2024, 6, 1), NOW, timedelta(hours=-1), "overlap"),
        (datetime(2024, 6, 1), NOW, timedelta(hours=1), "naive"),
    ],
)
def test_daily_window_refuses(watermark, now, overlap, message):
    with pytest.raises(ValueError, match=message):
        daily_window(watermark, now, overlap)


# --- properties ---------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
densities = st.one_of(st.none(), st.floats(min_value=0, max_value=30_000))
PROPERTY = settings(max_examples=80, deadline=None)


@st.composite
def plans(draw):
    now = draw(instants)
    start = now - draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 365)))
    density = draw(densities)
    bulk = draw(st.booleans())
    return start, now, density, bulk


@PROPERTY
@given(plans())
def test_blocks_cover_the_history_exactly_newest_first(case):
    start, now, density, bulk = case
    plan = plan_blocks("orders", start, now, density=density, bulk=bulk)
    if start >= now:
        assert plan == []
        return
    assert plan[0].window.end == now and plan[-1].window.start == start
    for newer, older in pairwise(plan):
        assert older.window.end == newer.window.start  # contiguous, no overlap
    assert all(b.window.start < b.window.end for b in plan)
    assert [b.order for b in plan] == list(range(len(plan)))
    assert len({b.block_id for b in plan}) == len(plan)


@PROPERTY
@given(plans())
def test_planning_again_gives_the_same_blocks(case):
    start, now, density, bulk = case
    first = plan_blocks("orders", start, now, density=density, bulk=bulk)
    assert plan_blocks("orders", start, now, density=density, bulk=bulk) == first
    assert all(b.block_id == block_id("orders", b.window) for b in first)


@PROPERTY
@given(plans(), densities)
def test_the_recent_day_block_does_not_depend_on_density(case, other):
    start, now, density, bulk = case
    first = plan_blocks("orders", start, now, density=density, bulk=bulk)
    second = plan_blocks("orders", start, now, density=other, bulk=not bulk)
    assert first[:1] == second[:1]
    if first:
        assert (
            first[0].phase == "recent_day"
            and first[0].window.end - first[0].window.start <= 2 * DAY
        )


@PROPERTY
@given(plans())
def test_blocks_keep_to_their_span_and_phase(case):
    start, now, density, bulk = case
    plan = plan_blocks("orders", start, now, density=density, bulk=bulk)
    for b in plan:
        if b.phase == "recent_day":
            continue
        span = span_for(density, bulk=b.bulk)
        length = b.window.end - b.window.start
        if span is not None:  # cuts land on the nearest hour or midnight
            assert length <= span + (DAY if span >= DAY else timedelta(hours=1))
        if b.phase == "older":
            assert b.window.start.year == (b.window.end - timedelta(microseconds=1)).year


@PROPERTY
@given(
    instants.filter(lambda t: t.year < 2020),
    st.integers(min_value=0, max_value=400),
    st.one_of(st.none(), st.floats(min_value=0, max_value=3_000)),
)
def test_full_older_years_keep_their_blocks_as_days_pass(now, days_later, density):
    start = datetime(2014, 1, 1, tzinfo=UTC)
    first = plan_blocks("orders", start, now, density=density)
    second = plan_blocks("orders", start, now + timedelta(days=days_later), density=density)
    year_phase = [b.window.start for b in first if b.phase == "year"]
    if not year_phase:
        return
    full_years_end = datetime(min(year_phase).year, 1, 1, tzinfo=UTC)
    kept = {(b.block_id, b.window) for b in first if b.window.end <= full_years_end}
    assert kept <= {(b.block_id, b.window) for b in second if b.phase == "older"}
