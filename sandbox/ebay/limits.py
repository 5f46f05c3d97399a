"""eBay's call limits: daily quotas per application, in fixed daily windows.

eBay publishes daily call limits per application and API (Fulfillment 100,000,
Finances 15,000, Inventory 2,000,000, Developer Analytics 5,000; the OAuth token endpoint
50,000 refresh-token grants and 1,000 client-credentials grants), shared by every user
token the application holds, and shows them through Developer Analytics getRateLimits as
``count``, ``limit``, ``remaining``, ``reset`` and ``timeWindow``. No per-second limit and
no rate-limit response headers are documented; an exhausted quota answers 429 errorId 2001.

When the daily window starts is not established (MARKETPLACE_APIS.md §9). The sandbox
uses fixed windows of ``window_s`` seconds starting ``reset_utc_s`` seconds after UTC
midnight: by default 07:00 UTC, i.e. midnight in Los Angeles under daylight-saving time
(daylight saving itself is not modelled, so the window never moves). Both are overridable
through ``world.limits("ebay")`` like every quota. A window is half-open:
[start, start + window_s). A call counts when it is admitted (whatever it then answers);
refused calls (401, 403, 429) do not count.

Pure: every method takes ``now`` (epoch seconds, UTC) explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

# API key -> (apiContext, apiName, apiVersion, resource name) as getRateLimits lists them.
APIS: dict[str, tuple[str, str, str, str]] = {
    "fulfillment": ("sell", "Fulfillment", "v1", "sell.fulfillment"),
    "finances": ("sell", "Finances", "v1", "sell.finances"),
    "inventory": ("sell", "Inventory", "v1", "sell.inventory"),
    "analytics": ("developer", "Analytics", "v1_beta", "developer.analytics"),
    "oauth_refresh": ("identity", "OAuth", "v1", "oauth2.token.refresh_token"),
    "oauth_client": ("identity", "OAuth", "v1", "oauth2.token.client_credentials"),
}


@dataclass(frozen=True)
class Policy:
    """Every number of the eBay sandbox that a test or bench may want to change."""

    fulfillment_per_day: int = 100_000
    finances_per_day: int = 15_000
    inventory_per_day: int = 2_000_000
    analytics_per_day: int = 5_000
    oauth_refresh_per_day: int = 50_000
    oauth_client_per_day: int = 1_000
    window_s: int = 86_400
    reset_utc_s: int = 7 * 3_600
    access_token_ttl_s: int = 7_200
    orders_max_limit: int = 200
    transactions_max_limit: int = 1_000  # the request parameter's documented maximum
    payouts_max_limit: int = 200
    inventory_max_limit: int = 100
    order_history_days: int = 730  # getOrders returns orders up to two years old
    default_window_days: int = 90  # no filter -> the last 90 days

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> Policy:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown eBay limit fields {unknown}; expected some of {sorted(known)}"
            )
        return cls(**{k: int(v) for k, v in overrides.items()})

    def limit(self, api: str) -> int:
        return int(getattr(self, f"{api}_per_day"))


class DailyQuota:
    """``limit`` calls per fixed window of ``window_s`` seconds anchored at ``anchor_s``."""

    def __init__(self, limit: int, window_s: float, anchor_s: float) -> None:
        if limit < 0 or window_s <= 0:
            raise ValueError("a quota needs limit >= 0 and a positive window")
        self.limit = limit
        self.window_s = window_s
        self.anchor_s = anchor_s
        self._window: float | None = None
        self._count = 0

    def window_start(self, now: float) -> float:
        return self.anchor_s + math.floor((now - self.anchor_s) / self.window_s) * self.window_s

    def reset_at(self, now: float) -> float:
        """When the window holding ``now`` ends and the count returns to zero."""
        return self.window_start(now) + self.window_s

    def _roll(self, now: float) -> None:
        start = self.window_start(now)
        if self._window is None or start > self._window:
            self._window, self._count = start, 0

    def count(self, now: float) -> int:
        self._roll(now)
        return self._count

    def remaining(self, now: float) -> int:
        return max(0, self.limit - self.count(now))

    def try_acquire(self, now: float) -> bool:
        """Count one call if the window has room; False (nothing counted) otherwise."""
        self._roll(now)
        if self._count >= self.limit:
            return False
        self._count += 1
        return True


class Quotas:
    """The daily quotas of every application, created on first use."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._quotas: dict[tuple[str, str], DailyQuota] = {}

    def get(self, app: str, api: str) -> DailyQuota:
        key = (app, api)
        if key not in self._quotas:
            p = self.policy
            self._quotas[key] = DailyQuota(p.limit(api), p.window_s, p.reset_utc_s)
        return self._quotas[key]

    def try_acquire(self, app: str, api: str, now: float) -> bool:
        return self.get(app, api).try_acquire(now)
