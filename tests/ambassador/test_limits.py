"""Limit models and platform policies on explicit times."""

from __future__ import annotations

import itertools

import pytest

from shared.ambassador.limits import (
    US,
    CostBucket,
    DailyQuota,
    FixedWindow,
    SlidingWindow,
    TokenBucket,
    ceil_ms,
    format_time,
    parse_time,
)
from shared.ambassador.policies import LaneSpec, LimitSpec, PlatformPolicy
from shared.errors import ConfigurationError
from tests.ambassador import reference as ref

T0 = 1_790_000_000 * US  # 2026-09-21T14:13:20Z
S = US


def lane(platform: str, route: str, **overrides):
    policy = PlatformPolicy.from_settings(platform, overrides)
    built = policy.lanes[policy.lane_of(route)].build()
    built.begin(T0)
    return built


def plan(built, n: int, at: int = T0, units: int = 1, reserved: bool = False) -> list[float]:
    """Seconds after T0 of the next ``n`` permits (no horizon)."""
    return [(t - T0) / S for t in built.plan(at, n, units, reserved, end=2**62)]


# ------------------------------------------------------------------ token buckets
def test_amazon_get_orders_bursts_20_then_one_per_60s_without_lateness() -> None:
    getorders = lane("amazon", "getOrders", lease_s=0)
    times = plan(getorders, 23)
    interval = 59.880240  # ceil(1e6 / 0.0167) µs: a hair slower than 0.0167/s
    assert times[:20] == [0.0] * 20
    assert times[20:] == pytest.approx([interval, 2 * interval, 3 * interval], abs=1e-3)


def test_amazon_lease_costs_rate_times_lease_of_the_burst() -> None:
    getorders = lane("amazon", "getOrders")  # default lease 2 s
    times = plan(getorders, 22)
    assert times[:19] == [0.0] * 19
    # the 20th could otherwise be used 2 s late together with a refilled token
    assert times[19] == pytest.approx(2.0)
    assert times[20] == pytest.approx(2.0 + 59.88024, abs=1e-3)


def test_get_order_items_refills_every_two_seconds_after_its_burst() -> None:
    items = lane("amazon", "getOrderItems", lease_s=0)
    times = plan(items, 33)
    assert times[:30] == [0.0] * 30
    assert times[30:] == [2.0, 4.0, 6.0]


def test_inventory_lease_is_capped_by_its_small_burst() -> None:
    policy = PlatformPolicy.from_settings("amazon", {})
    assert policy.lanes["getInventorySummaries"].lease_s == 0.5  # (burst - 1) / rate
    inventory = lane("amazon", "getInventorySummaries")
    assert plan(inventory, 4) == [0.0, 0.5, 1.0, 1.5]  # full rate despite the lease


def test_shopify_rest_bucket_40_leaks_2_per_second() -> None:
    rest = lane("shopify", "rest", lease_s=0)
    times = plan(rest, 42)
    assert times[:40] == [0.0] * 40
    assert times[40:] == [0.5, 1.0]


def test_a_bucket_idle_long_enough_is_full_again() -> None:
    items = lane("amazon", "getOrderItems", lease_s=0)
    plan(items, 30)
    later = T0 + 60 * S  # 30 tokens back after 60 s
    items.begin(later)
    assert plan(items, 31, at=later)[-2:] == [60.0, 62.0]


def test_sync_to_a_lower_remaining_reading_and_never_up() -> None:
    rest = lane("shopify", "rest", lease_s=0)
    rest.limit(None).sync(T0, remaining=3, unseen=0)
    assert plan(rest, 5) == [0.0, 0.0, 0.0, 0.5, 1.0]
    rest.limit(None).sync(T0, remaining=40, unseen=0)  # higher than the model: ignored
    assert plan(rest, 1) == [1.5]


def test_sync_discounts_our_permits_the_platform_has_not_seen() -> None:
    bucket = TokenBucket("b", 0, {"rate": 1, "burst": 10})
    bucket.begin(T0)
    bucket.sync(T0, remaining=10, unseen=4)  # 4 of ours are still on their way
    assert bucket.next_time(T0, 6, False) == T0
    assert bucket.next_time(T0, 7, False) == T0 + 1 * S


def test_a_429_empties_the_bucket_and_slows_the_plan_until_it_recovers() -> None:
    bucket = TokenBucket("b", 0, {"rate": 2, "burst": 10})
    bucket.begin(T0)
    bucket.exhaust(T0, unseen=0)
    assert bucket.interval == round(US / (2 * 0.8))  # planning rate x0.8
    assert bucket.next_time(T0, 1, False) == T0 + bucket.interval
    bucket.begin(T0 + 600 * S)  # recover_s later
    assert bucket.interval == US // 2


@pytest.mark.parametrize("slower", ["429", "stated_rate"])
def test_a_slower_plan_keeps_the_debt_of_permits_already_planned_ahead(slower: str) -> None:
    """Permits planned ahead were paced at the old interval; read in a longer one their
    debt would shrink and the burst rule plan a second burst on top of them."""
    spec = LaneSpec("api", (LimitSpec("token_bucket", "b", {"rate": 4, "burst": 33}),), 0.1, 30)
    built = spec.build()
    built.begin(T0)
    ahead = built.blocked_until = T0 + 25 * S  # a Retry-After: permits wait for its end
    planned = built.plan(T0, 21, 1, False, end=2**62)
    now = T0 + 8 * S
    built.begin(now)
    bucket = built.limit("b")
    if slower == "429":  # spurious: the platform still refills at 4/s
        bucket.exhaust(now, unseen=21)
        rate = 4.0
    else:  # the platform states a slower rate than the defaults
        bucket.learn(None, 2.0, None)
        built.begin(now)
        rate = 2.0
    more = built.plan(now, 40, 1, False, end=ahead + 2 * S)
    on_time = sorted((t, 1) for t in [*planned, *more])
    assert ref.token_bucket_refusals(on_time, rate, 33) == []


def test_cost_bucket_spends_the_estimate_and_settles_the_actual_cost() -> None:
    points = CostBucket("points", 0, {"rate": 100, "burst": 1000, "max_cost": 1000})
    points.begin(T0)
    assert points.next_time(T0, 1001, False) is None  # over the bucket: never
    points.take(T0, 800)
    assert points.next_time(T0, 300, False) == T0 + 1 * S  # 200 left, 100/s
    points.adjust(T0, -500)  # the query cost 300, not 800: refunded
    assert points.next_time(T0, 300, False) == T0


def test_cost_bucket_plans_a_margin_below_the_platforms_bucket() -> None:
    params = {"rate": 100, "burst": 1000, "max_cost": 1000, "margin": 0.01}
    points = CostBucket("points", 0, params)
    points.begin(T0)
    points.take(T0, 800)  # 1 % kept: 190 of the planned 990 left
    assert points.next_time(T0, 300, False) == T0 + 1_100_000  # 110 points at 100/s
    points.learn(2000, None, None)  # a stated capacity keeps the margin too
    assert points.capacity == 1980


def test_graphql_max_cost_is_per_query() -> None:
    graphql = lane("shopify", "graphql", **{"graphql.max_cost": 500})
    assert graphql.next_time(T0, 501, False) is None
    assert graphql.next_time(T0, 500, False) == T0


def test_lateness_turns_into_spacing_when_the_burst_is_one() -> None:
    one = TokenBucket("one", round(0.3 * S), {"rate": 1, "burst": 1})
    one.begin(T0)
    times = []
    for _ in range(3):
        t = one.next_time(T0, 1, False)
        one.take(t, 1)
        times.append((t - T0) / S)
    assert times == [0.0, 1.3, 2.6]


# ------------------------------------------------------------------ fixed windows
def test_ebay_daily_quota_resets_at_its_reset_time() -> None:
    quota = DailyQuota("quota", 0, {"limit": 3, "reset_utc": "07:00"})
    quota.begin(T0)  # 14:13:20 UTC
    for _ in range(3):
        quota.take(quota.next_time(T0, 1, False), 1)
    reset = parse_time("2026-09-22T07:00:00Z")
    assert quota.next_time(T0, 1, False) == reset
    quota.begin(reset)
    assert quota.next_time(reset, 3, False) == reset


def test_daily_quota_keeps_its_reserve_from_backfills_until_the_last_hour() -> None:
    quota = DailyQuota("quota", 0, {"limit": 10, "reset_utc": "07:00", "reserve": 0.2})
    quota.begin(T0)
    quota.take(T0, 8)
    release = parse_time("2026-09-22T06:00:00Z")
    assert quota.next_time(T0, 1, reserved=True) == release
    assert quota.next_time(T0, 2, reserved=False) == T0  # daily syncs may use it
    assert quota.next_time(T0, 3, reserved=False) == parse_time("2026-09-22T07:00:00Z")


def test_daily_quota_learns_remaining_and_the_reset_the_platform_reports() -> None:
    quota = DailyQuota("quota", 0, {"limit": 100, "reset_utc": "00:00"})
    quota.begin(T0)
    quota.sync(T0, remaining=10, unseen=2)  # 90 used there, 2 of ours not yet counted
    assert quota.describe(T0)["remaining"] == 8
    reset = parse_time("2026-09-22T08:00:00Z")
    quota.learn(capacity=None, rate=None, reset_at=reset)
    assert quota.next_time(T0, 9, False) == reset
    assert quota.describe(T0)["resets_at"] == reset


def test_a_permit_whose_lease_crosses_the_reset_counts_on_both_sides() -> None:
    quota = FixedWindow("rps", round(0.25 * S), {"limit": 2, "window_s": 1.0})
    end = T0 + S
    quota.take(end - round(0.1 * S), 1)  # may arrive up to 0.15 s after the boundary
    assert quota.used == {T0 // S: 1, T0 // S + 1: 1}


def test_quiltt_fixed_seconds_are_used_whole() -> None:
    rps = lane("quiltt", "graphql")
    times = plan(rps, 250, at=T0)
    # a second after the first starts past the clock skew (CLOCK_SKEW_S): a call at the
    # very boundary may be counted in the full second before
    assert times.count(0.0) == 100 and times.count(1.01) == 100 and times[-1] == 2.01


# ------------------------------------------------------------------ sliding windows
def test_etsy_qps_admits_the_limit_per_fixed_second() -> None:
    api = lane("etsy", "api", lease_s=0)
    times = plan(api, 21)
    # each second starts past the clock skew (CLOCK_SKEW_S, 10 ms): at the very boundary
    # the platform may still count the full second before; its ten permits are spread
    # over its first 0.7 s (ETSY_SPREAD_S: a chain gets one soon after its reply)
    spread = [round(0.01 + 0.07 * i, 2) for i in range(10)]
    assert times[:10] == spread  # T0 is a whole second
    assert times[10:20] == [round(1 + t, 2) for t in spread] and times[20] == 2.01


def test_an_etsy_permit_whose_lease_crosses_a_second_counts_in_both() -> None:
    api = lane("etsy", "api")  # lease 0.25 s
    times = plan(api, 11, at=T0 + 800_000)
    # used as late as 1.05 s, the first ten count in the next second too: the 11th
    # waits for the one after
    assert times == [0.8] * 10 + [2.01]
    # and a second booked already is not overfilled by a permit that spills into it
    api = lane("etsy", "api")
    # past the skew, and past the spread's first slot (1.01): the rest keep their slots
    assert plan(api, 10, at=T0 + S + 20_000) == [
        1.02,
        *(round(1.08 + 0.07 * i, 2) for i in range(9)),
    ]
    assert plan(api, 1, at=T0 + 900_000) == [2.01]
    assert plan(api, 1, at=T0 + 500_000) == [0.5]  # ends in its own second


def test_etsy_qpd_keeps_its_backfill_reserve_until_the_daily_syncs_start() -> None:
    api = lane("etsy", "api", qps=1000, qpd=100, lease_s=0, qps_spread_s=0)
    assert len(plan(api, 90, reserved=True)) == 90
    assert plan(api, 9) == [0.0] * 9  # daily syncs may use the reserve (10) at once
    # backfills only from 03:00 UTC, when the daily syncs start (the day ends at 04:00)
    release = (parse_time("2026-09-22T03:00:00Z") - T0) / S
    assert plan(api, 1, reserved=True) == [release]


def test_a_sliding_day_releases_its_reserve_only_for_the_last_release_s_of_its_day() -> None:
    day = {"limit": 100, "window_s": 86_400.0, "granularity_s": 600.0, "reserve": 0.1}
    qpd = SlidingWindow("qpd", 0, {**day, "reset_utc": "04:00", "release_s": 3_600.0})
    qpd.begin(T0)
    qpd.take(T0, 80)
    assert qpd.next_time(T0, 10, reserved=True) == T0  # 90: the backfill's part
    assert qpd.next_time(T0, 11, reserved=True) == parse_time("2026-09-22T03:00:00Z")
    assert qpd.releasing(parse_time("2026-09-22T03:59:59Z"))
    assert not qpd.releasing(parse_time("2026-09-22T04:00:00Z"))
    # past the release, the window must slide past T0's bucket (a day and its 600 s)
    after = parse_time("2026-09-22T04:00:00Z")
    slid = (T0 // (600 * S) + qpd.m) * 600 * S
    assert qpd.next_time(after, 11, reserved=True) == slid
    assert qpd.next_time(after, 20, reserved=False) == after
    assert qpd.free_units(parse_time("2026-09-22T03:10:00Z"), after, reserved=True) >= 20
    # without a release period the reserve is never the backfill's (as before)
    kept = SlidingWindow("qpd", 0, day)
    kept.begin(T0)
    kept.take(T0, 80)
    assert kept.next_time(T0, 11, reserved=True) == slid


QUOTAS = {
    "sliding": lambda params: SlidingWindow(
        "qpd",
        0,
        {"window_s": 86_400.0, "granularity_s": 600.0, "reset_utc": "04:00", **params},
    ),
    "daily": lambda params: DailyQuota("quota", 0, {"reset_utc": "04:00", **params}),
}


@pytest.mark.parametrize("kind", sorted(QUOTAS))
@pytest.mark.parametrize(
    ("floor", "held", "kept"),
    [
        (0.02, None, 100),  # nothing learned: the whole reserve, as before
        (0.02, 0, 20),  # no syncs seen: the floor
        (0.02, 45, 45),  # what the syncs need
        (0.02, 400, 100),  # never more than the reserve
        (None, 45, 100),  # no floor set: the reserve is fixed
    ],
)
def test_a_quota_holds_the_syncs_need_between_its_floor_and_its_reserve(
    kind: str, floor: float | None, held: int | None, kept: int
) -> None:
    quota = QUOTAS[kind]({"limit": 1000, "reserve": 0.1, "reserve_floor": floor})
    quota.begin(T0)
    if held is not None:
        quota.hold(held, release=False)
    quota.take(T0, 1000 - kept - 1)
    assert quota.next_time(T0, 1, reserved=True) == T0
    quota.take(T0, 1)
    assert quota.next_time(T0, 1, reserved=True) > T0  # the rest is kept from backfills
    assert quota.next_time(T0, kept, reserved=False) == T0  # ... for the daily syncs
    assert quota.describe(T0)["reserve_units"] == kept
    twin = QUOTAS[kind]({"limit": 1000, "reserve": 0.1, "reserve_floor": floor})
    twin.load(quota.state())
    assert twin.describe(T0)["reserve_units"] == kept


@pytest.mark.parametrize("kind", sorted(QUOTAS))
def test_a_release_period_gives_the_reserve_to_backfills_only_while_released(kind: str) -> None:
    params = {"limit": 100, "reserve": 0.1, "reserve_floor": 0.02, "release_s": 3_600.0}
    quota = QUOTAS[kind](params)
    quota.begin(T0)
    quota.take(T0, 95)
    quota.hold(10, release=False)  # the day's syncs are due: their reserve is theirs
    in_release = parse_time("2026-09-22T03:30:00Z")
    after = parse_time("2026-09-22T04:00:00Z")
    assert quota.next_time(in_release, 1, reserved=True) >= after
    assert quota.next_time(in_release, 5, reserved=False) == in_release
    assert quota.free_units(in_release, in_release, reserved=True) == 0
    twin = QUOTAS[kind](params)
    twin.load(quota.state())
    assert twin.next_time(in_release, 1, reserved=True) >= after
    quota.hold(10, release=True)  # the syncs are over
    assert quota.next_time(in_release, 5, reserved=True) == in_release
    assert quota.free_units(in_release, in_release, reserved=True) == 5
    assert quota.next_time(T0, 1, reserved=True) == parse_time("2026-09-22T03:00:00Z")


def test_sliding_window_sync_adds_what_others_used() -> None:
    qps = SlidingWindow("qps", 0, {"limit": 10, "window_s": 1.0, "granularity_s": 0.1})
    qps.begin(T0)
    qps.take(T0, 2)
    qps.sync(T0, remaining=3, unseen=0)  # the platform saw 7: 5 are not ours
    assert qps.next_time(T0, 3, False) == T0
    assert qps.next_time(T0, 4, False) > T0


# ------------------------------------------------------------------ settings
def test_from_settings_defaults_for_every_platform() -> None:
    amazon = PlatformPolicy.from_settings("amazon", {})
    assert amazon.lanes["getOrders"].limits[0].params == {"rate": 0.0167, "burst": 20}
    shopify = PlatformPolicy.from_settings("shopify", {})
    assert shopify.lanes["rest"].limits[0].params == {"rate": 2, "burst": 40}
    assert shopify.lanes["graphql"].limits[0].params["burst"] == 2000
    ebay = PlatformPolicy.from_settings("ebay", {})
    assert ebay.lanes["finances"].limits[0].params["limit"] == 15_000
    assert ebay.lane_of("order") == "fulfillment"
    etsy = PlatformPolicy.from_settings("etsy", {})
    assert [s.name for s in etsy.lanes["api"].limits] == ["qps", "qpd"]
    quiltt = PlatformPolicy.from_settings("quiltt", {})
    assert quiltt.lanes["api"].limits[0].params["limit"] == 100


def test_from_settings_overrides_in_every_form() -> None:
    amazon = PlatformPolicy.from_settings(
        "amazon",
        {
            "getOrders": {"rate": 0.5, "burst": 5},
            "getOrderItems.burst": 3,
            "horizon_s": 7,
            "demo_cap": 50,
            "mismatch_share": 0.1,  # another component's key: ignored
        },
    )
    assert amazon.lanes["getOrders"].limits[0].params == {"rate": 0.5, "burst": 5}
    assert amazon.lanes["getOrderItems"].limits[0].params["burst"] == 3
    assert amazon.lanes["getReport"].horizon_s == 7 and amazon.demo_cap == 50
    plus = PlatformPolicy.from_settings("shopify", {"plan": "plus", "rest": {"size": 500}})
    assert plus.lanes["rest"].limits[0].params == {"rate": 20, "burst": 500}
    etsy = PlatformPolicy.from_settings("etsy", {"api": {"qpd.limit": 5000}})
    assert etsy.lanes["api"].limits[1].params["limit"] == 5000


@pytest.mark.parametrize(
    ("platform", "overrides", "message"),
    [
        ("amazon", {"getOrders": {"speed": 1}}, "has no field 'speed'"),
        ("shopify", {"plan": "platinum"}, "unknown plan"),
        ("myspace", {}, "no limit policy"),
        ("amazon", {"getOrders.rate": 0}, "rate must be > 0"),
        ("etsy", {"release_s": 90_000}, "release_s must lie between 0 and window_s"),
    ],
)
def test_bad_settings_say_what_is_wrong(platform: str, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        policy = PlatformPolicy.from_settings(platform, overrides)
        for spec in policy.lanes.values():
            spec.build()


def test_unknown_route_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown route 'getFoo'.*getOrders"):
        PlatformPolicy.from_settings("amazon", {}).lane_of("getFoo")


def test_lane_state_round_trips_through_json() -> None:
    spec = LaneSpec(
        "x",
        (
            LimitSpec("token_bucket", "b", {"rate": 1, "burst": 3}),
            LimitSpec("sliding_window", "w", {"limit": 5, "window_s": 10}),
            LimitSpec("daily_quota", "q", {"limit": 7}),
        ),
        lease_s=0,
    )
    first = spec.build()
    first.begin(T0)
    first.plan(T0, 4, 1, False, end=2**62)
    second = spec.build(first.state())
    second.begin(T0)
    assert second.plan(T0, 3, 1, False, end=2**62) == first.plan(T0, 3, 1, False, end=2**62)


def test_times_are_exact_microseconds_and_permits_whole_milliseconds() -> None:
    assert parse_time("2026-09-21T14:13:20.000001Z") == T0 + 1
    assert parse_time(format_time(T0 + 123_456)) == T0 + 123_456
    assert ceil_ms(T0 + 1) == T0 + 1000 and ceil_ms(T0) == T0
    with pytest.raises(ConfigurationError):
        from datetime import datetime

        parse_time(datetime(2026, 1, 1))  # naive


@pytest.mark.parametrize(("rate", "burst", "lease"), [(2.0, 2, 2.0), (20.0, 5, 0.5), (1.0, 1, 0.3)])
def test_a_lease_longer_than_the_burst_absorbs_is_planned_at_the_best_safe_rate(
    rate: float, burst: int, lease: float
) -> None:
    """Lateness beyond ``(B - 1)/r``: permits are spaced ``(L + T + 1 ms)/B`` (every
    ``B + 1`` permits must span ``L + T``), and no pattern of lateness inside the lease
    — every permit on time or at the end of its lease — makes the bucket refuse one."""
    bucket = TokenBucket("b", round(lease * S), {"rate": rate, "burst": burst})
    bucket.begin(T0)
    times = []
    for _ in range(10):
        t = bucket.next_time(T0, 1, False)
        bucket.take(t, 1)
        times.append(t)
    best = burst / (lease + 1 / rate)  # permits per second any safe schedule can reach
    assert (len(times) - 1) / ((times[-1] - times[0]) / S) == pytest.approx(best, rel=0.01)
    late = round(lease * S) - 1
    for pattern in itertools.product((0, late), repeat=len(times)):
        arrivals = [(t + d, 1) for t, d in zip(times, pattern, strict=True)]
        assert ref.token_bucket_refusals(arrivals, rate, burst) == []
