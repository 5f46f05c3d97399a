"""The three ways of pacing requests the bench compares, on the same flows and data.

``tributary``
    The product as it is: the ambassador entity with each platform's limit policy
    (``Settings.<platform>.limits``, no overrides), learning from response headers.
``uniform-worst-case``
    What the client's old system first did: every request to a platform paced at one per
    minute, whatever the platform allows, without reading its headers. One lane per
    platform (per ambassador entity: per account, or per application for eBay and Etsy)
    holds a token bucket of rate 1/60 s and burst 1 that every route shares; Shopify's
    GraphQL route, whose permits are cost points, gets a bucket of ``MAX_COST`` points
    restored per minute (one maximum-cost query a minute; the paged queries ask for
    close to that).
``reactive-backoff``
    What common ETL connectors do: no pacing — the policy grants every permit at once —
    and the block loop backs off exponentially on a 429 (``Settings.pacing = "reactive"``,
    read by the flows; see ``shared.flows``).

Hook. Limit overrides through ``Settings.<platform>.limits`` can change a lane's figures
but not its kind (eBay's daily quota cannot become a per-minute bucket), not merge
routes into one lane, and not stop the scheduler from adopting the rate a platform
states in its headers. So the two other strategies swap the ambassador entity's policy
factory (``entities.ambassador.policy_for``) while a run is ``installed()``, with lanes
of limit kinds defined here that ignore what the platform states (``learn`` / ``sync``
do nothing). The entity, its scheduler and the flows stay the real ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.ambassador import limits as limit_kinds
from shared.ambassador.policies import LaneSpec, LimitSpec, PlatformPolicy

MAX_COST = 1000  # Shopify's maximum query cost
UNIFORM_INTERVAL_S = 60.0
FREE_RATE = 1e6  # permits per second: more than any loop can ask for


class _Deaf:
    """Mixin: a limit that ignores what the platform states or reports."""

    def learn(self, capacity, rate, reset_at) -> None:
        return None

    def sync(self, at, remaining, unseen) -> None:
        return None


class FixedPace(_Deaf, limit_kinds.TokenBucket):
    """A token bucket whose figures never change at run time (429s still slow it)."""

    kind = "bench_fixed_pace"


class FixedPoints(_Deaf, limit_kinds.CostBucket):
    """A cost-point bucket whose figures never change at run time."""

    kind = "bench_fixed_points"


class Unlimited(_Deaf, limit_kinds.TokenBucket):
    """Grants at once, forever: a 429 neither empties nor slows it."""

    kind = "bench_unlimited"

    def exhaust(self, at, unseen) -> None:
        return None


BENCH_KINDS = (FixedPace, FixedPoints, Unlimited)


def _routes(platform: str) -> tuple[set[str], set[str]]:
    """(count routes, cost-point routes) of the platform's real policy."""
    real = PlatformPolicy.from_settings(platform, {})
    points: set[str] = set()
    count: set[str] = set()
    for route in {*real.routes, *real.lanes}:
        lane = real.lanes[real.lane_of(route)]
        is_points = any(s.kind == "cost_bucket" for s in lane.limits)
        (points if is_points else count).add(route)
    return count, points


def uniform_policy(platform: str) -> PlatformPolicy:
    count, points = _routes(platform)
    rate = 1.0 / UNIFORM_INTERVAL_S
    lanes = {
        "uniform": LaneSpec(
            "uniform", (LimitSpec(FixedPace.kind, "pace", {"rate": rate, "burst": 1}),), 2.0
        )
    }
    routes = dict.fromkeys(count, "uniform")
    if points:
        params = {"rate": MAX_COST * rate, "burst": MAX_COST, "max_cost": MAX_COST}
        spec = LimitSpec(FixedPoints.kind, "points", params)
        lanes["uniform_points"] = LaneSpec("uniform_points", (spec,), 2.0)
        routes.update(dict.fromkeys(points, "uniform_points"))
    return PlatformPolicy(platform=platform, lanes=lanes, routes=routes)


def free_policy(platform: str) -> PlatformPolicy:
    count, points = _routes(platform)
    params = {"rate": FREE_RATE, "burst": FREE_RATE}
    lane = LaneSpec("free", (LimitSpec(Unlimited.kind, "free", params),), 2.0)
    routes = dict.fromkeys(count | points, "free")
    return PlatformPolicy(platform=platform, lanes={"free": lane}, routes=routes, max_batch=100)


@dataclass(frozen=True)
class Strategy:
    name: str
    pacing: str  # the flows' Settings.pacing: "ambassador" or "reactive"
    policy: Any = None  # platform -> PlatformPolicy, replacing the settings' policy

    def limits(self, platform: str) -> dict[str, Any]:
        """``Settings.<platform>.limits`` overrides for this strategy (none so far)."""
        return {}

    def env(self) -> dict[str, str]:
        return {"TRIBUTARY_PACING": self.pacing}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The strategy's policy in the ambassador entity for the duration."""
        if self.policy is None:
            yield
            return
        import entities.ambassador as entity

        added = [k for k in BENCH_KINDS if k.kind not in limit_kinds.KINDS]
        for kind in added:
            limit_kinds.KINDS[kind.kind] = kind
        original = entity.policy_for
        entity.policy_for = self.policy
        try:
            yield
        finally:
            entity.policy_for = original
            for kind in added:
                limit_kinds.KINDS.pop(kind.kind, None)


STRATEGIES: dict[str, Strategy] = {
    "tributary": Strategy("tributary", "ambassador"),
    "uniform-worst-case": Strategy("uniform-worst-case", "ambassador", uniform_policy),
    "reactive-backoff": Strategy("reactive-backoff", "reactive", free_policy),
}


def get(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
