"""Limit policies per platform: lanes of limits, routes, and the scheduler's knobs.

A *lane* is the set of limits every request on it must satisfy together (Etsy: the
per-second and the per-day window; Amazon: one operation's token bucket). A *route* is
what a caller names when it asks for permits (an Amazon operation, ``rest`` or
``graphql`` for Shopify, an eBay API); routes map to lanes.

``PlatformPolicy.from_settings(platform, overrides)`` builds a platform's lanes from the
defaults of MARKETPLACE_APIS.md and the ``limits`` dict of
``shared.settings.PlatformSettings`` (see its docstring for the override forms). The
limit models themselves live in ``shared.ambassador.limits`` and are re-exported here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.ambassador.limits import (
    DAY_S,
    KINDS,
    CostBucket,
    DailyQuota,
    FixedWindow,
    LeakyBucket,
    Limit,
    SlidingWindow,
    TokenBucket,
    ceil_ms,
    to_us,
)
from shared.errors import ConfigurationError

Quota = FixedWindow | SlidingWindow  # a lane's day-long limit, shared by use (``Lane.quota``)


@dataclass(frozen=True)
class LimitSpec:
    """One limit of a lane: its kind (a key of ``KINDS``), name and parameters."""

    kind: str
    name: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class LaneSpec:
    """Limits every request on a lane must satisfy together.

    ``lease_s``: a permit is valid in ``[time, time + lease_s)``; ``horizon_s``: permits
    are granted at most this far ahead of the caller's ``now``."""

    name: str
    limits: tuple[LimitSpec, ...]
    lease_s: float = 2.0
    horizon_s: float = 20.0

    def build(self, state: Mapping[str, Any] | None = None) -> Lane:
        return Lane(self, state or {})


class Lane:
    """A lane's limits with their state: plans permit times that satisfy all of them."""

    def __init__(self, spec: LaneSpec, state: Mapping[str, Any]) -> None:
        self.spec = spec
        self.lease = to_us(spec.lease_s)
        self.horizon = to_us(spec.horizon_s)
        self.limits: list[Limit] = [
            KINDS[s.kind](s.name, self.lease, s.params) for s in spec.limits
        ]
        saved = state.get("limits", {})
        for limit in self.limits:
            limit.load(saved.get(limit.name, {}))
        self.blocked_until: int = state.get("blocked_until", 0)
        # ``peek``'s last plan: (key, start, scratch lane, times, ended); windows only
        self._peeked: tuple[tuple, int, Lane, list[int], list[bool]] | None = None
        self._windows = not any(isinstance(limit, TokenBucket) for limit in self.limits)

    def limit(self, name: str | None) -> Limit:
        if name is None:
            return self.limits[0]
        for limit in self.limits:
            if limit.name == name:
                return limit
        raise ConfigurationError(f"lane {self.spec.name!r} has no limit {name!r}")

    @property
    def max_units(self) -> int:
        return min(limit.capacity for limit in self.limits)

    def begin(self, now: int) -> None:
        for limit in self.limits:
            limit.begin(now)

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        """Earliest ms-aligned time ``>= t`` at which every limit admits ``units``."""
        t = ceil_ms(max(t, self.blocked_until))
        for _ in range(64):
            candidate = t
            for limit in self.limits:
                nt = limit.next_time(candidate, units, reserved)
                if nt is None:
                    return None
                candidate = ceil_ms(max(candidate, nt))
            if candidate == t:
                return t
            t = candidate
        raise RuntimeError(f"lane {self.spec.name!r}: limits did not agree on a time")

    def take(self, t: int, units: int) -> None:
        for limit in self.limits:
            limit.take(t, units)

    def steady_us(self, units: int) -> int:
        """The closest the lane plans two permits of ``units`` each in steady state (its
        slowest limit's ``Limit.steady_us``)."""
        return max(limit.steady_us(units) for limit in self.limits)

    def plan(self, now: int, count: int, units: int, reserved: bool, end: int) -> list[int]:
        """Grant up to ``count`` permits of ``units`` each, at times in ``[now, end]``.

        Each permit is the earliest time every limit admits it, searched from the last
        one's time: recording a grant only ever shrinks the times a limit admits (a
        window's counts, a bucket's arrival times only grow), so no earlier time can admit
        the next permit. (Searched from ``now``, planning a horizon that others' permits
        fill skipped across all of them once per permit: quadratic in the permits.)"""
        return self._plan(now, count, units, reserved, end)

    def _plan(self, start: int, count: int, units: int, reserved: bool, end: int) -> list[int]:
        times: list[int] = []
        for _ in range(count):
            t = self.next_time(times[-1] if times else start, units, reserved)
            if t is None or t > end:
                break
            self.take(t, units)
            times.append(t)
        return times

    def peek(self, now: int, count: int, units: int, reserved: bool) -> list[int]:
        """The times ``plan`` would give ``count`` permits, without granting them.

        A lane of windows keeps its last such plan and extends it: while its limits keep
        their stamps (nothing they count, learn or hold back changed) and ``now`` is not
        past the plan's first permit, planning from ``now`` gives the same permits (the
        first is the earliest time admitted after the plan's start, so after ``now`` too;
        the rest follow from it), and dropping the past changes nothing after ``now``.
        Deciding for many waiting flows in a row, each peeked ahead of the same plan."""
        if not self._windows:
            twin = self.clone()
            twin.begin(now)
            return twin.plan(now, count, units, reserved, end=2**62)
        key = (tuple(limit.stamp for limit in self.limits), self.blocked_until, units, reserved)
        kept = self._peeked
        if kept is None or kept[0] != key or now < kept[1] or (kept[3] and now > kept[3][0]):
            twin = self.clone()
            twin.begin(now)
            kept = self._peeked = (key, now, twin, [], [False])
        _, start, twin, times, ended = kept
        if len(times) < count and not ended[0]:
            more = twin._plan(
                times[-1] if times else start, count - len(times), units, reserved, 2**62
            )
            ended[0] = len(more) < count - len(times)
            times.extend(more)
        return times[:count]

    def clone(self) -> Lane:
        """A copy sharing nothing mutable, deciding as ``Lane(spec, state())`` would."""
        twin = copy.copy(self)
        twin.limits = [limit.clone() for limit in self.limits]
        twin._peeked = None
        return twin

    def free_units(self, now: int, end: int, reserved: bool) -> int:
        if self.blocked_until > end:
            return 0
        start = max(now, self.blocked_until)
        return min(limit.free_units(start, end, reserved) for limit in self.limits)

    @property
    def quota(self) -> Quota | None:
        """The lane's quota (a window of an hour or more: a daily quota, a sliding day),
        whose use the scheduler counts per client and day; None if it has none."""
        for limit in self.limits:
            if isinstance(limit, FixedWindow | SlidingWindow) and limit.long_window:
                return limit
        return None

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"limits": {}}
        for limit in self.limits:
            if s := limit.state():
                out["limits"][limit.name] = s
        if self.blocked_until:
            out["blocked_until"] = self.blocked_until
        return out

    def describe(self, now: int) -> dict[str, Any]:
        return {
            "lease_s": self.spec.lease_s,
            "horizon_s": self.spec.horizon_s,
            "blocked_until": self.blocked_until or None,
            "limits": {limit.name: limit.describe(now) for limit in self.limits},
        }


# --------------------------------------------------------------------------- platforms
AMAZON_PLANS: dict[str, tuple[float, int]] = {  # operation -> (rate req/s, burst); A-ORD etc.
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30),
    "getOrderItemsBuyerInfo": (0.5, 30),
    "listFinancialEventGroups": (0.5, 30),
    "listFinancialEventsByGroupId": (0.5, 30),
    "listFinancialEventsByOrderId": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "listTransactions": (0.5, 10),
    "createReport": (0.0167, 15),
    "getReports": (0.0222, 10),
    "getReport": (2.0, 15),
    "cancelReport": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "getInventorySummaries": (2.0, 2),
}

SHOPIFY_PLANS: dict[str, dict[str, dict[str, float]]] = {  # S-REST, S-GQL, S-OBS (inf noted)
    "standard": {"rest": {"rate": 2, "burst": 40}, "graphql": {"rate": 100, "burst": 2000}},
    "advanced": {"rest": {"rate": 4, "burst": 80}, "graphql": {"rate": 200, "burst": 4000}},
    "plus": {"rest": {"rate": 20, "burst": 400}, "graphql": {"rate": 1000, "burst": 20000}},
    "enterprise": {"rest": {"rate": 40, "burst": 800}, "graphql": {"rate": 2000, "burst": 40000}},
}

GRAPHQL_MARGIN = 0.01
"""Shopify's cost bucket is planned 1 % short (20 of a standard shop's 2,000 points): the
platform refunds a query's unused cost at once, the model a response later."""

GRAPHQL_HORIZON_S = 5.0
"""Shopify's cost bucket grants permits at most 5 s ahead (lanes' default: 20 s). A permit
books its query's *requested* cost; the actual one, often far less (a window's last page,
a recent day: 121 of 998 points), is refunded only when the response is seen. A permit
granted far ahead was planned behind such bookings, and its block sleeps until then
while the refunds have left the bucket full. Measured on ``reference``, Shopify alone
(GraphQL floor 514 s): horizon 20 s 585 s, 10 s 552 s, 5 s 544 s, with fewer acquires."""

EBAY_QUOTAS: dict[str, int] = {  # API -> calls per day per application (E-CL)
    "fulfillment": 100_000,
    "finances": 15_000,
    "inventory": 2_000_000,
    "analytics": 5_000,
}

RESERVE = 0.1
"""eBay's and Etsy's day quotas keep at most 10 % from backfills for the daily syncs."""

RESERVE_FLOOR = 0.02
"""... and at least 2 % (Etsy: 200 of 10,000 calls): what they keep between is what the
daily syncs used lately (``shared.ambassador.reserve``). A held reserve idles on a
sliding day (a long backfill uses ``limit - reserve`` a day), so it follows the syncs;
the floor is room for the first syncs of a new entity or of newly connected clients,
which outrank every backfill and take what the quota frees beyond it."""

CLOCK_SKEW_S = 0.01
ETSY_SPREAD_S = 0.7  # 1 s - a 0.25 s lease - the skew, rounded down
"""How far a platform's clock may run behind ours at a per-second window's boundary: a
permit is planned at least this long after the boundary, or counted in both windows."""

LANE_KEYS = ("lease_s", "horizon_s")
POLICY_KEYS = ("max_batch", "demo_cap", "grace_s", "min_wait_s", "backoff_s")


@dataclass(frozen=True)
class PlatformPolicy:
    """A platform's lanes, which route uses which lane, and the scheduler's knobs.

    ``max_batch``: permits per acquire at most; ``demo_cap``: permits per client for demo
    runs on this entity; ``grace_s``: how long a registration outlives its last permit or
    retry time; ``min_wait_s``: the shortest retry delay; ``backoff_s``: the wait after a
    429 that carries no Retry-After."""

    platform: str
    lanes: Mapping[str, LaneSpec]
    routes: Mapping[str, str] = field(default_factory=dict)
    max_batch: int = 100
    demo_cap: int = 100
    grace_s: float = 60.0
    min_wait_s: float = 1.0
    backoff_s: float = 1.0

    def lane_of(self, route: str) -> str:
        lane = self.routes.get(route, route if route in self.lanes else None)
        if lane is None:
            known = ", ".join(sorted({*self.routes, *self.lanes}))
            raise ConfigurationError(f"{self.platform}: unknown route {route!r}; known: {known}")
        return lane

    @classmethod
    def from_settings(cls, platform: str, overrides: Mapping[str, Any] | None = None):
        """Defaults from MARKETPLACE_APIS.md, then ``overrides`` (the platform's
        ``limits`` setting). Override forms: ``{"<lane>": {"<field>": v}}``,
        ``{"<lane>.<field>": v}``, platform shortcuts (``plan`` for Shopify, ``qps`` /
        ``qpd`` / ``reserve`` / ``reserve_floor`` / ``reset_utc`` / ``release_s`` for
        Etsy, ``session_rps`` for Quiltt, ``reset_utc`` / ``reserve`` /
        ``reserve_floor`` for eBay) and the keys of ``LANE_KEYS``
        (all lanes) and ``POLICY_KEYS``. Keys meant for other components (the sandboxes
        share this dict) are ignored."""
        builders = {
            "amazon": _amazon,
            "shopify": _shopify,
            "ebay": _ebay,
            "etsy": _etsy,
            "quiltt": _quiltt,
        }
        if platform not in builders:
            raise ConfigurationError(f"no limit policy for platform {platform!r}")
        overrides = dict(overrides or {})
        lanes, routes = builders[platform](overrides)
        lanes = _apply_overrides(lanes, overrides)
        knobs = {k: overrides[k] for k in POLICY_KEYS if k in overrides}
        return cls(platform=platform, lanes=lanes, routes=routes, **knobs)


def _spec(kind: str, name: str, **params: Any) -> LimitSpec:
    return LimitSpec(kind, name, params)


def _amazon(o: Mapping[str, Any]) -> tuple[dict, dict]:
    lanes = {}
    for op, (rate, burst) in AMAZON_PLANS.items():
        tolerance = (burst - 1) / rate
        bucket = _spec("token_bucket", "bucket", rate=rate, burst=burst)
        # lateness costs burst (rate x lease): keep the lease within the bucket's tolerance
        lanes[op] = LaneSpec(op, (bucket,), lease_s=min(2.0, max(0.25, tolerance)))
    return lanes, {}


def _shopify(o: Mapping[str, Any]) -> tuple[dict, dict]:
    plan = SHOPIFY_PLANS.get(str(o.get("plan", "standard")).lower())
    if plan is None:
        raise ConfigurationError(f"shopify: unknown plan {o.get('plan')!r}")
    lanes = {
        "rest": LaneSpec("rest", (_spec("leaky_bucket", "bucket", **plan["rest"]),)),
        "graphql": LaneSpec(
            "graphql",
            (
                _spec(
                    "cost_bucket", "points", max_cost=1000, margin=GRAPHQL_MARGIN, **plan["graphql"]
                ),
            ),
            horizon_s=GRAPHQL_HORIZON_S,
        ),
    }
    return lanes, {"bulk": "graphql"}


def _ebay(o: Mapping[str, Any]) -> tuple[dict, dict]:
    reset = str(o.get("reset_utc", "07:00"))  # illustrative reset (E-DA); learned at run time
    reserve = {
        "reserve": float(o.get("reserve", RESERVE)),
        "reserve_floor": float(o.get("reserve_floor", RESERVE_FLOOR)),
    }
    lanes = {
        api: LaneSpec(
            api,
            (_spec("daily_quota", "quota", limit=n, reset_utc=reset, **reserve),),
            lease_s=60.0,
            horizon_s=60.0,
        )
        for api, n in EBAY_QUOTAS.items()
    }
    routes = {
        "order": "fulfillment",
        "transaction": "finances",
        "payout": "finances",
        "inventory_item": "inventory",
    }
    return lanes, routes


def _etsy(o: Mapping[str, Any]) -> tuple[dict, dict]:
    qps, qpd = float(o.get("qps", 10)), float(o.get("qpd", 10_000))
    lane = LaneSpec(
        "api",
        (
            # per second in fixed windows of the clock ("x-remaining-this-second"; the
            # sandbox counts [k, k + 1)): planned as a sliding second, lease-safe, the lane
            # could not pass 10 per 1.3 s (0.77 of its rate); its permits spread over the
            # part of the second a lease (0.25 s) does not carry past its end
            _spec(
                "fixed_window",
                "qps",
                limit=qps,
                window_s=1.0,
                skew_s=CLOCK_SKEW_S,
                spread_s=float(o.get("qps_spread_s", ETSY_SPREAD_S)),
            ),
            _spec(
                "sliding_window",
                "qpd",
                limit=qpd,
                window_s=DAY_S,
                granularity_s=600.0,
                slack_s=float(o.get("qpd_slack_s", 900.0)),
                reserve=float(o.get("reserve", RESERVE)),
                reserve_floor=float(o.get("reserve_floor", RESERVE_FLOOR)),
                # days end an hour after the daily syncs start (03:00 UTC,
                # triggers/daily_sync.py): the reserve is released in that hour, once
                # they are over
                reset_utc=str(o.get("reset_utc", "04:00")),
                release_s=float(o.get("release_s", 3_600.0)),
            ),
        ),
        lease_s=0.25,
    )
    return {"api": lane}, {}


def _quiltt(o: Mapping[str, Any]) -> tuple[dict, dict]:
    rps = float(o.get("session_rps", o.get("rps", 100)))
    window = float(o.get("window", 1.0))
    # Quiltt counts requests in fixed windows aligned to the epoch (Ratelimit-Reset)
    lane = LaneSpec(
        "api",
        (_spec("fixed_window", "rps", limit=rps, window_s=window, skew_s=CLOCK_SKEW_S),),
        0.25,
    )
    return {"api": lane}, {"graphql": "api"}


def _apply_overrides(lanes: dict[str, LaneSpec], o: Mapping[str, Any]) -> dict[str, LaneSpec]:
    per_lane: dict[str, dict[str, Any]] = {}
    for key, value in o.items():
        if isinstance(value, Mapping) and key in lanes:
            per_lane.setdefault(key, {}).update(value)
        elif "." in key and key.split(".", 1)[0] in lanes:
            lane, fld = key.split(".", 1)
            per_lane.setdefault(lane, {})[fld] = value
    out = {}
    for name, spec in lanes.items():
        fields = {k: o[k] for k in LANE_KEYS if k in o}
        fields.update(per_lane.get(name, {}))
        out[name] = _override_lane(spec, fields)
    return out


def _override_lane(spec: LaneSpec, fields: Mapping[str, Any]) -> LaneSpec:
    if not fields:
        return spec
    lane_fields = {k: float(v) for k, v in fields.items() if k in LANE_KEYS}
    limits = list(spec.limits)
    for key, value in fields.items():
        if key in LANE_KEYS:
            continue
        limit_name, _, fld = key.rpartition(".")
        index = next((i for i, s in enumerate(limits) if s.name == limit_name), 0)
        target = limits[index]
        fld = _ALIASES.get(fld, fld)
        if fld not in KINDS[target.kind].fields:
            raise ConfigurationError(
                f"lane {spec.name!r}: {target.kind} {target.name!r} has no field {fld!r}; "
                f"expected one of {', '.join(KINDS[target.kind].fields)}"
            )
        limits[index] = LimitSpec(target.kind, target.name, {**target.params, fld: value})
    return LaneSpec(spec.name, tuple(limits), **{**_lane_kw(spec), **lane_fields})


_ALIASES = {"size": "burst", "leak": "rate", "restore": "rate", "quota": "limit"}


def _lane_kw(spec: LaneSpec) -> dict[str, float]:
    return {"lease_s": spec.lease_s, "horizon_s": spec.horizon_s}


__all__ = [
    "CostBucket",
    "DailyQuota",
    "FixedWindow",
    "Lane",
    "LaneSpec",
    "LeakyBucket",
    "Limit",
    "LimitSpec",
    "PlatformPolicy",
    "SlidingWindow",
    "TokenBucket",
]
