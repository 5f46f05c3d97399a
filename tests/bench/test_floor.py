"""The floor: calls counted per bucket, times per limit kind, the slowest bucket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.floor import (
    OFFERED_BULK,
    Census,
    PlatformCensus,
    amazon_calls,
    etsy_calls,
    floor,
    lane_seconds,
    pages,
    shopify_calls,
    shopify_points,
    slices,
)
from shared.ambassador.policies import LaneSpec, LimitSpec, PlatformPolicy
from shared.platforms.amazon.pagination import INVENTORY_LISTINGS
from shared.platforms.shopify.queries import BULK_POLL_COST, BULK_RUN_COST, QUERIES

DAY = 86_400.0
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC).timestamp()


def lane(*limits: tuple[str, dict]) -> LaneSpec:
    return LaneSpec("x", tuple(LimitSpec(kind, f"l{i}", p) for i, (kind, p) in enumerate(limits)))


@pytest.mark.parametrize(
    ("n", "size", "want"), [(0, 100, 1), (1, 100, 1), (100, 100, 1), (101, 100, 2), (250, 50, 5)]
)
def test_pages_are_at_least_one(n, size, want) -> None:
    assert pages(n, size) == want


def test_slices_count_records_per_slice_and_cover_the_window() -> None:
    times = [START + 5, START + 99, START + 100, START + 250, START + 300, START - 1]
    assert slices(START, START + 300, 100, times) == [2, 1, 1]  # end excluded, before ignored
    assert slices(START, START + 10, 100, []) == [0]


@pytest.mark.parametrize(
    ("limits", "units", "want"),
    [
        ((("token_bucket", {"rate": 0.5, "burst": 30}),), 30, 0.0),  # within the burst
        ((("token_bucket", {"rate": 0.5, "burst": 30}),), 130, 200.0),
        ((("leaky_bucket", {"rate": 2, "burst": 40}),), 140, 50.0),
        ((("cost_bucket", {"rate": 100, "burst": 2000, "max_cost": 1000}),), 12_000, 100.0),
        ((("sliding_window", {"limit": 10, "window_s": 1.0}),), 110, 10.0),
        ((("sliding_window", {"limit": 10_000, "window_s": DAY}),), 25_000, 2 * DAY),
        ((("sliding_window", {"limit": 10_000, "window_s": DAY}),), 10_000, 0.0),
        ((("fixed_window", {"limit": 100, "window_s": 1.0}),), 250, 2.0),
        # Etsy: both windows; the day binds
        (
            (
                ("sliding_window", {"limit": 10, "window_s": 1.0}),
                ("sliding_window", {"limit": 10_000, "window_s": DAY}),
            ),
            20_010,
            2 * DAY,
        ),
    ],
)
def test_lane_seconds_per_limit_kind(limits, units, want) -> None:
    assert lane_seconds(lane(*limits), units, START) == pytest.approx(want)


@pytest.mark.parametrize(
    ("units", "want"),
    [
        (15_000, 0.0),  # one day's quota: no reset needed
        (15_001, 7 * 3600.0),  # the first reset is at 07:00 UTC, 7 h after the start
        (30_001, 7 * 3600.0 + DAY),
    ],
)
def test_daily_quota_counts_days_from_the_next_reset(units, want) -> None:
    quota = lane(("daily_quota", {"limit": 15_000, "reset_utc": "07:00"}))
    assert lane_seconds(quota, units, START) == pytest.approx(want)


def test_daily_quota_after_todays_reset_waits_for_tomorrows() -> None:
    quota = lane(("daily_quota", {"limit": 10, "reset_utc": "07:00"}))
    eight = START + 8 * 3600
    assert lane_seconds(quota, 11, eight) == pytest.approx(23 * 3600)


def test_unknown_limit_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown limit kind"):
        lane_seconds(lane(("mystery", {})), 1, START)


def _amazon(orders: int, items_each: int, groups: int, events_each: int) -> PlatformCensus:
    c = PlatformCensus("c1", "amazon", START - 365 * DAY, START)
    c.counts.update(orders=orders, returns=3, order_items=orders * items_each)
    c.per_parent["items_per_order"] = [items_each] * orders
    c.per_parent["events_per_group"] = [events_each] * groups
    c.times["groups"] = [c.start + i * 14 * DAY for i in range(groups)]
    c.per_parent["summaries_per_market"] = [120, 3]
    return c


def test_amazon_per_record_calls_follow_the_chains() -> None:
    calls = amazon_calls(_amazon(orders=250, items_each=12, groups=26, events_each=150), bulk=False)
    assert calls["getOrders"][0] == 2 * 3  # orders, and the items' driver, pages of 100
    assert calls["getOrderItems"][0] == 250 * 2  # 12 items: two pages of 10 per order
    assert calls["createReport"][0] == 1  # the returns report only
    assert calls["listFinancialEventGroups"][0] == 2 * 3  # 365 days: three 180-day slices
    assert calls["listFinancialEventsByGroupId"][0] == 26 * 2
    # pages of 50 per marketplace, each marketplace listed twice (the listings compared)
    assert INVENTORY_LISTINGS == 2
    assert calls["getInventorySummaries"][0] == 2 * (3 + 1)


def test_amazon_bulk_replaces_orders_and_items_by_reports() -> None:
    calls = amazon_calls(_amazon(orders=250, items_each=12, groups=26, events_each=150), bulk=True)
    assert "getOrders" not in calls and "getOrderItems" not in calls
    # one all-orders report serves orders and items (the second block adopts it), + returns
    assert calls["createReport"][0] == calls["getReport"][0] == calls["getReportDocument"][0] == 2


def test_amazon_groups_too_old_for_by_group_are_counted_by_posted_date() -> None:
    c = _amazon(orders=250, items_each=12, groups=60, events_each=150)  # 60 x 14 days
    c.start = START - 60 * 14 * DAY
    c.times["groups"] = [c.start + i * 14 * DAY for i in range(60)]
    c.times["group_ends"] = [t + 14 * DAY for t in c.times["groups"]]
    c.per_parent["events_in_group_span"] = [350] * 60  # other marketplaces' events too
    calls = amazon_calls(c, bulk=True)
    old = sum(1 for t in c.times["groups"] if t < START - 700 * DAY)  # 730 less the 30 margin
    assert old == 10
    assert calls["listFinancialEvents"][0] == old * 4  # 350 events: pages of 100
    assert calls["listFinancialEventsByGroupId"][0] == (60 - old) * 2


def test_amazon_floor_is_its_slowest_bucket() -> None:
    census: Census = {("c1", "amazon"): _amazon(8000, 1, 52, 100)}
    policies = {"amazon": PlatformPolicy.from_settings("amazon", {})}
    per_record = floor(census, policies, bulk=False)
    assert per_record.binding.lane == "getOrderItems"
    assert per_record.seconds == pytest.approx((8000 - 30) / 0.5)
    tributary = floor(census, policies, bulk=True)
    assert tributary.seconds < per_record.seconds
    assert tributary.binding.lane == "listFinancialEventsByGroupId"
    assert tributary.seconds == pytest.approx((52 - 30) / 0.5)
    assert tributary.calls == sum(b.calls for b in tributary.buckets)


def test_shopify_points_charge_each_page_its_requested_cost() -> None:
    q = QUERIES["orders"]
    size = q.page_size()
    assert shopify_points("orders", 2 * size + 1) == 2 * q.cost(size) + q.cost(1)
    assert shopify_points("orders", 0) == q.cost(0)  # the empty page is one query


def _shopify(orders: int, transactions: int, payouts: int, items: int) -> PlatformCensus:
    c = PlatformCensus("c1", "shopify", START - 400 * DAY, START)
    c.counts.update(
        orders=orders,
        order_items=orders,
        returns=orders,
        transactions=transactions,
        payouts=payouts,
        inventory=items,
    )
    c.per_parent["lines_per_refunded_order"] = []
    return c


def test_shopify_every_bulk_path_pages_payments_the_bulk_api_does_not_take() -> None:
    c = _shopify(orders=5000, transactions=9000, payouts=700, items=300)
    best = shopify_calls(c, bulk=True)["graphql"]
    bulk_job = BULK_RUN_COST + BULK_POLL_COST
    paged = ("transactions", "payouts")
    want_points = 4 * bulk_job + sum(shopify_points(r, c.counts[r]) for r in paged)
    want_calls = 4 * 2 + sum(pages(c.counts[r], QUERIES[r].page_size()) for r in paged)
    assert best == [want_calls, want_points]
    # naming payments among the allowed paths does not make a bulk path of them
    everything = {("shopify", r) for r in c.counts}
    assert shopify_calls(c, bulk=True, only=everything)["graphql"] == best
    assert ("shopify", "transactions") not in OFFERED_BULK
    assert ("shopify", "payouts") not in OFFERED_BULK
    # and the payments' points bind the shop's floor: 100 points/s after a 2,000 burst
    policies = {"shopify": PlatformPolicy.from_settings("shopify", {})}
    result = floor({("c1", "shopify"): c}, policies, bulk=True)
    assert result.seconds == pytest.approx((want_points - 2000) / 100)


def _etsy(client: str, receipts: int) -> PlatformCensus:
    c = PlatformCensus(client, "etsy", START - 62 * DAY, START)
    c.counts.update(receipts=receipts, lines=2 * receipts, listings=40, refunded=receipts // 20)
    c.times["ledger"] = [c.start + i * 3600 for i in range(300)]  # all in the first window
    return c


def test_etsy_calls_count_the_per_receipt_fan_outs() -> None:
    c = _etsy("c1", 250)
    bulk, per_record = etsy_calls(c, bulk=True)["api"][0], etsy_calls(c, bulk=False)["api"][0]
    ledger = 3 + 1  # 62 days: two 31-day windows; 300 entries in the first, pages of 100
    # orders, ledger x2, returns (a payment per refunded receipt), inventory (one page)
    common = 3 + 2 * ledger + (3 + 12) + 1
    assert bulk == common + 5  # transactions by shop, pages of 100
    assert per_record == common + 3 + 250  # receipts, then one call per receipt


def test_per_application_buckets_add_up_every_client() -> None:
    census: Census = {(f"c{i}", "etsy"): _etsy(f"c{i}", 4000) for i in range(5)}
    policies = {"etsy": PlatformPolicy.from_settings("etsy", {})}
    result = floor(census, policies, bulk=False)
    [bucket] = result.buckets
    assert bucket.scope == "application"
    assert bucket.calls == 5 * etsy_calls(census[("c0", "etsy")], bulk=False)["api"][0]
    assert bucket.calls > 20_000 and result.seconds == pytest.approx(2 * DAY)


def test_per_account_buckets_serve_each_client_apart() -> None:
    census: Census = {(f"c{i}", "amazon"): _amazon(8000, 1, 52, 100) for i in range(3)}
    policies = {"amazon": PlatformPolicy.from_settings("amazon", {})}
    result = floor(census, policies, bulk=False)
    assert result.seconds == pytest.approx((8000 - 30) / 0.5)  # in parallel, not 3x
    assert len({b.scope for b in result.buckets}) == 3


def test_only_restricts_bulk_to_the_planned_paths() -> None:
    amazon = _amazon(orders=250, items_each=12, groups=26, events_each=150)
    only_orders = amazon_calls(amazon, bulk=True, only={("amazon", "orders")})
    assert only_orders["createReport"][0] == 2  # returns, orders
    assert only_orders["getOrders"][0] == 3  # the items' driver only
    assert only_orders["getOrderItems"][0] == 250 * 2
    planned = {("amazon", "orders"), ("amazon", "order_items")}
    assert amazon_calls(amazon, bulk=True, only=planned) == amazon_calls(amazon, bulk=True)
    etsy = _etsy("c1", 250)
    assert etsy_calls(etsy, bulk=True, only=planned) == etsy_calls(etsy, bulk=False)
    assert etsy_calls(etsy, bulk=True, only={("etsy", "order_items")}) == etsy_calls(
        etsy, bulk=True
    )


def test_planned_floor_lies_between_every_bulk_path_and_per_record() -> None:
    census: Census = {("c1", "etsy"): _etsy("c1", 11_000), ("c1", "amazon"): _amazon(800, 1, 5, 9)}
    policies = {p: PlatformPolicy.from_settings(p, {}) for p in ("etsy", "amazon")}
    best = floor(census, policies, bulk=True)
    planned = floor(census, policies, bulk=True, only={("amazon", "orders")})
    per_record = floor(census, policies, bulk=False)
    assert best.calls < planned.calls < per_record.calls
    # 11,000 receipts: item calls per receipt push Etsy past its 10,000 a day
    assert best.per_platform_s["etsy"] < DAY <= planned.per_platform_s["etsy"]
