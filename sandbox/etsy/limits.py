"""Etsy's rate limits: per application (API key), a per-second limit (QPS) and a per-day
limit (QPD) over a SLIDING 24-hour window.

Defaults are what default apps are observed to get, 10 QPS and 10,000 QPD (Etsy's docs
show 150 / 100,000 as an example); both, and everything else here, are overridable through
``world.limits("etsy")``.

    QPS  fixed one-second windows [k, k + 1) of the world clock ("remaining this second")
    QPD  calls counted in buckets of ``qpd_bucket_s`` seconds (default 1 s); a call in the
         bucket starting at b stops counting at b + 86,400, so with 1-second buckets a call
         at whole second t frees its slot exactly 24 h later

QPS is evaluated before QPD (as Etsy documents); a refused call counts in neither. Every
answer carries ``x-limit-per-second``, ``x-remaining-this-second``, ``x-limit-per-day`` and
``x-remaining-today``; a 429 also carries ``retry-after`` (whole seconds until a slot
frees: the next second for QPS, the oldest day bucket's expiry for QPD; Etsy has been seen
sending a flat 86400 for the latter).

Pure: every method takes ``now`` (epoch seconds, UTC) explicitly.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

DAY = 86_400


@dataclass(frozen=True)
class Policy:
    """Every number of the Etsy sandbox that a test or bench may want to change."""

    qps: int = 10
    qpd: int = 10_000
    qpd_window_s: int = DAY
    qpd_bucket_s: int = 1
    access_token_ttl_s: int = 3_600
    max_limit: int = 100
    ledger_window_s: int = 2_678_400  # 31 days

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> Policy:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown Etsy limit fields {unknown}; expected some of {sorted(known)}"
            )
        return cls(**{k: int(v) for k, v in overrides.items()})


@dataclass(frozen=True)
class Decision:
    admitted: bool
    reason: str | None  # "second" | "day" when refused
    retry_after: int  # whole seconds; 0 when admitted
    headers: dict[str, str]


class AppLimiter:
    """QPS and sliding QPD of one API key."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._second: int | None = None
        self._in_second = 0
        self._buckets: deque[list[float]] = deque()  # [bucket start, calls]
        self._in_day = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.policy.qpd_window_s
        while self._buckets and self._buckets[0][0] <= horizon:
            self._in_day -= int(self._buckets.popleft()[1])
        second = math.floor(now)
        if self._second != second:
            self._second, self._in_second = second, 0

    def remaining_second(self, now: float) -> int:
        self._expire(now)
        return max(0, self.policy.qps - self._in_second)

    def remaining_day(self, now: float) -> int:
        self._expire(now)
        return max(0, self.policy.qpd - self._in_day)

    def headers(self, now: float) -> dict[str, str]:
        return {
            "x-limit-per-second": str(self.policy.qps),
            "x-remaining-this-second": str(self.remaining_second(now)),
            "x-limit-per-day": str(self.policy.qpd),
            "x-remaining-today": str(self.remaining_day(now)),
        }

    def acquire(self, now: float) -> Decision:
        """Admit one call if both limits have room (counting it), else say which refused."""
        self._expire(now)
        if self._in_second >= self.policy.qps:
            wait = max(1, math.ceil(math.floor(now) + 1 - now))
            return Decision(False, "second", wait, self.headers(now))
        if self._in_day >= self.policy.qpd:
            frees = self._buckets[0][0] + self.policy.qpd_window_s
            return Decision(False, "day", max(1, math.ceil(frees - now)), self.headers(now))
        self._in_second += 1
        self._in_day += 1
        bucket = math.floor(now / self.policy.qpd_bucket_s) * self.policy.qpd_bucket_s
        if self._buckets and self._buckets[-1][0] == bucket:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([bucket, 1])
        return Decision(True, None, 0, self.headers(now))


class Limits:
    """The limiters of every API key, created on first use."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._apps: dict[str, AppLimiter] = {}

    def get(self, keystring: str) -> AppLimiter:
        if keystring not in self._apps:
            self._apps[keystring] = AppLimiter(self.policy)
        return self._apps[keystring]
