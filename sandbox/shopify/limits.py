"""Shopify's limit models, per shop (per app + store; the sandbox serves one app).

Defaults are the Standard plan's (MARKETPLACE_APIS.md §1, §3.2, §3.3); every number is a
``Policy`` field, overridable through ``world.limits("shopify")``.

* **REST leaky bucket** (S-REST). A bucket of ``rest_bucket`` (40) marbles; each request
  adds one; the bucket leaks ``rest_leak`` (2) marbles per second, continuously. A request
  that finds the bucket full is refused with 429 and adds nothing. ``used`` after a
  request is what ``X-Shopify-Shop-Api-Call-Limit: used/40`` shows (rounded up).
  ``Retry-After`` is the time until one marble has leaked, in seconds.
* **GraphQL cost bucket** (S-GQL, S-OBS). ``graphql_bucket`` (2,000) points restored at
  ``graphql_restore`` (100) points per second, continuously, up to the maximum. Before
  execution the query's requested cost must be available (else THROTTLED, nothing is
  taken); it is debited, and after execution the difference to the actual cost is
  refunded. ``currentlyAvailable`` is reported after that refund. A query whose
  requested cost exceeds ``max_query_cost`` (1,000) is refused whatever the bucket holds.
* **Order horizon** (S-ORD): without the ``read_all_orders`` scope (``read_all_orders:
  false``) only orders created in the last ``orders_horizon_s`` (60 days) exist for the
  app, in GraphQL, REST, bulk results and the ground truth alike.
* **Bulk operations** (S-BULK): ``bulk_concurrency_before_2026_01`` (1) running bulk
  query per shop for API versions before 2026-01, ``bulk_concurrency`` (5) from 2026-01;
  a bulk run takes ``bulk_startup_s`` + objects / ``bulk_objects_per_s`` seconds.

Pure: every method takes ``now`` (epoch seconds) explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Policy:
    rest_bucket: int = 40
    rest_leak: float = 2.0
    graphql_bucket: float = 2_000.0
    graphql_restore: float = 100.0
    max_query_cost: int = 1_000
    max_page_size: int = 250
    throttled_http_status: int = 200  # observed mostly 200; some reports say 429
    access_token_ttl_s: float = 3_600.0  # expiring offline tokens; 0 = never expire
    bulk_concurrency_before_2026_01: int = 1
    bulk_concurrency: int = 5
    bulk_startup_s: float = 5.0
    bulk_objects_per_s: float = 400.0
    bulk_url_ttl_s: float = 7 * 86_400.0
    read_all_orders: bool = True  # the app's scope; without it only 60 days of orders show
    orders_horizon_s: float = 60 * 86_400.0

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> Policy:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(
                f"unknown Shopify limit fields {unknown}; expected some of {sorted(known)}"
            )
        cast = {k: _cast(getattr(cls(), k), v) for k, v in overrides.items()}
        return cls(**cast)


def _cast(default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)
    return type(default)(value)


class LeakyBucket:
    """The REST bucket of one shop."""

    def __init__(self, size: int, leak: float) -> None:
        self.size, self.leak = size, leak
        self._level, self._at = 0.0, None

    def level(self, now: float) -> float:
        if self._at is not None:
            self._level = max(0.0, self._level - (now - self._at) * self.leak)
        self._at = now
        return self._level

    def take(self, now: float) -> tuple[bool, float]:
        """(admitted, retry_after_s): add one marble if the bucket has room."""
        level = self.level(now)
        if level + 1 > self.size + 1e-9:
            return False, (level + 1 - self.size) / self.leak
        self._level = level + 1
        return True, 0.0

    def header(self, now: float) -> str:
        return f"{min(self.size, math.ceil(self.level(now) - 1e-9))}/{self.size}"


class CostBucket:
    """The GraphQL cost bucket of one shop."""

    def __init__(self, maximum: float, restore: float) -> None:
        self.maximum, self.restore = maximum, restore
        self._available, self._at = maximum, None

    def available(self, now: float) -> float:
        if self._at is not None:
            self._available = min(self.maximum, self._available + (now - self._at) * self.restore)
        self._at = now
        return self._available

    def debit(self, cost: float, now: float) -> bool:
        available = self.available(now)
        if cost > available + 1e-9:
            return False
        self._available = available - cost
        return True

    def refund(self, points: float, now: float) -> None:
        self._available = min(self.maximum, self.available(now) + points)

    def status(self, now: float) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": int(self.available(now)),
            "restoreRate": float(self.restore),
        }


class ShopLimits:
    """Both buckets of every shop, created on first use."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._rest: dict[str, LeakyBucket] = {}
        self._graphql: dict[str, CostBucket] = {}

    def rest(self, shop: str) -> LeakyBucket:
        if shop not in self._rest:
            self._rest[shop] = LeakyBucket(self.policy.rest_bucket, self.policy.rest_leak)
        return self._rest[shop]

    def graphql(self, shop: str) -> CostBucket:
        if shop not in self._graphql:
            self._graphql[shop] = CostBucket(
                self.policy.graphql_bucket, self.policy.graphql_restore
            )
        return self._graphql[shop]

    def bulk_concurrency(self, version: str) -> int:
        if version < "2026-01":
            return self.policy.bulk_concurrency_before_2026_01
        return self.policy.bulk_concurrency
