"""A per-second fixed window and the platform's clock running a little behind ours.

A call sent at the very start of a second was counted by the platform in the second
before (devhost's float clock put it a hair before the boundary): with every second booked
full, that gave 429s at 10 per second. ``skew_s`` keeps a permit that close to a boundary
out of a full window before it, and counts it there otherwise."""

from shared.ambassador.limits import US, FixedWindow
from shared.ambassador.policies import CLOCK_SKEW_S, PlatformPolicy

MS = US // 1000
LEASE = 250 * MS


def _window(skew_s: float) -> FixedWindow:
    return FixedWindow("qps", LEASE, {"limit": 10, "window_s": 1.0, "skew_s": skew_s})


def test_a_full_second_pushes_the_next_permit_past_the_skew():
    w = _window(0.01)
    for _ in range(10):
        w.take(w.next_time(0, 1, False), 1)
    assert w.next_time(0, 1, False) == US + 10 * MS
    assert w.next_time(US + 3 * MS, 1, False) == US + 10 * MS  # inside the skew: later
    assert w.next_time(US + 20 * MS, 1, False) == US + 20 * MS


def test_a_permit_inside_the_skew_counts_in_the_second_before_too():
    w = _window(0.01)
    w.take(US + 2 * MS, 1)  # the second before had room: it is counted there as well
    assert w.used == {0: 1, 1: 1}
    w.take(US + 50 * MS, 1)
    assert w.used == {0: 1, 1: 2}


def test_without_skew_the_boundary_itself_is_planned():
    w = _window(0.0)
    for _ in range(10):
        w.take(w.next_time(0, 1, False), 1)
    assert w.next_time(0, 1, False) == US


def test_etsy_and_quiltt_seconds_allow_for_the_skew():
    for platform in ("etsy", "quiltt"):
        lane = PlatformPolicy.from_settings(platform, {}).lanes["api"]
        second = next(s for s in lane.limits if s.kind == "fixed_window")
        assert second.params["skew_s"] == CLOCK_SKEW_S > 0


def _spread(spread_s: float) -> FixedWindow:
    params = {"limit": 10, "window_s": 1.0, "skew_s": 0.01, "spread_s": spread_s}
    return FixedWindow("qps", LEASE, params)


def test_a_spread_window_gives_its_permits_evenly_over_the_spread():
    w = _spread(0.7)
    times = []
    for _ in range(12):
        times.append(w.next_time(0, 1, False))
        w.take(times[-1], 1)
    assert times[:10] == [10 * MS + i * 70 * MS for i in range(10)]
    assert times[10:] == [US + 10 * MS, US + 80 * MS]  # the next second, spread again
    assert max(times[:10]) + LEASE < US  # no lease carries a permit past its second


def test_a_spread_slot_already_passed_is_given_at_once():
    w = _spread(0.7)
    w.take(w.next_time(0, 1, False), 1)
    assert w.next_time(500 * MS, 1, False) == 500 * MS  # the second slot was at 80 ms
    assert w.next_time(30 * MS, 1, False) == 80 * MS


def test_etsy_spreads_its_second_and_a_release_gives_the_slot_back():
    lane = PlatformPolicy.from_settings("etsy", {}).lanes["api"]
    second = next(s for s in lane.limits if s.kind == "fixed_window")
    assert 0 < second.params["spread_s"] <= 1.0 - lane.lease_s - CLOCK_SKEW_S
    w = _spread(second.params["spread_s"])
    first = w.next_time(0, 1, False)
    w.take(first, 1)
    w.adjust(first, -1)  # released unused
    assert w.next_time(0, 1, False) == first
