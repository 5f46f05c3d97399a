"""The scheduler's rules on explicit scenarios (the properties are in test_properties)."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import asdict
from typing import Any

import pytest

from shared.ambassador.limits import US, format_time, parse_time
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import (
    AcquireAnswer,
    AcquireRequest,
    CompleteRequest,
    ObserveRequest,
    Reading,
    ReleaseRequest,
)
from shared.ambassador.scheduler import Scheduler
from shared.errors import ConfigurationError
from tests.ambassador.simulation import START, Caller, simulate


class Ambassador:
    """The scheduler driven like the entity: state through JSON between operations."""

    def __init__(self, platform: str, **overrides: Any) -> None:
        self.policy = PlatformPolicy.from_settings(platform, overrides)
        self.state: dict | None = None
        self.ids = 0

    def _run(self, method: str, request: Any) -> Any:
        scheduler = Scheduler(self.policy, self.state)
        answer = getattr(scheduler, method)(request)
        self.state = json.loads(json.dumps(scheduler.to_state()))
        return answer

    def acquire(self, caller: str, at: float, want: int, **kw: Any) -> AcquireAnswer:
        self.ids += 1
        fields = {"route": "rest", "client": "c1", "tier": "daily", "resource": "orders"}
        fields |= {"request_id": f"r{self.ids}"} | kw
        req = AcquireRequest(caller=caller, want=want, now=when(at), **fields)
        return self._run("acquire", req)

    def observe(self, caller: str, at: float, **kw: Any):
        self.ids += 1
        fields = {"route": "rest", "request_id": f"o{self.ids}"} | kw
        return self._run("observe", ObserveRequest(caller=caller, now=when(at), **fields))

    def release(
        self,
        caller: str,
        at: float,
        grant_id: str,
        unused: int,
        route: str = "rest",
        expired: list | None = None,
    ):
        self.ids += 1
        req = ReleaseRequest(
            caller=caller,
            request_id=f"x{self.ids}",
            route=route,
            grant_id=grant_id,
            unused=unused,
            now=when(at),
            expired=expired or [],
        )
        return self._run("release", req)

    def complete(self, caller: str, at: float, route: str | None = None):
        return self._run("complete", CompleteRequest(caller=caller, route=route, now=when(at)))

    def snapshot(self, at: float):
        return Scheduler(self.policy, self.state).snapshot(when(at))


def when(seconds: float):
    return format_time(START + round(seconds * US))


def secs(t) -> float:
    return (parse_time(t) - START) / US


# ------------------------------------------------------------------ demo cap
def test_demo_gets_100_requests_per_customer_and_the_101st_is_refused() -> None:
    amb = Ambassador("shopify", **{"rest.burst": 400, "rest.rate": 20})
    first = amb.acquire("demo-1", 0, 100, tier="demo", client="prospect")
    assert first.granted == 100 and first.demo_remaining == 0
    refused = amb.acquire("demo-1", 10, 1, tier="demo", client="prospect")
    assert refused.granted == 0 and refused.refused == "demo_cap"
    assert "capped at 100 requests per marketplace per customer" in refused.reason
    assert refused.retry_at is None  # asking again will not help
    other = amb.acquire("demo-2", 10, 5, tier="demo", client="someone-else")
    assert other.granted == 5


def test_a_demo_ask_across_the_cap_gets_what_is_left() -> None:
    amb = Ambassador("shopify", **{"rest.burst": 400, "rest.rate": 20})
    assert amb.acquire("d", 0, 70, tier="demo").granted == 70
    partial = amb.acquire("d", 5, 50, tier="demo")
    assert partial.granted == 30 and partial.demo_remaining == 0
    assert amb.acquire("d", 9, 1, tier="demo").refused == "demo_cap"


# ------------------------------------------------------------------ idempotency
def test_a_repeated_acquire_gets_the_same_answer_and_spends_nothing() -> None:
    amb = Ambassador("shopify", lease_s=0)
    first = amb.acquire("w1", 0, 30, request_id="same")
    again = amb.acquire("w1", 0.5, 30, request_id="same")
    assert again == first
    assert amb.acquire("w2", 1, 10).granted == 10  # 40 - 30 = 10 left: spent once


def test_a_repeated_observation_or_release_applies_once() -> None:
    amb = Ambassador("shopify", lease_s=0)
    amb.acquire("w", 0, 40)
    first = amb.observe("w", 0, request_id="o", throttled=True, retry_after_s=30)
    again = amb.observe("w", 0, request_id="o", throttled=True, retry_after_s=90)
    assert first.applied and not again.applied
    assert secs(again.blocked_until) == 30


# ------------------------------------------------------------------ priority
def saturate(amb: Ambassador, caller: str, at: float = 0, **kw: Any) -> AcquireAnswer:
    return amb.acquire(caller, at, 100, **kw)


def test_a_hungry_demo_blocks_lower_classes_until_it_has_been_served() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=10)
    saturate(amb, "backfill", tier="backfill")  # 40 now, 20 more within 10 s
    demo = amb.acquire("demo", 1, 50, tier="demo", client="p")
    assert 0 < demo.granted < 50 and demo.waiting_for == "capacity"
    blocked = amb.acquire("daily", 2, 10, client="c2")
    assert blocked.granted == 0 and blocked.waiting_for == "priority"
    assert parse_time(blocked.retry_at) > parse_time(demo.retry_at)
    # the demo comes back when told and gets the capacity first
    again = amb.acquire("demo", secs(demo.retry_at), 50 - demo.granted, tier="demo", client="p")
    assert again.granted > 0


def test_within_a_client_orders_come_before_transactions() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=5)
    orders = saturate(amb, "orders")
    assert orders.waiting_for == "capacity"
    transactions = amb.acquire("txn", 1, 10, resource="transactions")
    assert transactions.granted == 0 and transactions.waiting_for == "priority"
    other_client = amb.acquire("txn-b", 1, 10, resource="transactions", client="c2")
    assert other_client.waiting_for != "priority"  # clients are not ranked against each other


def test_a_class_behind_its_own_clients_hungry_orders_backs_off_while_others_are_served() -> None:
    """On a shared lane (Etsy's, per application) a client's orders wait for their share
    while other clients are served: its transactions cannot get a permit before its
    orders are done, and asking after every retry of theirs (about a second) cost 85 %
    of the lane's acquires. They back off, doubling up to a horizon, and are still
    served within about a horizon once the orders are done."""
    policy = PlatformPolicy.from_settings("etsy", {})
    ours = [
        Caller("a-orders", client="a", resource="orders", want=100, backlog=1500, latency_s=0.3),
        Caller("a-txn", client="a", resource="transactions", want=20, latency_s=0.3),
    ]
    others = [Caller(f"{x}-orders", client=x, want=100, latency_s=0.3) for x in "bcd"]
    run = simulate(policy, [*ours, *others], 1200)
    asks = [(now, a) for now, c, _, a in run.log if c.name == "a-txn"]
    first = min(u.permit for u in run.uses if u.caller == "a-txn")
    orders_done = max(u.permit for u in run.uses if u.caller == "a-orders")
    waits = [parse_time(a.retry_at) - now for now, a in asks if a.waiting_for == "priority"]
    assert len(waits) > 10 and max(waits) <= 20 * US  # backed off, at most a horizon
    assert sum(1 for now, _ in asks if now < first) < 60  # 447 asked one after another
    # (not before the orders' last permit: in its second, they may share an instant)
    assert orders_done <= first <= orders_done + 21 * US


def test_a_class_behind_its_own_clients_orders_follows_them_where_nobody_else_is_served() -> None:
    # a shop's own lane: the transactions are the only ones to take it once orders end
    amb = Ambassador("shopify", lease_s=0, horizon_s=5)
    orders = saturate(amb, "orders")
    at = 1.0
    for _ in range(5):
        txn = amb.acquire("txn", at, 10, resource="transactions")
        assert txn.waiting_for == "priority"
        assert secs(txn.retry_at) == max(at + 1, secs(orders.retry_at) + 0.001)
        orders = amb.acquire("orders", secs(orders.retry_at), 100)
        at = secs(txn.retry_at)


def test_a_dead_callers_claim_expires_after_its_grace() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=5, grace_s=30)
    demo = saturate(amb, "demo", tier="demo")  # ... and never comes back
    retry = secs(demo.retry_at)
    assert amb.acquire("bf", retry + 29, 5, tier="backfill").waiting_for == "priority"
    assert amb.acquire("bf", retry + 31, 5, tier="backfill").granted == 5


def test_complete_ends_a_claim_at_once() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=5)
    saturate(amb, "demo", tier="demo")
    assert amb.complete("demo", 1).completed == 1
    after = amb.acquire("bf", 2, 5, tier="backfill")
    assert after.granted > 0 and after.waiting_for != "priority"


# ------------------------------------------------------------------ shares
def test_orders_and_items_share_1_to_3_and_items_take_all_when_orders_are_done() -> None:
    policy = PlatformPolicy.from_settings("shopify", {})
    callers = [
        Caller("o", resource="orders", want=100, route="rest", backlog=600),
        Caller("i", resource="order_items", want=100, route="rest"),
    ]
    run = simulate(policy, callers, 1600)
    both = run.count(100, 900, lambda u: u.caller)  # orders run out at about 1000 s
    assert both["i"] / both["o"] == pytest.approx(3, rel=0.05)
    orders_done = max(u.permit for u in run.uses if u.caller == "o")
    after = run.count((orders_done - START) / US + 1, 1600, lambda u: u.caller)
    assert set(after) == {"i"}
    assert sum(after.values()) >= 0.98 * 2 * (1600 - (orders_done - START) / US - 1)


def test_the_answer_tells_a_caller_its_fair_share() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=20)
    amb.acquire("a", 0, 30, client="a")
    small = amb.acquire("b", 0, 2, client="b")
    assert small.granted == 2 and small.fair_share > 2


# ------------------------------------------------------------------ observations
def test_a_429_blocks_the_lane_for_the_platforms_wait() -> None:
    amb = Ambassador("shopify", lease_s=0)
    amb.acquire("w", 0, 10)
    amb.observe("w", 1, throttled=True, retry_after_s=4.0)
    after = amb.acquire("w", 2, 5)
    assert all(secs(t) >= 5.0 for t in after.times)


def test_amazon_429_without_retry_after_backs_off_and_slows_the_plan() -> None:
    amb = Ambassador("amazon", lease_s=0)
    amb.acquire("w", 0, 5, route="getOrderItems")
    amb.observe("w", 0, route="getOrderItems", throttled=True)
    grant = amb.acquire("w", 0, 3, route="getOrderItems")
    gaps = [secs(b) - secs(a) for a, b in zip(grant.times, grant.times[1:], strict=False)]
    assert secs(grant.times[0]) >= 1.0 and all(g >= 2.5 for g in gaps)  # 0.5/s x 0.8


def test_remaining_reading_tightens_and_unseen_permits_count() -> None:
    amb = Ambassador("shopify", lease_s=0)
    amb.acquire("w", 0, 10)
    # another app used the shop: the platform had 5 left after our request at t=0
    amb.observe("w", 0, request_at=when(0), readings=[Reading(remaining=5, capacity=40)])
    grant = amb.acquire("w", 0, 10)
    assert [secs(t) for t in grant.times[:6]] == [0, 0, 0, 0, 0, 0.5]


def test_readings_taken_during_our_own_burst_do_not_tighten() -> None:
    """The platform sees a burst's requests one by one; each reading says less is left,
    but all of it is ours. (Counted as unseen, every seen permit of the burst became
    phantom use, reading after reading: 10 % of a 20-block Shopify run.)"""
    plain, observed = Ambassador("shopify"), Ambassador("shopify")
    for amb in (plain, observed):
        grant = amb.acquire("w", 0, 40, request_id="burst")
    at_once = sum(1 for t in grant.times if t == when(0))  # 36: the lease costs 4
    for used in range(1, at_once + 1):
        reading = Reading(remaining=40 - used, capacity=40)
        observed.observe("w", 0.2, request_at=when(0), readings=[reading])
    assert observed.acquire("w", 1, 10).times == plain.acquire("w", 1, 10).times


def test_graphql_actual_cost_refunds_the_estimate() -> None:
    amb = Ambassador("shopify", lease_s=0, **{"graphql.margin": 0})  # the bucket exactly
    big = amb.acquire("g", 0, 2, route="graphql", cost=1000)
    assert big.granted == 2  # 2000 points
    assert amb.acquire("g2", 0, 1, route="graphql", cost=500).times[0] == when(5)
    amb.observe("g", 0, route="graphql", charged=1000, actual=100)  # refund 900
    assert amb.acquire("g3", 0, 1, route="graphql", cost=400).times[0] == when(0)


def test_ebay_reset_reported_by_get_rate_limits_is_adopted() -> None:
    amb = Ambassador("ebay", **{"fulfillment.limit": 10})
    assert amb.acquire("w", 0, 10, route="fulfillment").granted == 10
    reset = "2026-09-21T15:00:00Z"  # START is 14:13:20
    reading = Reading(remaining=0, capacity=10, reset_at=reset)
    amb.observe("w", 1, route="fulfillment", readings=[reading])
    wait = amb.acquire("w", 2, 10, route="fulfillment")
    assert wait.granted == 0 and secs(wait.retry_at) == secs(reset) - 60  # the horizon


# ------------------------------------------------------------------ release, errors
def test_release_returns_the_tail_of_a_bucket_and_any_unused_quota() -> None:
    amb = Ambassador("shopify", lease_s=0)
    grant = amb.acquire("w", 0, 50, request_id="g1")
    assert grant.granted == 50  # 40 now, then one every 0.5 s up to 5.0 s
    assert amb.release("w", 1, "g1", unused=20).returned == 8  # only those still ahead
    again = amb.acquire("w2", 1, 9)
    assert (again.times[0], again.times[-1]) == (when(1.5), when(5.5))
    quota = Ambassador("ebay", **{"fulfillment.limit": 10})
    quota.acquire("w", 0, 10, route="fulfillment", request_id="q1", tier="demo")
    # quota permits are dated now: none is ahead, nothing to return
    assert quota.release("w", 0, "q1", unused=5, route="fulfillment").returned == 0


def test_unknown_route_and_impossible_cost_are_refused_with_a_reason() -> None:
    amb = Ambassador("shopify")
    assert amb.acquire("w", 0, 1, route="soap").refused == "unknown_route"
    too_big = amb.acquire("w", 0, 1, route="graphql", cost=5000)
    assert too_big.refused == "cost_too_high" and "5000" in too_big.reason
    with pytest.raises(ConfigurationError):
        amb.observe("w", 0, route="soap")


def test_an_operation_from_the_past_is_handled_at_the_latest_time_seen() -> None:
    amb = Ambassador("shopify", lease_s=0)
    amb.acquire("a", 100, 40)
    late = amb.acquire("b", 50, 1)  # a caller whose orchestration time lags
    assert secs(late.times[0]) >= 100


def test_snapshot_shows_waiting_demand_and_quota_use() -> None:
    amb = Ambassador("shopify", lease_s=0, horizon_s=5)
    saturate(amb, "bf", tier="backfill", client="big")
    amb.acquire("demo", 1, 30, tier="demo", client="p")
    snap = amb.snapshot(2)
    rest = snap.lanes["rest"]
    assert [w.caller for w in rest.waiting] == ["demo", "bf"]  # by tier
    assert rest.limits["bucket"]["level"] < 0  # promised ahead
    assert rest.granted > 40 and snap.demo_used == {"p": rest.granted - 50}
    assert json.loads(snap.model_dump_json())["platform"] == "shopify"


def test_state_is_bounded_by_callers_not_by_requests() -> None:
    policy = PlatformPolicy.from_settings("shopify", {"plan": "plus"})
    callers = [Caller(f"w{i}", client=f"c{i % 3}", want=50, route="rest") for i in range(10)]
    short = simulate(policy, [Caller(**vars(c)) for c in callers], 200)
    long = simulate(policy, callers, 2000)
    size_short, size_long = len(json.dumps(short.state)), len(json.dumps(long.state))
    assert len(long.uses) > 8 * len(short.uses)
    assert size_long < 1.2 * size_short and size_long < 12_000


def test_an_etsy_per_second_429_with_day_quota_left_waits_seconds_not_a_day() -> None:
    """The 429's readings say which limit is spent: the day quota still shows room, so
    only the platform's wait applies (emptying the day quota would idle it for 24 h)."""
    amb = Ambassador("etsy", lease_s=0)
    amb.acquire("w", 0, 10, route="api")
    readings = [
        {"limit": "qps", "capacity": 10, "remaining": 0},
        {"limit": "qpd", "capacity": 10_000, "remaining": 9_000},
    ]
    amb.observe("w", 1, route="api", throttled=True, retry_after_s=1.0, readings=readings)
    after = amb.acquire("w", 2, 5, route="api")
    assert after.granted == 5
    assert all(secs(t) < 10 for t in after.times), [secs(t) for t in after.times]


def test_one_429_without_readings_empties_the_short_limits_not_the_day_quota() -> None:
    # eBay's 429s carry no figures: one of them must not idle the lane until the reset
    amb = Ambassador("etsy", lease_s=0, qpd=100)
    amb.acquire("w", 0, 10, route="api")
    amb.observe("w", 1, route="api", throttled=True, retry_after_s=1.0)
    later = amb.acquire("w", 2, 5, route="api")
    assert later.granted > 0
    assert all(secs(t) < 60 for t in later.times), [secs(t) for t in later.times]


def test_429s_without_readings_in_a_row_empty_the_day_quota_too() -> None:
    amb = Ambassador("etsy", lease_s=0, qpd=100)
    amb.acquire("w", 0, 10, route="api")
    for at in (1, 3, 5):
        amb.observe("w", at, route="api", throttled=True, retry_after_s=1.0)
    later = amb.acquire("w", 7, 5, route="api")
    assert later.granted == 0 or all(secs(t) > 3_600 for t in later.times)


def test_an_ok_response_between_blind_429s_starts_the_count_again() -> None:
    amb = Ambassador("etsy", lease_s=0, qpd=100)
    amb.acquire("w", 0, 10, route="api")
    for at in (1, 3):
        amb.observe("w", at, route="api", throttled=True, retry_after_s=1.0)
    amb.observe("w", 4, route="api")
    amb.observe("w", 5, route="api", throttled=True, retry_after_s=1.0)
    later = amb.acquire("w", 7, 5, route="api")
    assert later.granted > 0
    assert all(secs(t) < 60 for t in later.times), [secs(t) for t in later.times]


# ------------------------------------------------------------------ state between operations
RESOURCES = ("orders", "order_items", "transactions", "returns", "payouts")


def mixed_operations(seed: int, count: int, route: str, room: int | None) -> list[tuple[str, Any]]:
    """A seeded mix of every operation from callers of several clients, tiers and
    resources, with times moving forward by up to a few seconds (flows expire, hungry
    flows block lower ones, grants are released, 429s and readings arrive: the lane's
    first limit shows up to ``room`` units left, none without ``room``)."""
    rng = random.Random(seed)
    callers = [
        (f"w{i}", f"c{i % 7}", rng.choice(["backfill"] * 4 + ["daily", "demo"]), RESOURCES[i % 5])
        for i in range(40)
    ]
    last_grant: dict[str, str] = {}
    at, ops = 0.0, []
    for n in range(count):
        at += rng.choice([0.0, 0.0, 0.05, 0.3, 1.0, 4.0, 70.0 if rng.random() < 0.02 else 0.1])
        caller, client, tier, resource = rng.choice(callers)
        kind = rng.random()
        if kind < 0.6:
            rid = f"a{n}" if rng.random() > 0.05 else last_grant.get(caller, f"a{n}")  # repeats
            last_grant[caller] = rid
            fields = {"client": client, "tier": tier, "resource": resource, "route": route}
            req = AcquireRequest(
                caller=caller, request_id=rid, want=rng.randint(1, 20), now=when(at), **fields
            )
            ops.append(("acquire", req))
        elif kind < 0.8:
            throttled = rng.random() < 0.15
            reads = room is not None and rng.random() < 0.5
            readings = [Reading(remaining=rng.randint(0, room or 0))] if reads else []
            req = ObserveRequest(
                caller=caller,
                request_id=f"o{n}",
                route=route,
                now=when(at),
                request_at=when(max(0.0, at - 0.2)),
                throttled=throttled,
                retry_after_s=1.0 if throttled else None,
                readings=readings,
            )
            ops.append(("observe", req))
        elif kind < 0.93 and caller in last_grant:
            req = ReleaseRequest(
                caller=caller,
                request_id=f"x{n}",
                route=route,
                grant_id=last_grant[caller],
                unused=rng.randint(0, 10),
                now=when(at),
            )
            ops.append(("release", req))
        else:
            ops.append(("complete", CompleteRequest(caller=caller, now=when(at))))
    return ops


@pytest.mark.parametrize(
    ("platform", "route", "overrides", "room"),
    [
        ("etsy", "api", {"qpd": 2000, "qps": 10}, 10),
        ("shopify", "rest", {"lease_s": 0.5}, 40),
        ("ebay", "finances", {"finances.limit": 2000}, None),
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_scheduler_kept_between_operations_answers_as_one_rebuilt_from_its_state(
    platform: str, route: str, overrides: dict[str, Any], room: int | None, seed: int
) -> None:
    """The entity keeps its scheduler between operations and writes only the flows an
    operation touched: answers and stored state must be exactly those of a scheduler
    rebuilt from the JSON state for every operation, and each stored flow exactly its
    ``asdict``."""
    policy = PlatformPolicy.from_settings(platform, overrides)
    kept = Scheduler(policy, None)
    state: dict | None = None
    answers = Counter()
    for method, req in mixed_operations(seed, 600, route, room):
        rebuilt = Scheduler(policy, state)
        ours = getattr(kept, method)(req)
        theirs = getattr(rebuilt, method)(req)
        assert ours == theirs, (method, req)
        answers[method, getattr(ours, "granted", 1) > 0] += 1
        stored = kept.to_state()
        state = json.loads(json.dumps(rebuilt.to_state()))
        assert json.loads(json.dumps(stored)) == state
        assert stored_flows(stored) == {key: asdict(f) for key, f in kept.flows.items()}
    # the mix reached the interesting cases: grants and waits, every operation
    assert answers["acquire", True] > 50 and answers["acquire", False] > 50, answers
    assert {m for m, _ in answers} == {"acquire", "observe", "release", "complete"}


def stored_flows(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = state["flow_fields"]
    return {
        key: dict(zip(names, row, strict=True)) for key, row in json.loads(state["flows"]).items()
    }


def test_a_version_1_state_and_a_changed_flow_shape_are_read() -> None:
    """Version 1 stored a dict per flow; a stored field order naming a field ``Flow`` no
    longer has drops it, and a field it lacks takes its default."""
    policy = PlatformPolicy.from_settings("etsy", {"qpd": 2000})
    scheduler = Scheduler(policy, None)
    ops = mixed_operations(4, 200, "api", 10)
    for method, req in ops[:150]:
        getattr(scheduler, method)(req)
    state = json.loads(json.dumps(scheduler.to_state()))
    flows = stored_flows(state)
    old = {**state, "v": 1, "flows": flows}
    del old["flow_fields"]
    names = [*state["flow_fields"], "gone"]
    names.remove("rtt")
    rows = {key: [*(f[n] for n in names[:-1]), 7] for key, f in flows.items()}
    shaped = {**state, "flow_fields": names, "flows": json.dumps(rows)}
    without_rtt = {key: {**f, "rtt": 0} for key, f in flows.items()}
    assert stored_flows(Scheduler(policy, old).to_state()) == flows
    assert stored_flows(Scheduler(policy, shaped).to_state()) == without_rtt
    replies = []
    for start in (state, old):
        again = Scheduler(policy, start)
        replies.append([getattr(again, m)(r) for m, r in ops[150:]])
    assert replies[0] == replies[1]


def test_a_stored_state_shares_nothing_the_scheduler_goes_on_to_change() -> None:
    policy = PlatformPolicy.from_settings("ebay", {"finances.limit": 50})
    scheduler = Scheduler(policy, None)
    ops = mixed_operations(3, 300, "finances", None)
    for method, req in ops[:150]:
        getattr(scheduler, method)(req)
    stored = scheduler.to_state()
    frozen = json.dumps(stored)
    for method, req in ops[150:]:
        getattr(scheduler, method)(req)
        scheduler.to_state()
    assert json.dumps(stored) == frozen


def test_a_429_does_not_count_its_own_refused_request_as_still_to_come() -> None:
    # getReportDocument: burst 15, one token a minute. Another app emptied the bucket; our
    # one request at t=100 is refused. The bucket is empty at 100 and the refused request
    # took nothing: the next permit is one (slowed) interval later, not two (measured: a
    # default-faults Amazon run waited 355-572 s for its next report download).
    amb = Ambassador("amazon", lease_s=2)
    route = "getReportDocument"
    first = amb.acquire("w", 100, 1, route=route)
    assert [secs(t) for t in first.times] == [100.0]
    amb.observe("w", 100.2, route=route, request_at=when(100), throttled=True, charged=1)
    amb.release("w", 100.2, first.request_id, 0, route=route)
    at, grant = 101.0, amb.acquire("w", 101, 1, route=route)
    while not grant.times:  # come back when told, as a block does
        at = secs(grant.retry_at)
        grant = amb.acquire("w", at, 1, route=route)
    slowed = 60.0 / 0.8  # Amazon's rate after a 429 (see the getOrderItems test above)
    wait = secs(grant.times[0]) - 100
    assert slowed <= wait <= slowed + 3.0, wait  # + the lease's lateness


def test_permits_that_expired_unsent_no_longer_count_on_a_daily_quota() -> None:
    # Etsy, a day of 20 calls: a block is granted the day's 20 at once (a burst, equal
    # times) and sends 12; 8 expire in its hands (slow responses). The platform saw 12:
    # the day has 8 more to give, once.
    amb = Ambassador("etsy", qpd=20, qps=10, reserve=0.0, lease_s=0.25)
    grant = amb.acquire("w", 0, 20, route="api", tier="backfill")
    assert len(grant.times) == 20
    assert not amb.acquire("v", 1, 5, route="api", tier="backfill").times  # day spent
    lost = grant.times[12:]
    back = amb.release("w", 5, grant.request_id, 0, route="api", expired=lost)
    assert back.returned == 8
    later = amb.acquire("v", 6, 20, route="api", tier="backfill")
    assert len(later.times) == 8


def test_a_permit_is_forfeited_at_most_once() -> None:
    amb = Ambassador("etsy", qpd=20, qps=10, reserve=0.0, lease_s=0.25)
    grant = amb.acquire("w", 0, 20, route="api", tier="backfill")
    first = amb.release("w", 5, grant.request_id, 0, route="api", expired=grant.times[12:])
    every = amb.release("w", 5, grant.request_id, 0, route="api", expired=grant.times * 2)
    last = amb.release("w", 5, grant.request_id, 0, route="api", expired=grant.times)
    assert (first.returned, every.returned, last.returned) == (8, 12, 0)


def test_unused_permits_given_back_past_their_time_no_longer_count_on_a_daily_quota() -> None:
    # a block's run stopped early with 8 of its 20 permits unsent; it gives them back
    # after their time (a route change, the block's end): the day has 8 more to give
    amb = Ambassador("etsy", qpd=20, qps=10, reserve=0.0, lease_s=0.25)
    grant = amb.acquire("w", 0, 20, route="api", tier="backfill")
    assert len(grant.times) == 20
    assert amb.release("w", 5, grant.request_id, 8, route="api").returned == 8
    assert len(amb.acquire("v", 6, 20, route="api", tier="backfill").times) == 8


def test_a_repeated_acquire_after_a_forfeit_gets_its_answer_again() -> None:
    amb = Ambassador("etsy", qpd=20, qps=10, reserve=0.0, lease_s=0.25)
    grant = amb.acquire("w", 0, 20, route="api", tier="backfill", request_id="g")
    amb.release("w", 5, "g", 0, route="api", expired=grant.times[12:])
    again = amb.acquire("w", 0, 20, route="api", tier="backfill", request_id="g")
    assert again.times == grant.times and again.refused is None


def test_only_past_permits_of_the_grant_can_expire() -> None:
    amb = Ambassador("etsy", qpd=20, qps=10, reserve=0.0, lease_s=0.25)
    grant = amb.acquire("w", 0, 20, route="api", tier="backfill")
    ahead = amb.release("w", 1, grant.request_id, 0, route="api", expired=grant.times[-3:])
    foreign = amb.release("w", 5, "not-the-grant", 0, route="api", expired=grant.times[:3])
    assert (ahead.returned, foreign.returned) == (0, 0)  # not past yet / another grant
    assert not amb.acquire("v", 6, 5, route="api", tier="backfill").times


# ------------------------------------------------------------------ the daily syncs' reserve
SYNCS_S = 46_000.0  # 03:00 UTC after START: the daily syncs start, Etsy's release hour too


def _reserve_units(amb: Ambassador, at: float) -> int:
    return amb.snapshot(at).lanes["api"].limits["qpd"]["reserve_units"]


def test_etsys_reserve_is_what_the_daily_syncs_used_and_released_once_they_are_over() -> None:
    # a day of 100 calls, reserve 10 % at most, 2 % at least
    amb = Ambassador("etsy", qpd=100, qps=100, lease_s=0.25)
    assert len(amb.acquire("b", 0, 90, route="api", tier="backfill").times) == 90
    assert _reserve_units(amb, 1) == 2  # no syncs seen yet: the floor
    # the syncs start at 03:00, in the release hour: the backfill must not take the
    # rest of the day's quota from under them (the floor's 2 and beyond) while they run
    assert len(amb.acquire("s", SYNCS_S, 6, route="api", tier="daily", client="c2").times) == 6
    assert not amb.acquire("b", SYNCS_S + 1, 10, route="api", tier="backfill").times
    assert len(amb.acquire("s", SYNCS_S + 60, 2, route="api", tier="daily", client="c2").times) == 2
    amb.complete("s", SYNCS_S + 61)
    assert _reserve_units(amb, SYNCS_S + 62) == 10  # 8 used, and a fifth more
    # blocks of a sync follow each other: quiet for half an hour before the release
    assert not amb.acquire("b", SYNCS_S + 1_000, 10, route="api", tier="backfill").times
    late = amb.acquire("b", SYNCS_S + 2_000, 10, route="api", tier="backfill")
    assert len(late.times) == 2  # the day's last 2, in the release hour
    # a week later with no syncs since, the floor again
    assert _reserve_units(amb, SYNCS_S + 8 * 86_400) == 2


def test_a_learned_reserve_survives_the_entitys_state() -> None:
    amb = Ambassador("ebay", **{"fulfillment.limit": 1000})
    assert len(amb.acquire("s", 0, 50, route="fulfillment", tier="daily").times) == 50
    amb.complete("s", 1)
    quota = amb.snapshot(2).lanes["fulfillment"].limits["quota"]
    assert quota["reserve_units"] == 60
    assert json.loads(json.dumps(amb.state)) == amb.state
    again = Scheduler(amb.policy, json.loads(json.dumps(amb.state))).to_state()
    assert again["lanes"]["fulfillment"]["syncs"] == amb.state["lanes"]["fulfillment"]["syncs"]


def test_a_share_wait_on_a_quota_lane_asks_again_within_a_few_horizons() -> None:
    # an eBay day with 40 of 100 left; the clients used 30, 20 and 10 of it: their daily
    # syncs of 11 each share what is left max-min fair, which gives c (least used) a
    # claim of 23 it will not use; a, told to wait for its share, must be back within a
    # few horizons (60 s), not when the day turns over
    amb = Ambassador("ebay", **{"fulfillment.limit": 100, "reserve": 0})
    for client, used in (("a", 30), ("b", 20), ("c", 10)):
        grant = amb.acquire(
            f"bf-{client}", 0, used, route="fulfillment", tier="backfill", client=client
        )
        assert len(grant.times) == used
        amb.complete(f"bf-{client}", 0)
    kw = {"route": "fulfillment", "tier": "daily"}
    assert len(amb.acquire("s-c", 10, 11, client="c", **kw).times) == 11
    assert len(amb.acquire("s-b", 10, 11, client="b", **kw).times) == 11
    short = amb.acquire("s-a", 10, 11, client="a", **kw)
    assert len(short.times) < 11 and short.waiting_for == "share"
    assert secs(short.retry_at) <= 10 + 3 * 60
    amb.complete("s-c", 11)
    amb.complete("s-b", 11)
    rest = amb.acquire("s-a", secs(short.retry_at), 11 - len(short.times), client="a", **kw)
    assert len(rest.times) == 11 - len(short.times)


def test_every_wait_on_a_quota_lane_is_back_by_the_days_release_period() -> None:
    # Etsy's day spent at 14:13 UTC: the window frees only a day later, but the release
    # period (03:00 UTC) hands out what was given back meanwhile
    amb = Ambassador("etsy", qpd=100, qps=100, lease_s=0.25)
    assert len(amb.acquire("b", 0, 98, route="api", tier="backfill").times) == 98
    wait = amb.acquire("b", 1, 10, route="api", tier="backfill")
    assert not wait.times and wait.waiting_for == "capacity"
    assert secs(wait.retry_at) == SYNCS_S  # 03:00 UTC, not the day's roll-off
