"""The Amazon usage-plan model: token buckets per (seller, operation), on explicit time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.amazon.limits import DEFAULT_PLANS, RateLimiter, TokenBucket, UsagePlan, plans_with


@pytest.mark.parametrize(
    ("operation", "rate", "burst"),
    [
        ("getOrders", 0.0167, 20),
        ("getOrderItems", 0.5, 30),
        ("listFinancialEvents", 0.5, 30),
        ("listFinancialEventGroups", 0.5, 30),
        ("listFinancialEventsByGroupId", 0.5, 30),
        ("createReport", 0.0167, 15),
        ("getReportDocument", 0.0167, 15),
        ("getReport", 2.0, 15),
        ("getInventorySummaries", 2.0, 2),
    ],
)
def test_default_plans_are_the_spec_usage_plans(operation: str, rate: float, burst: int) -> None:
    assert DEFAULT_PLANS[operation] == UsagePlan(rate, burst)


def test_get_orders_serves_a_burst_of_20_then_one_per_minute() -> None:
    bucket = TokenBucket.full(DEFAULT_PLANS["getOrders"], now=1000.0)
    assert all(bucket.try_take(1000.0) for _ in range(20))
    assert not bucket.try_take(1000.0)
    assert bucket.wait(1000.0) == pytest.approx(1 / 0.0167)
    assert not bucket.try_take(1059.0)
    assert bucket.try_take(1060.0)
    assert not bucket.try_take(1060.0)


def test_a_refused_request_takes_nothing() -> None:
    bucket = TokenBucket.full(UsagePlan(1.0, 1), now=0.0)
    assert bucket.try_take(0.0)
    for t in (0.2, 0.4, 0.6, 0.8):
        assert not bucket.try_take(t)
    assert bucket.try_take(1.0)


def test_buckets_are_per_seller_and_operation() -> None:
    limiter = RateLimiter({"getOrders": UsagePlan(0.0167, 1), "getOrder": UsagePlan(0.5, 1)})
    assert limiter.try_take("seller-a", "getOrders", 0.0)
    assert not limiter.try_take("seller-a", "getOrders", 0.0)
    assert limiter.try_take("seller-b", "getOrders", 0.0)
    assert limiter.try_take("seller-a", "getOrder", 0.0)


@pytest.mark.parametrize(
    "overrides",
    [{"getOrders": {"rate": 0.5, "burst": 5}}, {"getOrders.rate": 0.5, "getOrders.burst": 5}],
)
def test_overrides_in_both_forms(overrides: dict) -> None:
    plans = plans_with(overrides)
    assert plans["getOrders"] == UsagePlan(0.5, 5)
    assert plans["getReport"] == DEFAULT_PLANS["getReport"]


def test_unknown_operation_override_is_refused_and_other_keys_ignored() -> None:
    with pytest.raises(KeyError):
        plans_with({"getNothing": {"rate": 1}})
    assert plans_with({"latency": 0}) == DEFAULT_PLANS


@pytest.mark.parametrize(("rate", "header"), [(0.0167, "0.0167"), (0.5, "0.5"), (2, "2.0")])
def test_rate_limit_header_text(rate: float, header: str) -> None:
    assert UsagePlan(rate, 1).header == header


@given(
    rate=st.sampled_from([0.0167, 0.5, 2.0]),
    burst=st.integers(1, 30),
    gaps=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=200),
)
def test_never_grants_beyond_burst_plus_refill(rate: float, burst: int, gaps: list[float]) -> None:
    bucket = TokenBucket.full(UsagePlan(rate, burst), now=0.0)
    t, granted = 0.0, 0
    for gap in gaps:
        t += gap
        granted += bucket.try_take(t)
        assert granted <= burst + rate * t + 1e-9
