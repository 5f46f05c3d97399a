"""The limits' speed-ups decide exactly as the plain computations they replace.

* ``SlidingWindow`` keeps its buckets' running sums between reads, patched in place where a
  change lands at or after the last bucket: after every kind of change they equal sums
  recomputed from the counts, and the window decides as one loaded from its state.
* ``Lane.clone`` (``Lane.peek``'s scratch copy) decides as ``Lane(spec, state())``.
* ``Lane.plan`` searches each permit from the last one's time: it grants what a search
  from ``now`` for every permit grants.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ambassador.limits import US, SlidingWindow
from shared.ambassador.policies import Lane, PlatformPolicy

T0 = 1_790_000_000 * US  # 2026-09-21T14:13:20Z
BOUNDED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# one change to a limit: (kind, µs after the walk's clock, units)
CHANGE = st.tuples(
    st.sampled_from(["take", "take", "take", "refund", "charge", "begin", "sync", "exhaust"]),
    st.integers(min_value=-3 * US, max_value=30 * US),
    st.integers(min_value=1, max_value=4),
)


def _apply(limit, change: tuple[str, int, int], clock: int) -> int:
    """Apply one change at ``clock + offset``; the clock only moves forward (``begin``)."""
    kind, offset, units = change
    at = max(T0, clock + offset)
    if kind == "take":
        limit.take(at, units)
    elif kind == "refund":
        limit.adjust(at, -units)
    elif kind == "charge":
        limit.adjust(at, units)
    elif kind == "begin":
        clock = max(clock, at)
        limit.begin(clock)
    elif kind == "sync":
        limit.sync(at, max(0, limit.capacity - 2 * units), units)
    else:
        limit.exhaust(at, units)
    return clock


def _window() -> SlidingWindow:
    return SlidingWindow("qps", 250_000, {"limit": 10, "window_s": 1.0, "granularity_s": 0.05})


def _fresh(window: SlidingWindow) -> SlidingWindow:
    twin = _window()
    twin.load(window.state())
    return twin


@BOUNDED
@given(st.lists(CHANGE, min_size=1, max_size=60))
def test_a_sliding_windows_running_sums_equal_sums_recomputed_after_every_change(
    changes: list[tuple[str, int, int]],
) -> None:
    window, clock = _window(), T0
    window.begin(clock)
    for change in changes:
        clock = _apply(window, change, clock)
        buckets = sorted(window.counts)
        lo, hi = (buckets[0] - 30, buckets[-1] + 30) if buckets else (0, 0)
        for a in range(lo, hi + 1, 7):
            for b in (a, a + window.m - 1, a + 2 * window.m):
                expected = sum(n for k, n in window.counts.items() if a <= k <= b)
                assert window._sum(a, b) == expected, (change, a, b)
        assert all(n > 0 for n in window.counts.values())  # empty buckets go
        fresh = _fresh(window)
        for t in (clock, clock + 137_000, clock + 2 * US, clock + 9 * US):
            assert window.next_time(t, 1, False) == fresh.next_time(t, 1, False), change
            assert window.next_time(t, 3, False) == fresh.next_time(t, 3, False), change


def _etsy_lane() -> Lane:
    policy = PlatformPolicy.from_settings("etsy", {"qpd": 300})
    return policy.lanes["api"].build()


def _amazon_lane() -> Lane:
    policy = PlatformPolicy.from_settings("amazon", {})
    return policy.lanes["getOrders"].build()


def _walk(lane: Lane, changes: list[tuple[str, int, int]]) -> int:
    clock = T0
    lane.begin(clock)
    for kind, offset, units in changes:
        at = max(T0, clock + offset)
        if kind == "begin":
            clock = max(clock, at)
            lane.begin(clock)
        elif kind in ("take", "charge"):
            lane.take(at, units)
        elif kind == "refund":
            for limit in lane.limits:
                limit.adjust(at, -units)
        else:  # a reading or a 429 on the lane's first limit (a bucket slows down)
            _apply(lane.limits[0], (kind, offset, units), clock)
            lane.begin(clock)
    return clock


@BOUNDED
@given(st.sampled_from(["etsy", "amazon"]), st.lists(CHANGE, max_size=40))
def test_a_lanes_clone_plans_as_a_lane_loaded_from_its_state(
    platform: str, changes: list[tuple[str, int, int]]
) -> None:
    lane = _etsy_lane() if platform == "etsy" else _amazon_lane()
    clock = _walk(lane, changes)
    later = clock + 3 * US
    loaded = Lane(lane.spec, lane.state())
    twin = lane.clone()
    for copy_ in (loaded, twin):
        copy_.begin(later)
    assert twin.plan(later, 40, 1, True, 2**62) == loaded.plan(later, 40, 1, True, 2**62)
    # and the clone shares nothing with its original: planning it left the lane alone
    assert lane.state() == Lane(lane.spec, lane.state()).state()
    again = lane.clone()
    again.begin(later)
    fresh = Lane(lane.spec, lane.state())
    fresh.begin(later)
    assert again.plan(later, 40, 1, True, 2**62) == fresh.plan(later, 40, 1, True, 2**62)


def _plan_from_now(lane: Lane, now: int, count: int, units: int, reserved: bool, end: int):
    """``Lane.plan`` as it was: every permit searched from ``now``."""
    times: list[int] = []
    for _ in range(count):
        t = lane.next_time(now, units, reserved)
        if t is None or t > end:
            break
        lane.take(t, units)
        times.append(t)
    return times


@BOUNDED
@given(
    st.sampled_from(["etsy", "amazon"]),
    st.lists(CHANGE, max_size=40),
    st.integers(min_value=1, max_value=120),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
)
def test_planning_from_the_last_permit_grants_what_planning_each_from_now_grants(
    platform: str, changes: list[tuple[str, int, int]], count: int, units: int, reserved: bool
) -> None:
    lane = _etsy_lane() if platform == "etsy" else _amazon_lane()
    clock = _walk(lane, changes)
    end = clock + 20 * US
    reference = lane.clone()
    assert lane.plan(clock, count, units, reserved, end) == _plan_from_now(
        reference, clock, count, units, reserved, end
    )
    assert lane.state() == reference.state()


def _fresh_peek(lane: Lane, now: int, count: int, units: int, reserved: bool) -> list[int]:
    twin = Lane(lane.spec, lane.state())
    twin.begin(now)
    return twin.plan(now, count, units, reserved, end=2**62)


@BOUNDED
@given(
    st.sampled_from(["etsy", "ebay"]),
    st.lists(
        st.tuples(CHANGE, st.integers(min_value=1, max_value=60), st.booleans()),
        min_size=1,
        max_size=40,
    ),
)
def test_a_lanes_kept_peek_equals_a_fresh_plan_after_every_change(
    platform: str, steps: list[tuple[tuple[str, int, int], int, bool]]
) -> None:
    """``Lane.peek`` reuses and extends its last plan while the limits keep their stamps:
    after any change (and as time passes), it plans what a lane loaded from the state
    plans."""
    # a small day, so that what is held back for the daily syncs decides permits
    policy = PlatformPolicy.from_settings(platform, {"qpd": 40, "fulfillment.limit": 40})
    lane = policy.lanes["api" if platform == "etsy" else "fulfillment"].build()
    for k in range(33):  # the day so far: near its end, the reserve decides
        lane.take(T0 - 3_600 * US + k * US, 1)
    clock = T0
    lane.begin(clock)
    for (kind, offset, units), count, reserved in steps:
        at = max(T0, clock + offset)
        if kind == "begin":
            clock = max(clock, at)
            lane.begin(clock)
        elif kind == "take":
            lane.take(at, units)
        elif kind in ("refund", "charge"):
            for limit in lane.limits:
                limit.adjust(at, units if kind == "charge" else -units)
        elif kind == "sync":
            lane.limits[-1].sync(at, max(0, lane.limits[-1].capacity - 2 * units), units)
        else:
            lane.limits[-1].hold(units * 3, release=units % 2 == 0)
        for n in (count, count // 2 + 1, count + 7):  # shorter and longer than kept
            assert lane.peek(clock, n, 1, reserved) == _fresh_peek(lane, clock, n, 1, reserved)
