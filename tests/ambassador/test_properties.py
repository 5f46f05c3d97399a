"""Properties of the ambassador, checked against independent reference models.

* safety: for any sequence of demands, grants, observations, 429s, releases and
  completions, every permit used anywhere inside its lease conforms to the platform's
  limit (``reference``: exact token buckets, sliding and fixed windows);
* priority: no class receives a permit while a class that outranks it waits (demo
  before anything else; within a client, orders before transactions …);
* shares: orders : order items within ±5 % of 1 : 3 while both have demand;
* work conservation: utilization ≥ 98 % of the platform's capacity while demand
  exceeds it;
* fairness: Jain's index ≥ 0.95 between clients with equal demand on an
  application-wide quota, whatever their number of concurrent callers;
* application quotas (Etsy's sliding day, eBay's daily quota, reserve and release as
  configured): clients waiting on backfills use ≥ 95 % of every day's quota, also when
  one finishes early, and share it max-min fair (each within ±5 % of the mean) whatever
  their callers or the pace of their chains; water-filling gives all that is free, to
  the least used first.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from shared.ambassador.demand import water_level
from shared.ambassador.limits import US, format_time, parse_time
from shared.ambassador.policies import LaneSpec, LimitSpec, PlatformPolicy
from shared.ambassador.protocol import (
    RESOURCE_RANK,
    TIERS,
    AcquireRequest,
    CompleteRequest,
    ObserveRequest,
    Reading,
    ReleaseRequest,
)
from shared.ambassador.scheduler import Scheduler
from tests.ambassador import reference as ref
from tests.ambassador.simulation import START, Caller, simulate

# Every property is bounded: a fixed number of examples, no per-example deadline (an
# example is a whole simulation whose length varies with the drawn figures; the count
# bounds the time), and no shrink phase — a simulation-sized failing example is reported
# as drawn, instead of hypothesis spending minutes re-running simulations to shrink it.
# ``too_slow`` is suppressed only where drawing an example (a list of up to 40 operations)
# is itself slow on this shared machine; it is a data-generation check, not a test bound.
BOUNDED = {"deadline": None, "phases": (Phase.explicit, Phase.reuse, Phase.generate)}
PROPERTY = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], **BOUNDED)
GRACE_S = 60.0


# ---------------------------------------------------------------------- lanes
@dataclass(frozen=True)
class LaneCase:
    """A lane under test and how the reference judges what reaches the platform."""

    kind: str
    limits: tuple[LimitSpec, ...]
    lease_s: float
    horizon_s: float

    def policy(self) -> PlatformPolicy:
        spec = LaneSpec("api", self.limits, self.lease_s, self.horizon_s)
        return PlatformPolicy("test", {"api": spec}, grace_s=GRACE_S)

    def refusals(self, arrivals: list[tuple[int, int]]) -> list[int]:
        refused: set[int] = set()
        for limit in self.limits:
            p = limit.params
            if limit.kind in ("token_bucket", "leaky_bucket", "cost_bucket"):
                refused |= set(ref.token_bucket_refusals(arrivals, p["rate"], p["burst"]))
            elif limit.kind == "sliding_window":
                refused |= set(ref.sliding_window_refusals(arrivals, p["limit"], p["window_s"]))
            else:
                refused |= set(ref.fixed_window_refusals(arrivals, p["limit"], p["window_s"]))
        return sorted(refused)

    def readings(self, arrivals: list[tuple[int, int]], at: int) -> list[Reading]:
        """What the platform would report after the request it served at ``at``."""
        out = []
        for limit in self.limits:
            p = limit.params
            if limit.kind in ("token_bucket", "leaky_bucket", "cost_bucket"):
                level = ref.token_bucket_level(arrivals, p["rate"], p["burst"], at)
                out.append(Reading(limit=limit.name, remaining=int(level)))
            elif limit.kind == "sliding_window":
                used = ref.sliding_window_used(arrivals, p["window_s"], at)
                out.append(Reading(limit=limit.name, remaining=max(0, p["limit"] - used)))
            else:
                used = ref.fixed_window_used(arrivals, p["window_s"], at)
                out.append(Reading(limit=limit.name, remaining=max(0, p["limit"] - used)))
        return out


def bucket_case(kind: str = "token_bucket"):
    return st.builds(
        lambda rate, burst, lease, horizon: LaneCase(
            kind, (LimitSpec(kind, "b", {"rate": rate, "burst": burst}),), lease, horizon
        ),
        st.sampled_from([0.2, 0.5, 1.0, 2.0, 4.0, 20.0]),
        st.integers(1, 60),
        st.sampled_from([0.0, 0.1, 0.5, 2.0]),
        st.sampled_from([1.0, 5.0, 20.0]),
    )


cost_case = st.builds(
    lambda rate, burst, lease: LaneCase(
        "cost_bucket",
        (LimitSpec("cost_bucket", "points", {"rate": rate, "burst": burst, "max_cost": burst}),),
        lease,
        10.0,
    ),
    st.sampled_from([50.0, 100.0, 1000.0]),
    st.sampled_from([500, 2000]),
    st.sampled_from([0.0, 0.5, 2.0]),
)

window_case = st.builds(
    lambda qps, qpm, lease, gran: LaneCase(
        "sliding_window",
        (
            LimitSpec(
                "sliding_window", "qps", {"limit": qps, "window_s": 1.0, "granularity_s": gran}
            ),
            LimitSpec(
                "sliding_window", "qpm", {"limit": qpm, "window_s": 60.0, "granularity_s": 3}
            ),
        ),
        lease,
        10.0,
    ),
    st.integers(1, 20),
    st.integers(10, 200),
    st.sampled_from([0.0, 0.1, 0.25]),
    st.sampled_from([0.05, 0.1, 0.25]),
)

fixed_case = st.builds(
    lambda limit, window, lease, kind: LaneCase(
        kind, (LimitSpec(kind, "q", {"limit": limit, "window_s": window}),), lease, 10.0
    ),
    st.integers(1, 100),
    st.sampled_from([1.0, 10.0, 60.0]),
    st.sampled_from([0.0, 0.1, 0.5]),
    st.sampled_from(["fixed_window", "daily_quota"]),
)

any_lane = st.one_of(
    bucket_case("token_bucket"), bucket_case("leaky_bucket"), cost_case, window_case, fixed_case
)


# ---------------------------------------------------------------------- operations
@dataclass(frozen=True)
class Op:
    dt: float
    kind: str
    caller: int
    tier: str
    resource: str
    client: int
    want: int
    size: int  # cost units, or seconds of Retry-After, or permits to give back


ops = st.lists(
    st.builds(
        Op,
        dt=st.sampled_from([0.0, 0.0, 0.3, 1.0, 2.5, 7.0]),
        kind=st.sampled_from(
            ["acquire"] * 6 + ["observe"] * 2 + ["throttle", "release", "complete"]
        ),
        caller=st.integers(0, 4),
        tier=st.sampled_from(TIERS),
        resource=st.sampled_from(["orders", "order_items", "transactions", "payouts"]),
        client=st.integers(0, 2),
        want=st.integers(1, 60),
        size=st.integers(1, 400),
    ),
    min_size=1,
    max_size=40,
)


@dataclass
class World:
    """The test's own record of what the ambassador promised and what was used."""

    case: LaneCase
    rng: random.Random
    state: dict | None = None
    now: int = START
    uses: list[tuple[int, int]] = field(default_factory=list)  # (arrival µs, units)
    actual: dict[int, int] = field(default_factory=dict)  # use index -> units charged
    grants: dict[int, tuple[str, list[int], list[int]]] = field(default_factory=dict)
    last: dict[int, tuple[Op, object, int]] = field(default_factory=dict)  # caller -> answer
    completed: set[int] = field(default_factory=set)
    blocked_until: int = 0
    observed: set[int] = field(default_factory=set)

    def scheduler(self) -> Scheduler:
        return Scheduler(self.case.policy(), self.state)

    def keep(self, scheduler: Scheduler) -> None:
        self.state = json.loads(json.dumps(scheduler.to_state()))


def outranks(a: Op, b: Op) -> bool:
    ta, tb = TIERS.index(a.tier), TIERS.index(b.tier)
    if ta != tb:
        return ta < tb
    return a.client == b.client and RESOURCE_RANK[a.resource] < RESOURCE_RANK[b.resource]


def step(world: World, op: Op, n: int) -> None:
    world.now += round(op.dt * US)
    now = format_time(world.now)
    scheduler = world.scheduler()
    caller = f"w{op.caller}"
    if op.kind == "acquire":
        cost = op.size if world.case.kind == "cost_bucket" else 1
        answer = scheduler.acquire(
            AcquireRequest(
                caller=caller,
                request_id=f"a{n}",
                route="api",
                client=f"c{op.client}",
                tier=op.tier,
                resource=op.resource,
                want=op.want,
                cost=cost,
                now=now,
            )
        )
        check_priority(world, op, answer)
        times = [parse_time(t) for t in answer.times]
        assert all(t >= world.now for t in times)
        assert all(t >= world.blocked_until for t in times)
        assert all(t <= world.now + round(world.case.horizon_s * US) for t in times)
        indices = []
        for t in times:  # used somewhere inside the lease
            late = world.rng.uniform(0, answer.lease_s) * 0.999
            indices.append(len(world.uses))
            world.uses.append((t + round(late * US), cost))
            world.actual[indices[-1]] = world.rng.randint(0, cost)
        world.grants[op.caller] = (f"a{n}", times, indices)
        world.last[op.caller] = (op, answer, world.now)
        world.completed.discard(op.caller)
    elif op.kind == "observe":
        seen = [
            i for i, (t, _) in enumerate(world.uses) if t <= world.now and i not in world.observed
        ]
        if seen:
            i = world.rng.choice(seen)
            world.observed.add(i)
            at = world.uses[i][0]
            arrivals = arrivals_of(world)
            extra = {}
            if world.case.kind == "cost_bucket":
                extra = {"charged": world.uses[i][1], "actual": world.actual[i]}
            scheduler.observe(
                ObserveRequest(
                    caller=caller,
                    request_id=f"o{n}",
                    route="api",
                    now=now,
                    request_at=format_time(at),
                    readings=world.case.readings(arrivals, at),
                    **extra,
                )
            )
    elif op.kind == "throttle":  # a spurious 429 only tightens
        wait = op.size % 30
        answer = scheduler.observe(
            ObserveRequest(
                caller=caller,
                request_id=f"t{n}",
                route="api",
                now=now,
                throttled=True,
                retry_after_s=wait,
            )
        )
        world.blocked_until = max(world.blocked_until, world.now + wait * US)
        assert parse_time(answer.blocked_until) >= world.blocked_until
    elif op.kind == "release" and op.caller in world.grants:
        grant_id, times, indices = world.grants[op.caller]
        # an honest caller: what it says is unused is the grant's tail it has not sent
        # (modelled arrival still ahead), whatever the permits' times; the scheduler
        # gives back those ahead and forfeits those past on window limits
        unsent = 0
        for i in reversed(indices):
            if world.uses[i][0] <= world.now or unsent == op.size % 10:
                break
            unsent += 1
        answer = scheduler.release(
            ReleaseRequest(
                caller=caller,
                request_id=f"r{n}",
                route="api",
                grant_id=grant_id,
                unused=unsent,
                now=now,
            )
        )
        assert answer.returned <= unsent
        kept = len(indices) - unsent
        for i in indices[kept:]:  # never sent
            world.uses[i] = (world.uses[i][0], 0)
        world.grants[op.caller] = (grant_id, times[:kept], indices[:kept])
    elif op.kind == "complete":
        scheduler.complete(CompleteRequest(caller=caller, now=now))
        world.completed.add(op.caller)
    world.keep(scheduler)


def arrivals_of(world: World) -> list[tuple[int, int]]:
    """(arrival, units) as the platform counts them (GraphQL: the cost finally charged)."""
    if world.case.kind != "cost_bucket":
        return [u for u in world.uses if u[1]]
    return [(t, world.actual[i]) for i, (t, units) in enumerate(world.uses) if units]


def check_priority(world: World, op: Op, answer) -> None:
    """No permit for ``op`` while a caller that outranks it has a live unmet claim."""
    if not answer.granted:
        return
    for other, (asked, got, _at) in world.last.items():
        if other == op.caller or other in world.completed or got.refused:
            continue
        live = got.retry_at is not None and world.now < parse_time(got.retry_at) + GRACE_S * US
        if got.granted < asked.want and live and outranks(asked, op):
            raise AssertionError(
                f"{op.tier}/{op.resource} of c{op.client} got {answer.granted} permits while "
                f"{asked.tier}/{asked.resource} of c{asked.client} waits for "
                f"{asked.want - got.granted}"
            )


@PROPERTY
@given(case=any_lane, sequence=ops, seed=st.integers(0, 2**16))
# found: 429s slow a bucket's planning rate while 21 permits are planned ahead (after a
# 25 s Retry-After); read in the slower interval their debt shrank and 15 more were
# planned on top of them: 36 arrivals in 0.1 s on a 33 burst
@example(
    case=LaneCase(
        "token_bucket", (LimitSpec("token_bucket", "b", {"rate": 4.0, "burst": 33}),), 0.1, 20.0
    ),
    sequence=[
        Op(0.0, "release", 2, "daily", "payouts", 1, 21, 266),
        Op(0.3, "observe", 1, "demo", "payouts", 2, 51, 268),
        Op(0.3, "throttle", 0, "backfill", "order_items", 1, 52, 25),
        Op(2.5, "throttle", 0, "demo", "payouts", 2, 60, 137),
        Op(2.5, "acquire", 0, "daily", "payouts", 1, 13, 98),
        Op(0.0, "acquire", 3, "demo", "payouts", 0, 8, 182),
        Op(2.5, "throttle", 0, "demo", "payouts", 2, 60, 137),
        Op(2.5, "acquire", 4, "demo", "transactions", 1, 32, 249),
        Op(0.0, "throttle", 4, "backfill", "transactions", 0, 23, 31),
    ],
    seed=6272,
)
# found (5,000 examples): a 301-point refund of a query sent at 14.5 s rewound the cost
# bucket past a 379-point permit dated 20.9 s, on a bucket that refilled to full in
# between; a 267-point query planned on the rewound level found 190 points
@example(
    case=LaneCase(
        "cost_bucket",
        (LimitSpec("cost_bucket", "points", {"rate": 50.0, "burst": 500, "max_cost": 500}),),
        2.0,
        10.0,
    ),
    sequence=[
        Op(7.0, "complete", 2, "demo", "transactions", 0, 41, 120),
        Op(7.0, "acquire", 2, "daily", "payouts", 1, 53, 379),
        Op(0.0, "observe", 3, "backfill", "transactions", 0, 31, 143),
        Op(0.0, "release", 1, "daily", "payouts", 0, 41, 279),
        Op(1.0, "acquire", 0, "demo", "payouts", 2, 30, 1),
        Op(2.5, "observe", 1, "demo", "orders", 1, 59, 83),
        Op(1.0, "acquire", 1, "backfill", "payouts", 0, 45, 37),
        Op(2.5, "release", 3, "daily", "orders", 1, 1, 104),
        Op(0.0, "acquire", 0, "daily", "orders", 1, 20, 267),
    ],
    seed=717,
)
def test_permits_never_exceed_the_policy_and_priority_holds(
    case: LaneCase, sequence: list[Op], seed: int
) -> None:
    world = World(case, random.Random(seed))
    for n, op in enumerate(sequence):
        step(world, op, n)
    if case.kind == "cost_bucket":
        # the platform debits what each query asks for and refunds the rest of it once
        # the query ran: every debit must fit, given the refunds before it
        p = case.limits[0].params
        queries = [(t, u, world.actual[i]) for i, (t, u) in enumerate(world.uses) if u]
        assert ref.cost_bucket_refusals(queries, p["rate"], p["burst"]) == []
    else:
        assert case.refusals(arrivals_of(world)) == []


# ---------------------------------------------------------------------- shares
@settings(max_examples=6, **BOUNDED)
@given(
    rate=st.sampled_from([1.0, 2.0, 5.0]),
    burst=st.integers(5, 80),
    horizon=st.sampled_from([5.0, 10.0, 20.0]),
    lease=st.sampled_from([0.0, 0.5]),
    orders=st.integers(1, 2),
    items=st.integers(1, 3),
    latency=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_orders_and_items_share_capacity_1_to_3(
    rate: float,
    burst: int,
    horizon: float,
    lease: float,
    orders: int,
    items: int,
    latency: float,
) -> None:
    bucket = LimitSpec("token_bucket", "b", {"rate": rate, "burst": burst})
    case = LaneCase("token_bucket", (bucket,), lease, horizon)
    callers = [
        Caller(f"o{i}", resource="orders", want=100, latency_s=latency) for i in range(orders)
    ]
    callers += [
        Caller(f"i{i}", resource="order_items", want=100, latency_s=latency) for i in range(items)
    ]
    span = 50 * horizon
    run = simulate(case.policy(), callers, span)
    counts = run.count(5 * horizon, span, lambda u: u.caller[0])
    ratio = counts["i"] / counts["o"]
    assert 3 * 0.95 <= ratio <= 3 * 1.05, (ratio, counts)


# ---------------------------------------------------------------------- utilization
@settings(max_examples=12, **BOUNDED)
@given(
    case=st.one_of(bucket_case("token_bucket"), bucket_case("leaky_bucket"), fixed_case),
    callers=st.lists(
        st.tuples(
            st.sampled_from(TIERS),
            st.integers(0, 2),
            st.sampled_from(["orders", "order_items", "transactions"]),
            st.integers(10, 100),
        ),
        min_size=2,
        max_size=6,
    ),
    latency=st.sampled_from([0.0, 0.3, 1.0]),
)
# found: c2's order items ask 25 a round trip, below their share (3/8 of 93/s); never
# waiting, their service tag lagged, and the other demo flows were held back as "too far
# ahead" of it: windows with nobody but them (3617 of 3720). A flow that wants no more
# must hold nobody back.
@example(
    case=LaneCase(
        "daily_quota",
        (LimitSpec("daily_quota", "q", {"limit": 93, "window_s": 1.0}),),
        lease_s=0.5,
        horizon_s=10.0,
    ),
    callers=[
        ("demo", 1, "orders", 89),
        ("demo", 2, "order_items", 25),
        ("backfill", 2, "transactions", 93),
        ("demo", 2, "orders", 90),
    ],
    latency=1.0,
)
# found: c0's transactions wait below c0's active orders, so they plan only a round
# trip ahead; still counted as owed service (the slowest tag), they held the other
# clients' flows back, windows filled late and a lease crossing a boundary counts in two
# windows (1167 of 1200). A flow held to a short lead is served by its own client's spare.
@example(
    case=LaneCase(
        "fixed_window",
        (LimitSpec("fixed_window", "q", {"limit": 30, "window_s": 1.0}),),
        lease_s=0.5,
        horizon_s=10.0,
    ),
    callers=[
        ("daily", 0, "transactions", 19),
        ("daily", 1, "transactions", 5),
        ("daily", 0, "orders", 41),
        ("daily", 2, "order_items", 88),
        ("daily", 2, "transactions", 5),
        ("backfill", 1, "orders", 60),
        ("backfill", 2, "transactions", 45),
    ],
    latency=0.3,
)
def test_capacity_is_used_to_the_full_while_demand_exceeds_it(
    case: LaneCase, callers: list, latency: float
) -> None:
    # The scheduler's premise (theory of operation, "The horizon"): one round trip must
    # fetch a batch that keeps the caller busy. Permits are dated at most one horizon after
    # the ask, so a horizon not above twice the round trip leaves the lane idle between a
    # caller's last permit and the answer to its next ask whatever the scheduler decides.
    assume(case.horizon_s > 2 * latency)
    demo = sum(1 for tier, *_ in callers if tier == "demo")
    policy = case.policy()
    policy = PlatformPolicy("test", policy.lanes, grace_s=GRACE_S, demo_cap=10**9 if demo else 100)
    people = [
        Caller(
            f"w{i}",
            client=f"c{client}",
            tier=tier,
            resource=resource,
            want=want,
            latency_s=latency,
            pipelined=True,
        )
        for i, (tier, client, resource, want) in enumerate(callers)
    ]
    # Pipelined callers: "demand exceeds capacity" must hold at every moment, not only on
    # paper. A caller that asks again only ``latency`` after its last permit offers at most
    # one batch per latency and leaves windows with nobody waiting (seen: 77 + 44 asks,
    # 1 s latency, 90/s window -> 81/s with every ask fully granted, no claim unmet);
    # idle capacity with no demand waiting is not a work-conservation failure.
    p = case.limits[0].params
    if "rate" in p:
        span = max(600.0, 40 * p["burst"] / p["rate"])
        capacity = p["burst"] + p["rate"] * span  # what the platform admits in [0, span)
        reachable = min(capacity, contract_capacity(p["rate"], p["burst"], case.lease_s, span))
    else:
        span = 40 * p["window_s"]
        # windows are aligned to midnight UTC, START is not: [START, START + span) meets
        # the 41 windows it overlaps; a lease shorter than a window fits inside each one
        w = round(p["window_s"] * US)
        met = (START + round(span * US) - 1) // w - START // w + 1
        capacity = reachable = p["limit"] * met
    run = simulate(policy, people, span)
    used = sum(run.count(0, span, lambda u: "all").values())
    assert used <= reachable + 1e-9  # nothing safe can do better (see contract_capacity)
    assert used >= 0.98 * reachable, (used, reachable, capacity)


def contract_capacity(rate: float, burst: int, lease_s: float, span_s: float) -> float:
    """An upper bound on the permits any schedule can date in ``[0, span)`` when each may
    be used anywhere in its lease ``[t, t + L)`` and every use must pass the bucket.

    Why the platform's ``B + r·span`` is not the target: take permits ``i < j`` with
    ``B + 1`` units between them; ``i`` may arrive ``L`` late and ``j`` on time, and the
    bucket admits ``B + 1`` arrivals only ``T = 1/r`` apart, so ``t_j - t_i >= L + T`` for
    *every* safe schedule (the falsifying example — rate 0.2/s, burst 1, lease 0.1 s:
    permits at least 5.1 s apart, 118 in 600 s, not 121 — is this bound, met exactly).
    Permit ``mB + 1`` is then dated at least ``m·(L + T)``, so at most
    ``B·(floor(span / (L + T)) + 1)`` permits fit. When the burst absorbs the lateness
    (``(B - 1)·T >= L``) this bound is above ``B + r·span`` and the platform's figure
    applies; otherwise the lease, not the scheduler, costs the difference."""
    return burst * (span_s // (lease_s + 1 / rate) + 1)


# ---------------------------------------------------------------------- fairness
@settings(max_examples=8, **BOUNDED)
@given(
    quota=st.sampled_from(["etsy", "ebay"]),
    concurrency=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    latency=st.sampled_from([0.0, 0.3]),
    tier=st.sampled_from(["daily", "backfill"]),
)
def test_clients_with_equal_demand_get_equal_shares_of_an_application_quota(
    quota: str, concurrency: list[int], latency: float, tier: str
) -> None:
    if quota == "etsy":
        policy = PlatformPolicy.from_settings("etsy", {"qps": 10, "qpd": 100_000})
        span, route = 300.0, "api"
    else:
        policy = PlatformPolicy.from_settings("ebay", {"fulfillment.limit": 2000, "reserve": 0})
        span, route = 3 * 86_400.0, "fulfillment"
    callers = [
        Caller(f"{c}-{k}", client=f"client{c}", tier=tier, want=100, route=route, latency_s=latency)
        for c, n in enumerate(concurrency)
        for k in range(n)
    ]
    run = simulate(policy, callers, span)
    per_client = run.count(span / 10, span, lambda u: u.caller.split("-")[0])
    values = [per_client.get(str(c), 0) for c in range(len(concurrency))]
    assert ref.jain(values) >= 0.95, (values, concurrency)


def test_a_huge_backfill_cannot_starve_a_daily_sync_on_an_application_quota() -> None:
    policy = PlatformPolicy.from_settings("etsy", {"qps": 10, "qpd": 20_000})
    callers = [Caller(f"big-{k}", client="big", tier="backfill", want=100) for k in range(8)]
    callers.append(Caller("small", client="small", tier="daily", want=20, backlog=300, start_s=60))
    run = simulate(policy, callers, 600)
    small = sorted(u.permit for u in run.uses if u.caller == "small")
    assert len(small) == 300
    took = (small[-1] - START) / US - 60
    assert took < 300 / 7.6 + 2 * 10  # at the lane's full rate, within two horizons


# ---------------------------------------------------------------------- application quotas
QUOTA_DAY = 1_000
DAY_S = 86_400.0
FIRST_EBAY_RESET_S = 16 * 3600 + 46 * 60 + 40  # 07:00 UTC after START (14:13:20)

# a client: (callers, latency s, want per ask, backlog); latencies from a chain asking
# again at once to one back 20 s later, all fast enough to want more than a fair share
quota_client = st.tuples(
    st.integers(1, 3),
    st.sampled_from([0.05, 0.3, 5.0, 20.0]),
    st.sampled_from([1, 2, 20]),
    st.just(10**9),
)


def quota_run(platform: str, clients: list[tuple[int, float, int, int]], days: float):
    """Backfill callers of ``clients`` on a day quota of ``QUOTA_DAY``, with the
    platform's reserve (10 %) and release: the per-client calls in each day-long window
    that ends inside the run (Etsy: days from the start, any day-long stretch holds at
    most the quota; eBay: its fixed windows) and the run."""
    if platform == "etsy":
        policy = PlatformPolicy.from_settings("etsy", {"qpd": QUOTA_DAY})
        route, first = "api", DAY_S
    else:
        policy = PlatformPolicy.from_settings("ebay", {"fulfillment.limit": QUOTA_DAY})
        route, first = "fulfillment", FIRST_EBAY_RESET_S
    callers = [
        Caller(
            f"{c}-{k}",
            client=f"client{c}",
            tier="backfill",
            want=want,
            backlog=backlog,
            route=route,
            latency_s=latency,
        )
        for c, (n, latency, want, backlog) in enumerate(clients)
        for k in range(n)
    ]
    run = simulate(policy, callers, days * DAY_S)
    edges = [b for b in [0.0, first, first + DAY_S, first + 2 * DAY_S] if b <= days * DAY_S]
    windows = []
    for lo, hi in itertools.pairwise(edges):
        calls = run.count(lo, hi, lambda u: u.caller.split("-")[0])
        windows.append([calls.get(str(c), 0) for c in range(len(clients))])
    return windows, run


@settings(max_examples=4, **BOUNDED)
@given(
    platform=st.sampled_from(["etsy", "ebay"]),
    clients=st.lists(quota_client, min_size=2, max_size=5),
    finisher=st.one_of(st.none(), st.integers(10, 200)),
)
# found: Etsy's 10 % reserve was never released, so backfills waiting through a day used
# at most 0.90 of it (900 of 1000 in each of the first two days)
@example(platform="etsy", clients=[(1, 0.3, 2, 10**9), (2, 5.0, 2, 10**9)], finisher=None)
def test_an_application_quota_is_used_to_the_full_while_clients_wait(
    platform: str, clients: list, finisher: int | None
) -> None:
    """Clients all waiting on backfills use >= 95 % of each day's quota by its end, also
    when one of them finishes early (its unused share goes to the others), and never
    more than the platform counts."""
    if finisher is not None:
        clients = [*clients, (1, 0.3, 2, finisher)]
    windows, run = quota_run(platform, clients, 2.0)
    for calls in windows:
        assert 0.95 * QUOTA_DAY <= sum(calls) <= QUOTA_DAY, (windows, clients)
    arrivals = sorted((u.at, u.units) for u in run.uses)
    if platform == "etsy":
        assert ref.sliding_window_refusals(arrivals, QUOTA_DAY, DAY_S) == []
        # Etsy counts its per-second limit in fixed seconds (x-remaining-this-second)
        assert ref.fixed_window_refusals(arrivals, 10, 1.0) == []
    else:
        from_reset = [(t - 7 * 3600 * US, n) for t, n in arrivals]  # windows from 07:00
        assert ref.fixed_window_refusals(from_reset, QUOTA_DAY, DAY_S) == []


@settings(max_examples=4, **BOUNDED)
@given(
    platform=st.sampled_from(["etsy", "ebay"]),
    clients=st.lists(quota_client, min_size=2, max_size=5),
)
# found: a client whose chain is back only every 20 s got 0.2 of the others' calls on
# Etsy's day (the day's quota frees in bursts that the fast clients took within a
# minute); and shares of the day were kept at the mean of all uses, more than was free
# when some clients had used more than the mean (nobody got a permit while units idled)
@example(
    platform="etsy",
    clients=[(1, 0.3, 2, 10**9), (3, 20.0, 1, 10**9), (2, 5.0, 2, 10**9)],
)
def test_clients_that_want_more_share_a_binding_quota_max_min_fair(
    platform: str, clients: list
) -> None:
    """Every client here can use more than an equal share of the day, whatever its
    number of callers or the pace of its chain: each gets an equal share (+- 5 %)."""
    windows, _ = quota_run(platform, clients, 2.0)
    for calls in windows:
        mean = sum(calls) / len(calls)
        assert min(calls) >= 0.95 * mean and max(calls) <= 1.05 * mean, (windows, clients)


@settings(max_examples=200, **BOUNDED)
@given(
    used=st.lists(st.integers(0, 500), min_size=1, max_size=8),
    free=st.integers(0, 2000),
)
def test_water_filling_gives_what_is_free_to_the_least_used_first(used: list, free: int) -> None:
    level = water_level([float(u) for u in used], float(free))
    claims = [max(0.0, level - u) for u in used]
    assert abs(sum(claims) - free) < 1e-6  # all of it, no more
    # max-min: a client below the level is raised to it, none above it gets any
    assert all(c == 0.0 or abs(u + c - level) < 1e-6 for u, c in zip(used, claims, strict=True))


# ---------------------------------------------------------------------- the daily syncs' reserve
SYNCS_S = 46_000.0  # 03:00 UTC after START (14:13:20): the daily syncs' timer, Etsy's release


def syncs_run(platform: str, clients: list, need: int, syncing: int, stagger: float, days: int):
    """Backfills of ``clients`` (as ``quota_run``) beside daily syncs: each day from 03:00
    UTC the first ``syncing`` clients sync ``need`` units together, one client ``stagger``
    seconds after the other. Returns the run, each sync caller's start (s after START)
    and the most the quota held from backfills in each day from the start."""
    route = "api" if platform == "etsy" else "fulfillment"
    if platform == "etsy":
        policy = PlatformPolicy.from_settings("etsy", {"qpd": QUOTA_DAY})
    else:
        policy = PlatformPolicy.from_settings("ebay", {"fulfillment.limit": QUOTA_DAY})
    callers = [
        Caller(
            f"b{c}-{k}",
            client=f"client{c}",
            tier="backfill",
            want=want,
            route=route,
            latency_s=latency,
        )
        for c, (n, latency, want, _) in enumerate(clients)
        for k in range(n)
    ]
    starts = {}
    for day in range(days):
        for c in range(syncing):
            name = f"s{day}-{c}"
            starts[name] = SYNCS_S + day * DAY_S + c * stagger
            callers.append(
                Caller(
                    name,
                    client=f"client{c}",
                    tier="daily",
                    want=2,
                    backlog=need // syncing,
                    route=route,
                    latency_s=0.3,
                    start_s=starts[name],
                )
            )
    held = [0] * days

    def note(now: int, c: Caller, req, answer, scheduler: Scheduler) -> None:
        quota = scheduler.lanes[route].quota
        day = int((now - START) // round(DAY_S * US))
        if day < days:
            held[day] = max(held[day], quota.describe(now)["reserve_units"])

    return simulate(policy, callers, days * DAY_S, on_answer=note), starts, held


@settings(max_examples=3, **BOUNDED)
@given(
    platform=st.sampled_from(["etsy", "ebay"]),
    clients=st.lists(quota_client, min_size=2, max_size=4),
    need=st.integers(4, 160),  # the reserve is at most 100 (10 %), at least 20 (2 %)
    syncing=st.integers(1, 3),
    stagger=st.sampled_from([0.0, 30.0, 600.0]),
)
# found: the release hour began with the syncs (03:00), and backfills holding permits a
# horizon ahead took the whole reserve in its first seconds; syncs asking a permit or two
# at a time waited an hour, on the first day for the next day's roll-off
@example(platform="etsy", clients=[(3, 0.3, 2, 10**9)], need=20, syncing=1, stagger=0.0)
def test_daily_syncs_are_never_starved_and_backfills_use_what_they_leave(
    platform: str, clients: list, need: int, syncing: int, stagger: float
) -> None:
    """Daily syncs beside backfills that want every unit of a day quota: each day's
    syncs get all they ask for within a day, whatever their size (they outrank every
    backfill); from the third day, when their size was learned, within the hour of the
    release (if it fits the reserve); the backfills then use all but what is held
    for the syncs; nothing beyond the platform's limits."""
    days = 3
    run, starts, held = syncs_run(platform, clients, need, syncing, stagger, days)
    for name, start in starts.items():
        got = sorted(u.permit for u in run.uses if u.caller == name)
        assert len(got) == need // syncing, (name, len(got))
        took = (got[-1] - START) / US - start
        assert took < DAY_S, (name, took)
        if name.startswith(f"s{days - 1}-") and need * 1.2 <= 100:
            assert took < 3_600.0, (name, took)
    last = run.count((days - 1) * DAY_S, days * DAY_S, lambda u: "all")["all"]
    assert last >= QUOTA_DAY - held[-1] - 10, (last, held)
    arrivals = sorted((u.at, u.units) for u in run.uses)
    if platform == "etsy":
        assert ref.sliding_window_refusals(arrivals, QUOTA_DAY, DAY_S) == []
    else:
        from_reset = [(t - 7 * 3600 * US, n) for t, n in arrivals]
        assert ref.fixed_window_refusals(from_reset, QUOTA_DAY, DAY_S) == []


def test_a_long_backfill_beside_small_daily_syncs_uses_95_percent_of_every_day() -> None:
    """The syncs use 2 % a day: the reserve follows them, not a fixed 10 % (which capped
    a backfill at 0.88-0.90 of each day from its third)."""
    clients = [(2, 0.3, 2, 10**9), (1, 5.0, 20, 10**9), (1, 0.05, 1, 10**9)]
    run, _, held = syncs_run("etsy", clients, 20, 2, 30.0, 4)
    for day in range(4):
        calls = run.count(day * DAY_S, (day + 1) * DAY_S, lambda u: "all")["all"]
        assert calls >= 0.95 * QUOTA_DAY, (day, calls, held)
    assert max(held) <= 30  # 20 at most a day, and a fifth more
