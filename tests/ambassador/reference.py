"""Independent reference models of the platforms' limits, in exact arithmetic.

Written from MARKETPLACE_APIS.md, not from ``shared.ambassador``: each takes the times
(epoch µs) at which requests reach the platform and returns the indices it refuses.
Rates are taken as the exact value of the float the policy states (``Fraction(0.0167)``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction

US = 1_000_000


def token_bucket_refusals(
    arrivals: list[tuple[int, int]], rate: float, burst: int, level: Fraction | None = None
) -> list[int]:
    """Token bucket (SP-API, Shopify REST as a leaky bucket, GraphQL cost points): starts
    with ``level`` (full by default) at the first arrival, gains ``rate`` units/s up to
    ``burst``; a request of ``u`` units needs ``u`` tokens, else it is refused (and
    takes nothing). ``arrivals`` are (µs, units) in any order."""
    per_us = Fraction(rate) / US
    order = sorted(range(len(arrivals)), key=lambda i: arrivals[i][0])
    tokens = Fraction(burst) if level is None else level
    last = arrivals[order[0]][0] if order else 0
    refused = []
    for i in order:
        t, units = arrivals[i]
        tokens = min(Fraction(burst), tokens + (t - last) * per_us)
        last = t
        if tokens >= units:
            tokens -= units
        else:
            refused.append(i)
    return refused


def cost_bucket_refusals(arrivals: list[tuple[int, int, int]], rate: float, burst: int):
    """Shopify GraphQL cost points: a query arriving at ``t`` needs its *requested* cost in
    the bucket, which is debited; once it has run, the difference to its *actual* cost is
    refunded (S-GQL). ``arrivals`` are (µs, requested, actual); refused queries take
    nothing. Bucket starts full, gains ``rate`` points/s up to ``burst``."""
    per_us = Fraction(rate) / US
    order = sorted(range(len(arrivals)), key=lambda i: arrivals[i][0])
    tokens, last, refused = Fraction(burst), arrivals[order[0]][0] if order else 0, []
    for i in order:
        t, requested, actual = arrivals[i]
        tokens = min(Fraction(burst), tokens + (t - last) * per_us)
        last = t
        if tokens >= requested:
            tokens -= actual
        else:
            refused.append(i)
    return refused


def token_bucket_level(arrivals: list[tuple[int, int]], rate: float, burst: int, at: int):
    """The bucket's level at ``at`` after every arrival at or before ``at``."""
    seen = sorted(a for a in arrivals if a[0] <= at)
    if not seen:
        return Fraction(burst)
    per_us = Fraction(rate) / US
    tokens, last = Fraction(burst), seen[0][0]
    for t, units in seen:
        tokens = min(Fraction(burst), tokens + (t - last) * per_us)
        last = t
        if tokens >= units:
            tokens -= units
    return min(Fraction(burst), tokens + (at - last) * per_us)


def sliding_window_refusals(arrivals: list[tuple[int, int]], limit: int, window_s: float):
    """At most ``limit`` units in any closed window ``[t - W, t]`` (Etsy QPS / QPD)."""
    w = round(window_s * US)
    events = sorted(arrivals)
    times = [t for t, _ in events]
    prefix = [0]
    for _, units in events:
        prefix.append(prefix[-1] + units)
    refused = []
    for k, (t, _) in enumerate(events):
        inside = prefix[bisect_right(times, t)] - prefix[bisect_left(times, t - w)]
        if inside > limit:
            refused.append(k)
    return refused


def sliding_window_used(arrivals: list[tuple[int, int]], window_s: float, at: int) -> int:
    w = round(window_s * US)
    return sum(u for t, u in arrivals if at - w < t <= at)


def fixed_window_refusals(
    arrivals: list[tuple[int, int]], limit: int, window_s: float, anchor_us: int = 0
) -> list[int]:
    """At most ``limit`` units per window ``[anchor + kW, anchor + (k+1)W)`` (Quiltt per
    second, eBay per day)."""
    w = round(window_s * US)
    used: dict[int, int] = {}
    refused = []
    for i, (t, units) in sorted(enumerate(arrivals), key=lambda p: p[1][0]):
        k = (t - anchor_us) // w
        if used.get(k, 0) + units > limit:
            refused.append(i)
        else:
            used[k] = used.get(k, 0) + units
    return refused


def fixed_window_used(
    arrivals: list[tuple[int, int]], window_s: float, at: int, anchor_us: int = 0
) -> int:
    w = round(window_s * US)
    k = (at - anchor_us) // w
    return sum(u for t, u in arrivals if t <= at and (t - anchor_us) // w == k)


def jain(values: list[float]) -> float:
    """Jain's fairness index: (Σx)² / (n·Σx²); 1 is perfectly fair."""
    total = sum(values)
    squares = sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 1.0
