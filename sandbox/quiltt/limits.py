"""Quiltt's limit models: requests per second by authorization scope, session issuance.

Theory of operation (all times are epoch seconds on whatever clock the caller reads; the
models are pure apart from their own counters, so a ManualClock tests them exactly):

* **Requests per second** (Q-OV). Time is cut into fixed windows of ``window`` seconds
  (1 s) aligned to the epoch: ``[k*window, (k+1)*window)``. Each key (an authorization
  scope and its owner, see ``app.py``) may make ``limit`` requests per window: 100 with a
  valid Session token, 25 otherwise. A request over the limit is refused (HTTP 429) and
  takes nothing. Every answer carries ``Ratelimit-Limit``, ``Ratelimit-Remaining`` (after
  this request) and ``Ratelimit-Reset`` (epoch seconds, rounded up, when the window ends).
* **Session issuance** (Q-SESS). Per Profile at most ``sessions_per_hour`` (10) issued in
  any rolling 3,600 s and ``sessions_per_day`` (20) in any rolling 86,400 s; revoked
  tokens do not count. Quiltt publishes the numbers, not the window shape: rolling
  windows are the conservative reading (inf).

Defaults live in ``QuilttLimits``; ``world.limits('quiltt')`` overrides any field by name
(other Quiltt settings such as ``mismatch_share`` share that dict and are ignored here).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

HOUR = 3_600.0
DAY = 86_400.0


@dataclass(frozen=True)
class QuilttLimits:
    session_rps: int = 100  # requests per window with a valid Session token
    other_rps: int = 25  # every other request (Basic auth, API secret, no/invalid auth)
    window: float = 1.0  # seconds
    sessions_per_hour: int = 10  # per Profile, rolling
    sessions_per_day: int = 20  # per Profile, rolling
    session_ttl: float = DAY  # a Session token's lifetime, seconds
    page_cap: int = 100  # records per connection page

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any]) -> QuilttLimits:
        names = {f.name for f in fields(cls)}
        chosen = {k: v for k, v in overrides.items() if k in names}
        return replace(cls(), **chosen)


@dataclass(frozen=True)
class WindowDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds (rounded up) when the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "Ratelimit-Limit": str(self.limit),
            "Ratelimit-Remaining": str(self.remaining),
            "Ratelimit-Reset": str(self.reset),
        }


class RequestWindows:
    """Fixed windows of ``window`` seconds, ``limit`` requests per key and window."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._used: dict[Hashable, tuple[int, int]] = {}  # key -> (window index, count)

    def take(self, key: Hashable, now: float) -> WindowDecision:
        """Count one request of ``key`` at ``now`` if the window has room."""
        index = math.floor(now / self.window)
        current, used = self._used.get(key, (index, 0))
        if current != index:
            used = 0
        allowed = used < self.limit
        if allowed:
            used += 1
        self._used[key] = (index, used)
        reset = math.ceil((index + 1) * self.window)
        return WindowDecision(allowed, self.limit, self.limit - used, reset)


class IssuanceQuota:
    """Rolling hourly and daily caps on Session tokens issued per Profile."""

    def __init__(self, per_hour: int = 10, per_day: int = 20) -> None:
        self.per_hour = per_hour
        self.per_day = per_day

    def frees_at(self, issued: Sequence[float], now: float) -> float | None:
        """None if one more token may be issued at ``now``, else when the quota frees.

        ``issued`` holds the issue times of the Profile's tokens that were not revoked.
        """
        waits = []
        for cap, span in ((self.per_hour, HOUR), (self.per_day, DAY)):
            recent = sorted(t for t in issued if now - span < t <= now)
            if len(recent) >= cap:
                waits.append(recent[len(recent) - cap] + span)
        return max(waits) if waits else None
