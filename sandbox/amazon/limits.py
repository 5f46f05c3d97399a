"""SP-API usage plans: one token bucket per operation and per selling partner.

Theory of operation: a bucket holds at most ``burst`` tokens and gains ``rate`` tokens per
second (continuously). A request takes one token; with less than one token it is refused
(HTTP 429 QuotaExceeded) and takes nothing. A new bucket starts full. Time is whatever
``now`` (epoch seconds, any clock) the caller passes, so the model is pure and testable.

Defaults are the spec "Usage Plan" tables (MARKETPLACE_APIS.md §1/§2.2). Overrides come from
``world.limits('amazon')`` in either form::

    {"getOrders": {"rate": 0.5, "burst": 5}}
    {"getOrders.rate": 0.5, "getOrders.burst": 5}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # tokens per second
    burst: int

    @property
    def header(self) -> str:
        """The ``x-amzn-RateLimit-Limit`` value, e.g. ``"0.0167"``, ``"2.0"``."""
        return str(float(self.rate))


DEFAULT_PLANS: dict[str, UsagePlan] = {
    "getOrders": UsagePlan(0.0167, 20),
    "getOrder": UsagePlan(0.5, 30),
    "getOrderItems": UsagePlan(0.5, 30),
    "listFinancialEventGroups": UsagePlan(0.5, 30),
    "listFinancialEventsByGroupId": UsagePlan(0.5, 30),
    "listFinancialEventsByOrderId": UsagePlan(0.5, 30),
    "listFinancialEvents": UsagePlan(0.5, 30),
    "createReport": UsagePlan(0.0167, 15),
    "getReports": UsagePlan(0.0222, 10),
    "getReport": UsagePlan(2.0, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    "getInventorySummaries": UsagePlan(2.0, 2),
}


def plans_with(overrides: Mapping[str, Any]) -> dict[str, UsagePlan]:
    """The default plans with ``overrides`` applied (unknown operations raise KeyError)."""
    plans = dict(DEFAULT_PLANS)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            fields = dict(value)
            operation = key
        else:
            operation, _, field = key.partition(".")
            if operation not in DEFAULT_PLANS:
                continue  # not a usage-plan key (other Amazon settings share the dict)
            fields = {field: value}
        if operation not in plans:
            raise KeyError(f"unknown Amazon operation {operation!r}")
        cast = {k: (int(v) if k == "burst" else float(v)) for k, v in fields.items()}
        plans[operation] = replace(plans[operation], **cast)
    return plans


@dataclass
class TokenBucket:
    plan: UsagePlan
    tokens: float
    updated: float

    @classmethod
    def full(cls, plan: UsagePlan, now: float) -> TokenBucket:
        return cls(plan, float(plan.burst), now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            gained = (now - self.updated) * self.plan.rate
            self.tokens = min(float(self.plan.burst), self.tokens + gained)
            self.updated = now

    def try_take(self, now: float) -> bool:
        """Take one token if there is one; False means HTTP 429."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 if one is now)."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.plan.rate)


class RateLimiter:
    """Buckets keyed by (selling partner account, operation)."""

    def __init__(self, plans: Mapping[str, UsagePlan]) -> None:
        self.plans = dict(plans)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, account: str, operation: str, now: float) -> TokenBucket:
        key = (account, operation)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket.full(self.plans[operation], now)
        return self._buckets[key]

    def try_take(self, account: str, operation: str, now: float) -> bool:
        return self.bucket(account, operation, now).try_take(now)
