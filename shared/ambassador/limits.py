"""Limit models: each platform's rate-limit model as small, pure, JSON-serializable state.

Units and times
---------------
* Time is an ``int`` of **microseconds since the Unix epoch (UTC)** everywhere in this
  module (``US`` per second). Integer time keeps the arithmetic exact: a bucket that
  refills every 500,000 µs never drifts, however many permits it hands out.
* A *unit* is what a limit counts: one request, or one GraphQL cost point. Units are
  ints. A *permit* is the right to spend ``units`` at or after a time ``t``.
* Every limit plans for **lateness**: a permit granted for ``t`` may be used anywhere in
  the half-open lease ``[t, t + lateness)``, so each limit is planned strictly enough that
  any such delay still conforms (for a bucket: the burst shrinks by ``rate x lateness``;
  for a window: the window grows by ``lateness``).

The limits (one class per limit model; MARKETPLACE_APIS.md §1)
----------------------------------------------------------------
``TokenBucket``   rate r units/s, burst B (Amazon per operation; Shopify REST is the same
                  meter seen from the other side, ``LeakyBucket``; Shopify GraphQL cost
                  points, ``CostBucket``). See "Token buckets and lateness" below.
``FixedWindow``   ``limit`` units per fixed window of ``window_s`` seconds aligned to a
                  reset instant (Quiltt and Etsy per second); ``DailyQuota`` is the daily case
                  (eBay: per application and API, resetting when the platform resets).
``SlidingWindow`` at most ``limit`` units in any window of ``window_s`` seconds (Etsy's
                  sliding 24-hour QPD). Counted in buckets of
                  ``granularity_s``; a window is checked as the ``m`` consecutive buckets
                  that can meet a real window widened by lateness and by ``slack_s`` (the
                  platform's own bucket size), so the count is conservative.

A limit answers ``next_time(t, units, reserved)`` — the earliest time ``>= t`` at which
the permit conforms, or ``None`` if it never can (units above capacity) — and records
grants with ``take``. ``free_units`` estimates how many units fit in ``[now, end]`` (used
for sharing, never for safety). Observations tighten state: ``sync`` follows a
remaining-quota reading, ``exhaust`` follows a 429; ``learn`` adopts capacity, rate or
reset instants the platform reports. Quota limits carry an optional reserve: units that
``reserved=True`` (backfill) permits may not use, so a huge backfill cannot take the
quota a day's syncs need. ``reserve`` is the most it holds (a fraction of the limit);
with ``reserve_floor`` set, it holds what the scheduler learned the daily syncs need
(``hold``, ``shared.ambassador.reserve``), but no less than the floor. Both kinds give it
to backfills for the last ``release_s`` of their day once ``hold`` says the day's syncs
are over, so it is not left idle while backfills wait: a daily quota before its reset
(the syncs ran earlier in the window); a sliding day in the hour after the syncs start
(see ``SlidingWindow``).

Token buckets and lateness
--------------------------
Permits ``i < j`` (in time order, ``U`` the units of ``i..j``) reach the platform somewhere
in their leases, so ``i`` may arrive ``L`` late and ``j`` on time. A full bucket admits
every such arrival pattern exactly when, for all such pairs,

    U > B  implies  t_j - t_i >= L + (U - B)·T                                  (*)

Two rules each imply (*) on their own, each with its own theoretical arrival time kept
over the whole history (``tat = max(tat, t) + c·X`` with the rule's ``X`` per unit):

* **burst rule** (``X = T``): ``t >= tat - ((B - c)·T - L)``. Best when the burst absorbs
  the lateness (``(B - 1)·T >= L``): the full rate, a burst of ``B - r·L``.
* **spaced rule** (``X = I = max(T, (L + T + 1 ms) / B)``): ``t >= tat_s + (c - 1)·I``,
  so any ``k`` permits span at least ``(k - 1)·I - 1 ms >= L + (k - B)·T`` (equality at
  ``k = B + 1``; the right side grows by ``T <= I`` per permit). The 1 ms lets ``tat_s``
  advance from ``t - 1 ms`` rather than from the permit's whole-millisecond time, so the
  rounding costs nothing per permit. When the lateness exceeds what the burst absorbs,
  this is about the best any schedule can do: every ``B + 1`` permits must span
  ``L + T`` by (*), so no safe schedule beats ``B`` units per ``L + T``.

A permit is granted at the earlier of the two rules' times and both ``tat`` are advanced;
as each rule alone implies (*), so does any mix. A ``tat`` is forgotten ("full") only
once it can no longer delay any permit (``tat <= now - L``; ``tat_s <= now - (B - 1)·I``).
"""

from __future__ import annotations

import copy
import itertools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from shared.errors import ConfigurationError

US = 1_000_000
MS = 1_000
_STAMPS = itertools.count(1)  # edit stamps (``Limit.stamp``), unique in the process
DAY_S = 86_400.0


def to_us(seconds: float) -> int:
    """Seconds (float) to whole microseconds, rounded to nearest."""
    return round(seconds * US)


def ceil_ms(t_us: int) -> int:
    """Round a time up to the next whole millisecond (permit times are ms-aligned)."""
    return -(-t_us // MS) * MS


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def reserve_units(capacity: int, params: Mapping[str, Any], held: int | None) -> int:
    """Units of a quota kept from backfills: ``held`` (the daily syncs' learned need,
    ``shared.ambassador.reserve``) between ``reserve_floor`` and ``reserve`` of
    ``capacity``; the whole ``reserve`` while nothing was learned or without a floor."""
    ceiling = math.ceil(capacity * float(params.get("reserve") or 0.0))
    floor = params.get("reserve_floor")
    if held is None or floor is None:
        return ceiling
    return min(ceiling, max(math.ceil(capacity * float(floor)), held))


# --------------------------------------------------------------------------- limits
LONG_WINDOW_S = 3_600.0


class Limit:
    """A limit's parameters (from settings) plus its state (from the entity)."""

    kind: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]

    def __init__(self, name: str, lateness_us: int, params: Mapping[str, Any]) -> None:
        self.name = name
        self.lateness = lateness_us
        self.params = dict(params)
        self.learned: dict[str, float] = {}
        # a window limit takes a new stamp whenever what it admits may change (what it
        # counts, learns or holds back; not dropping the past): equal stamps, equal
        # decisions from then on (``Lane.peek`` reuses its plan). Buckets do not stamp.
        self.stamp = next(_STAMPS)

    # parameters a platform may override at run time (``learn``)
    def param(self, key: str) -> Any:
        return self.learned.get(key, self.params[key])

    def begin(self, now: int) -> None:
        """Bring the state to ``now`` (drop what can no longer matter)."""

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        raise NotImplementedError

    def take(self, t: int, units: int) -> None:
        raise NotImplementedError

    def adjust(self, t: int, delta: int) -> None:
        """Charge (``delta > 0``) or refund (``< 0``) units for a permit used at ``t``."""
        raise NotImplementedError

    def free_units(self, now: int, end: int, reserved: bool) -> int:
        raise NotImplementedError

    def steady_us(self, units: int) -> int:
        """The closest this limit plans two permits of ``units`` each once any burst is
        spent, with nobody else on it (0: a window admits its units at once)."""
        return 0

    def sync(self, at: int, remaining: float, unseen: int) -> None:
        """The platform reports ``remaining`` units after a request it served at ``at``;
        ``unseen``: our granted units dated after ``at`` (they cannot have reached it).
        Only tightens, and only on evidence of use beyond ours."""
        raise NotImplementedError

    def exhaust(self, at: int, unseen: int) -> None:
        """The platform refused a request at ``at`` (429): nothing is left there."""
        self.sync(at, 0, unseen)

    @property
    def long_window(self) -> bool:
        """A quota over an hour or more: a 429 that names no limit does not, by itself,
        prove it spent (the scheduler's ``BLIND_429S_FOR_QUOTA``)."""
        return float(self.params.get("window_s", 0.0)) >= LONG_WINDOW_S

    def learn(self, capacity: float | None, rate: float | None, reset_at: int | None) -> None:
        if capacity is not None and capacity >= 1:
            self.learned[self.capacity_field] = capacity
        self.stamp = next(_STAMPS)

    capacity_field: ClassVar[str] = "limit"

    @property
    def capacity(self) -> int:
        return int(self.param(self.capacity_field))

    def state(self) -> dict[str, Any]:
        return {"learned": dict(self.learned)} if self.learned else {}

    def load(self, state: Mapping[str, Any]) -> None:
        self.learned = dict(state.get("learned", {}))
        self.stamp = next(_STAMPS)

    def describe(self, now: int) -> dict[str, Any]:
        return {"kind": self.kind, **self.params, **self.learned}

    def clone(self) -> Any:
        """A copy sharing nothing mutable that decides as one loaded from ``state()``
        (to plan ahead without granting: ``Lane.peek``)."""
        twin = copy.copy(self)
        twin.learned = dict(self.learned)
        return twin


class TokenBucket(Limit):
    """Token bucket: ``rate`` units/s, ``burst`` units, starts full; planned with the burst
    rule and the spaced rule of the module docstring.

    A 429 multiplies the planning rate by ``penalty`` (down to ``min_factor``); the factor
    recovers linearly to 1 over ``recover_s`` seconds."""

    kind = "token_bucket"
    fields = ("rate", "burst", "penalty", "min_factor", "recover_s")
    capacity_field = "burst"
    defaults: ClassVar[dict[str, float]] = {"penalty": 0.8, "min_factor": 0.25, "recover_s": 600}

    def __init__(self, name: str, lateness_us: int, params: Mapping[str, Any]) -> None:
        super().__init__(name, lateness_us, {**self.defaults, **params})
        if self.params["rate"] <= 0 or self.params["burst"] < 1:
            raise ConfigurationError(f"{name}: rate must be > 0 and burst >= 1")
        self.tat: int | None = None  # burst rule
        self.tat_s: int | None = None  # spaced rule
        self.factor = 1.0
        self.factor_at = 0
        self._factor_now = 1.0
        self._paced_at: int | None = None  # the interval before a learned rate
        self._set_intervals(1.0)

    def _set_intervals(self, factor: float) -> None:
        # µs per unit, rounded up: a slightly slower plan than the platform's rate
        self.interval = math.ceil(US / (float(self.param("rate")) * factor))
        spaced = _ceil_div(self.lateness + self.interval + MS, self.capacity)
        self.spacing = max(self.interval, spaced)

    def steady_us(self, units: int) -> int:
        return self.spacing * units  # the rate's interval, or wider for a short burst

    def begin(self, now: int) -> None:
        recover = to_us(self.params["recover_s"])
        factor = self.factor
        if factor < 1.0:
            factor = min(1.0, factor + (1.0 - factor) * max(0, now - self.factor_at) / recover)
        old, old_s = self.interval, self.spacing
        self._set_intervals(factor)
        self._factor_now = factor
        self._keep_level(old, old_s, now)
        if self._paced_at is not None:  # a stated rate was learned since the last begin
            self._keep_debt(self._paced_at, now)
            self._paced_at = None
        if self.tat is not None and self.tat <= now - self.lateness:
            self.tat = None  # can no longer delay any permit: full again
        if self.tat_s is not None and self.tat_s + (self.capacity - 1) * self.spacing <= now:
            self.tat_s = None

    def clone(self) -> TokenBucket:
        twin = super().clone()
        twin._paced_at = None  # not stored: the state holds only the learned rate
        return twin

    def _keep_debt(self, old: int, at: int) -> None:
        """The interval grew from ``old`` (a 429, a lower stated rate): permits already
        planned were paced at the old one; read in the new one their debt would shrink
        and the burst rule admit a second burst on top of them. Keep it, in units, what
        it was at ``at`` (no later than now)."""
        if self.tat is not None and self.tat > at and self.interval > old:
            self.tat = at + _ceil_div((self.tat - at) * self.interval, old)

    def _keep_level(self, old: int, old_s: int, now: int) -> None:
        """The interval shrank from ``old`` (the rate recovers after a 429): the debt
        planned at ``now`` is so many units, not so much time. Kept in time it would grow
        in units as the interval shrinks (and the burst rule's tolerance with it): a
        1-a-minute lane emptied by a 429 waited ~40 s more for its next permit than the
        slowed rate needs. The level stays what it was, so no second burst is admitted."""
        if self.interval < old and self.tat is not None and self.tat > now:
            self.tat = now + _ceil_div((self.tat - now) * self.interval, old)
        if self.spacing < old_s and self.tat_s is not None and self.tat_s > now:
            self.tat_s = now + _ceil_div((self.tat_s - now) * self.spacing, old_s)

    def _tolerance(self, units: int) -> int:
        return (self.capacity - units) * self.interval - self.lateness

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        if units > self.capacity:
            return None
        burst = t if self.tat is None else max(t, self.tat - self._tolerance(units))
        spaced = t if self.tat_s is None else max(t, self.tat_s + (units - 1) * self.spacing)
        return min(burst, spaced)

    def take(self, t: int, units: int) -> None:
        self.tat = (t if self.tat is None else max(self.tat, t)) + units * self.interval
        base = t - MS if self.tat_s is None else max(self.tat_s, t - MS)  # see below
        self.tat_s = base + units * self.spacing

    def adjust(self, t: int, delta: int) -> None:
        if delta > 0:
            self.take(t, delta)
        elif delta < 0:
            if self.tat is not None:
                self.tat = max(t, self.tat + delta * self.interval)
            if self.tat_s is not None:
                self.tat_s = max(t, self.tat_s + delta * self.spacing)

    def free_units(self, now: int, end: int, reserved: bool) -> int:
        tat = now if self.tat is None else max(self.tat, now)
        first = tat - self._tolerance(1)  # before now: the burst's tokens
        burst = 0 if max(first, now) > end else (end - first) // self.interval + 1
        first_s = now if self.tat_s is None else max(self.tat_s, now)
        spaced = 0 if first_s > end else (end - first_s) // self.spacing + 1
        return max(burst, spaced)

    def sync(self, at: int, remaining: float, unseen: int) -> None:
        # the platform's level as a phantom use of (B - level) units at ``at``
        used = self.capacity - (min(float(self.capacity), remaining) - unseen)
        floor = at + math.ceil(used * self.interval)
        self.tat = floor if self.tat is None else max(self.tat, floor)
        floor_s = at + math.ceil(used * self.spacing)
        self.tat_s = floor_s if self.tat_s is None else max(self.tat_s, floor_s)

    def exhaust(self, at: int, unseen: int) -> None:
        # slow down first: the emptied level must be expressed in the slower interval
        old = self.interval
        self.factor = max(self.params["min_factor"], self._factor_now * self.params["penalty"])
        self.factor_at = at
        self._factor_now = self.factor
        self._set_intervals(self.factor)
        self._keep_debt(old, at)
        self.sync(at, 0, unseen)

    def learn(self, capacity: float | None, rate: float | None, reset_at: int | None) -> None:
        super().learn(capacity, rate, reset_at)
        if rate is not None and rate > 0:
            if self._paced_at is None:
                self._paced_at = self.interval
            self.learned["rate"] = rate

    def state(self) -> dict[str, Any]:
        out = super().state()
        if self.tat is not None:
            out["tat"] = self.tat
        if self.tat_s is not None:
            out["tat_s"] = self.tat_s
        if self.factor < 1.0:
            out["factor"], out["factor_at"] = self.factor, self.factor_at
            # the factor ``tat`` is planned in (``begin`` recovers from it: _keep_level)
            out["factor_now"] = self._factor_now
        return out

    def load(self, state: Mapping[str, Any]) -> None:
        super().load(state)
        self.tat = state.get("tat")
        self.tat_s = state.get("tat_s")
        self.factor = state.get("factor", 1.0)
        self.factor_at = state.get("factor_at", 0)
        self._factor_now = state.get("factor_now", self.factor)
        self._set_intervals(self._factor_now)

    def describe(self, now: int) -> dict[str, Any]:
        level = (
            self.capacity if self.tat is None else self.capacity - (self.tat - now) / self.interval
        )
        return {
            **super().describe(now),
            "level": round(level, 3),  # negative: units already promised to future permits
            "rate_factor": round(self._factor_now, 4),
        }


class LeakyBucket(TokenBucket):
    """Shopify REST: a bucket of ``burst`` requests leaking at ``rate`` per second. A leaky
    bucket meter admits exactly the sequences a token bucket of the same figures admits."""

    kind = "leaky_bucket"
    defaults: ClassVar[dict[str, float]] = {"penalty": 0.9, "min_factor": 0.5, "recover_s": 120}


SETTLE_MEMORY_US = 300 * US
"""How long a cost bucket keeps its permits for ``settle`` (a permit handed back stays
in it too: a higher floor, never a lower one). A refund reported later is dropped."""


class CostBucket(TokenBucket):
    """Shopify GraphQL: ``burst`` cost points restored at ``rate`` points/s; one query may
    cost at most ``max_cost`` points. A permit spends its *estimated* cost; the actual
    cost reported back is settled with ``adjust`` (the platform refunds the difference).
    Permits are planned against ``1 - margin`` of the bucket: refunds and readings reach
    the model a response later than the platform, and a query that finds its bucket a
    few points short is throttled whole (measured: 998 points asked of 992 available)."""

    kind = "cost_bucket"
    fields = (*TokenBucket.fields, "max_cost", "margin")
    taken: list[tuple[int, int]] = []  # permits dated from ``kept_from`` on: (µs, units)
    kept_from = 0  # ``taken`` holds every permit dated at or after this (µs)
    defaults: ClassVar[dict[str, float]] = {
        "penalty": 0.9,
        "min_factor": 0.5,
        "recover_s": 120,
        "margin": 0.0,
    }

    @property
    def capacity(self) -> int:
        return max(1, int(self.param(self.capacity_field) * (1.0 - self.params["margin"])))

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        if units > self.params.get("max_cost", self.capacity):
            return None
        return super().next_time(t, units, reserved)

    def take(self, t: int, units: int) -> None:
        super().take(t, units)
        self.taken = [*self.taken, (t, units)]

    def begin(self, now: int) -> None:
        super().begin(now)
        keep = now - self.lateness - SETTLE_MEMORY_US
        if self.taken and self.taken[0][0] < keep:
            # older than any refund still to come (a run's observations come in one signal)
            self.kept_from = keep
            self.taken = [(t, u) for t, u in self.taken if t >= self.kept_from]

    def settle(self, t: int, delta: int) -> None:
        """A query sent at ``t`` cost ``delta`` points more (or, < 0, fewer) than its
        permit booked. A refund is the platform's at once, but it cannot rewind the
        burst rule past the permits dated after ``t``: their debits were planned on a
        bucket that may have refilled to full (and capped) in between, so ``tat`` stays
        at least their replay from ``t``. (Found by the property test at 5,000 examples:
        a 301-point refund of a query at 14.5 s, rewound past a 379-point permit dated
        20.9 s, admitted a 267-point query the bucket did not hold.)"""
        if delta >= 0 or self.tat is None:
            self.adjust(t, delta)
            return
        if t < self.kept_from:
            return  # permits dated after ``t`` were dropped: their replay is not known
        floor = floor_s = t
        for at, units in sorted(p for p in self.taken if p[0] > t):
            floor = max(floor, at) + units * self.interval
            floor_s = max(floor_s, at) + units * self.spacing
        self.tat = max(floor, self.tat + delta * self.interval)
        if self.tat_s is not None:
            self.tat_s = max(floor_s, self.tat_s + delta * self.spacing)

    def clone(self) -> CostBucket:
        twin = super().clone()
        twin.taken = list(self.taken)
        return twin

    def state(self) -> dict[str, Any]:
        out = super().state()
        if self.taken:
            out["taken"] = [list(p) for p in self.taken]
        if self.kept_from:
            out["kept_from"] = self.kept_from
        return out

    def load(self, state: Mapping[str, Any]) -> None:
        super().load(state)
        self.taken = [(int(t), int(u)) for t, u in state.get("taken", [])]
        self.kept_from = int(state.get("kept_from", 0))


class FixedWindow(Limit):
    """``limit`` units per fixed window ``[anchor + k·window, anchor + (k+1)·window)``.

    Use is kept per window index. A permit whose lease crosses into the next window
    counts in both: it may reach the platform after the boundary. The reserve
    (``reserve_units``) is kept from ``reserved`` permits until ``release_s`` before the
    window ends, and then too while ``hold`` says the day's syncs are not over.

    ``spread_s`` (0: off) spreads a window's permits over its first ``spread_s``: the
    ``n``-th unit of a window is not planned before ``start + skew + n · spread_s /
    limit``. Planned earliest-first, a second's permits all fell at its start, taken by
    the flows that asked in the second before; a chain of requests (one permit, one reply
    a quarter of a second later, the next ask) then got one permit a second, and a lane
    of 10 a second with 8 chains on it made 8 (Etsy's: 0.75 of its rate for one client).
    Spread over the part of the second a lease cannot carry past its end, a chain gets
    the next free slot soon after its reply."""

    kind = "fixed_window"
    fields = (
        "limit",
        "window_s",
        "reset_utc",
        "reserve",
        "reserve_floor",
        "release_s",
        "skew_s",
        "spread_s",
    )
    defaults: ClassVar[dict[str, Any]] = {
        "window_s": 1.0,
        "reset_utc": "00:00",
        "reserve": 0.0,
        "reserve_floor": None,
        "release_s": 0.0,
        "skew_s": 0.0,
        "spread_s": 0.0,
    }

    def __init__(self, name: str, lateness_us: int, params: Mapping[str, Any]) -> None:
        super().__init__(name, lateness_us, {**self.defaults, **params})
        self.window = to_us(self.params["window_s"])
        hh, mm = (int(x) for x in str(self.params["reset_utc"]).split(":"))
        self.anchor = (hh * 3600 + mm * 60) * US % self.window
        self.used: dict[int, int] = {}  # window index -> units
        # the platform's clock may run up to this much behind ours: a permit that soon
        # after a boundary may be counted in the window before it too (a call sent at the
        # very start of a second was counted in the second before: 429s at 10 per second)
        self.skew = to_us(float(self.params["skew_s"]))
        self.spread = min(to_us(float(self.params.get("spread_s", 0.0))), self.window - self.skew)
        self.held: int | None = None  # the daily syncs' learned need (``hold``)
        self.released = True  # release periods give the reserve to backfills (``hold``)

    def clone(self) -> FixedWindow:
        twin = super().clone()
        twin.used = dict(self.used)
        return twin

    def window_index(self, t: int) -> int:
        """The index of the fixed window that contains ``t``."""
        return (t - int(self.learned.get("anchor", self.anchor))) // self.window

    def _start(self, index: int) -> int:
        return int(self.learned.get("anchor", self.anchor)) + index * self.window

    def releasing(self, t: int) -> bool:
        """``t`` lies in the last ``release_s`` of its window (its release period): the
        reserve is released if ``hold`` lets it, and the scheduler stops keeping shares
        of the window for clients that are not there to use them."""
        release_s = float(self.params["release_s"])
        return release_s > 0 and t >= self._start(self.window_index(t) + 1) - to_us(release_s)

    def release_at(self, t: int) -> int:
        """When the release period of ``t``'s window starts (maybe before ``t``)."""
        return self._start(self.window_index(t) + 1) - to_us(float(self.params["release_s"]))

    def hold(self, units: int, release: bool = True) -> None:
        """Keep what the daily syncs need (``units``, learned) from backfills: within
        ``reserve_floor`` and ``reserve`` of the limit (``reserve_units``); ``release``:
        whether release periods give it to backfills (not while the syncs are due)."""
        if (units, release) != (self.held, self.released):
            self.held, self.released = units, release
            self.stamp = next(_STAMPS)

    def _reserve(self, reserved: bool, t: int, index: int) -> int:
        release = self._start(index + 1) - to_us(self.params["release_s"])
        if not reserved or (self.released and t >= release):
            return 0
        return reserve_units(self.capacity, self.params, self.held)

    def begin(self, now: int) -> None:
        current = self.window_index(now)
        if any(k < current for k in self.used):
            self.used = {k: n for k, n in self.used.items() if k >= current}

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        if units > self.capacity:
            return None
        for _ in range(10_000):
            index = self.window_index(t)
            used = self.used.get(index, 0)
            room = self.capacity - used
            if units <= room - self._reserve(reserved, t, index):
                start = self._start(index)
                if self.spread and t < (paced := self._paced(start, used)):
                    t = paced  # in this window still: used < capacity, spread < window
                    continue
                if self._spill_fits(t, units):
                    return t
                if t < start + self.skew:  # past the skew the window before cannot count it
                    t = start + self.skew
                    continue
            release = self._start(index + 1) - to_us(self.params["release_s"])
            early = self.released and units <= room and t < release
            t = release if early else self._start(index + 1)
        return None

    def steady_us(self, units: int) -> int:
        return self.spread * units // max(1, self.capacity) if self.spread else 0

    def _paced(self, start: int, used: int) -> int:
        """The earliest time ``spread_s`` lets the window starting at ``start`` give its
        next unit, with ``used`` of them given."""
        return start + self.skew + used * self.spread // max(1, self.capacity)

    def _spans(self, t: int) -> range:
        """The windows a permit at ``t`` may be counted in: its lease may cross into later
        ones, and the platform's clock (``skew``) may still be in the one before."""
        return range(
            self.window_index(t - self.skew), self.window_index(t + max(0, self.lateness - 1)) + 1
        )

    def _spill_fits(self, t: int, units: int) -> bool:
        """A permit at ``t`` that may be counted in other windows (``_spans``) fits in them
        too (``take`` counts it there; such a window may be booked already)."""
        own = self.window_index(t)
        return all(
            units <= self.capacity - self.used.get(index, 0)
            for index in self._spans(t)
            if index != own
        )

    def take(self, t: int, units: int) -> None:
        for index in self._spans(t):
            self.used[index] = self.used.get(index, 0) + units
        self.stamp = next(_STAMPS)

    def adjust(self, t: int, delta: int) -> None:
        index = self.window_index(t)
        self.used[index] = max(0, self.used.get(index, 0) + delta)
        self.stamp = next(_STAMPS)

    def free_units(self, now: int, end: int, reserved: bool) -> int:
        free = 0
        for index in range(self.window_index(now), self.window_index(end) + 1):
            room = self.capacity - self.used.get(index, 0)
            free += max(0, room - self._reserve(reserved, max(now, self._start(index)), index))
        return free

    def sync(self, at: int, remaining: float, unseen: int) -> None:
        # what the platform counted plus ours still to come (those dated in later windows
        # are counted here too: conservative, and rare on a long quota window)
        index = self.window_index(at)
        seen_use = self.capacity - int(remaining) + unseen
        self.used[index] = max(self.used.get(index, 0), seen_use)
        self.stamp = next(_STAMPS)

    def exhaust(self, at: int, unseen: int) -> None:
        index = self.window_index(at)
        self.used[index] = max(self.used.get(index, 0), self.capacity)
        self.stamp = next(_STAMPS)

    def learn(self, capacity: float | None, rate: float | None, reset_at: int | None) -> None:
        super().learn(capacity, rate, reset_at)
        if reset_at is not None and reset_at % self.window != self._start(0):
            # re-anchored: the window ending at ``reset_at`` keeps the heaviest known use,
            # the next one what had spilled past the old boundary
            ordered = [self.used[k] for k in sorted(self.used)]
            self.learned["anchor"] = reset_at % self.window
            current = self.window_index(reset_at) - 1
            self.used = {current: max(ordered, default=0), current + 1: max(ordered[1:] or [0])}
            self.stamp = next(_STAMPS)

    def state(self) -> dict[str, Any]:
        out = {**super().state(), "used": sorted([k, n] for k, n in self.used.items())}
        return _with_hold(out, self.held, self.released)

    def load(self, state: Mapping[str, Any]) -> None:
        super().load(state)
        self.used = {int(k): int(n) for k, n in state.get("used", [])}
        self.held, self.released = state.get("held"), state.get("released", True)

    def describe(self, now: int) -> dict[str, Any]:
        index = self.window_index(now)
        used = self.used.get(index, 0)
        return {
            **super().describe(now),
            "used": used,
            "remaining": self.capacity - used,
            "resets_at": self._start(index + 1),
            "reserve_units": reserve_units(self.capacity, self.params, self.held),
        }


class DailyQuota(FixedWindow):
    """eBay: ``limit`` calls per application and API per day, reset at ``reset_utc`` (or
    the reset instant the platform reports); the reserve is kept from backfills until
    ``release_s`` before the reset (``FixedWindow``)."""

    kind = "daily_quota"
    defaults: ClassVar[dict[str, Any]] = {
        "window_s": DAY_S,
        "reset_utc": "00:00",
        "reserve": 0.0,
        "release_s": 3_600.0,
        "skew_s": 0.0,
    }


class SlidingWindow(Limit):
    """At most ``limit`` units in any window of ``window_s`` seconds.

    Counts live in buckets of ``granularity_s``. A real window of length
    ``W + slack + lateness`` meets at most ``m = ceil((W + slack + L) / g) + 1``
    consecutive buckets, so a permit is admitted in bucket ``i`` only if every run of
    ``m`` buckets containing ``i`` stays within the limit. (The fullest such run starts at
    ``i`` or at a non-empty bucket, so only those runs are summed.)

    A sliding window never resets; ``reset_utc`` anchors *days* of ``window_s`` (the
    scheduler shares a sliding day between clients by their use in such a day,
    ``window_index``), and the reserve is released in the last ``release_s`` of each,
    once ``hold`` says that day's syncs are over. Why that is safe for the syncs: a unit
    a backfill takes at ``t`` counts in the window until ``t + W + slack``. Anchored so
    that the release period starts when the daily syncs do (Etsy: they start at 03:00
    UTC, the day ends at 04:00), what backfills take from the reserve after that day's
    syncs is back in the window at most ``release_s + slack`` into the next day's; a
    reserve released *before* the syncs would be missing through all of the next day's.
    (Released at the period's start, it went to backfills holding permits a horizon
    ahead in the syncs' first seconds: hence ``hold``.) A held reserve is idle all day:
    every unit taken in the 24 h before the syncs start counts when they do, so a long
    backfill uses ``limit - reserve`` a day, the syncs' own use inside that."""

    kind = "sliding_window"
    fields = (
        "limit",
        "window_s",
        "granularity_s",
        "slack_s",
        "reserve",
        "reserve_floor",
        "reset_utc",
        "release_s",
    )
    defaults: ClassVar[dict[str, Any]] = {
        "slack_s": 0.0,
        "reserve": 0.0,
        "reserve_floor": None,
        "reset_utc": "00:00",
        "release_s": 0.0,
    }

    def __init__(self, name: str, lateness_us: int, params: Mapping[str, Any]) -> None:
        params = {**self.defaults, **params}
        params.setdefault("granularity_s", params["window_s"] / 20)
        super().__init__(name, lateness_us, params)
        self.gran = to_us(self.params["granularity_s"])
        span = to_us(self.params["window_s"] + self.params["slack_s"]) + lateness_us
        self.m = _ceil_div(span, self.gran) + 1
        self.window = to_us(self.params["window_s"])
        if not 0 <= float(self.params["release_s"]) <= float(self.params["window_s"]):
            raise ConfigurationError(f"{name}: release_s must lie between 0 and window_s")
        hh, mm = (int(x) for x in str(self.params["reset_utc"]).split(":"))
        self.anchor = (hh * 3600 + mm * 60) * US % self.window
        self.counts: dict[int, int] = {}
        # ``counts``' keys in order and running sums (``_sum``): ``_prefix[j]`` minus
        # ``_prefix[0]`` is the units of the buckets before ``_keys[j]`` (only differences
        # are read, so pruning the oldest buckets just drops the lists' heads). Kept up to
        # date where a change lands at or after the last bucket (``take`` while planning
        # forward), rebuilt on the next read after any other change. None: to rebuild.
        self._keys: list[int] | None = None
        self._prefix: list[int] = []
        self.held: int | None = None  # the daily syncs' learned need (``hold``)
        self.released = True  # release periods give the reserve to backfills (``hold``)
        self._release = to_us(float(self.params["release_s"]))
        self._releases = float(self.params["release_s"]) > 0
        self._caps: tuple[int, int] | None = None  # ``_limits``, until hold/learn/load

    def clone(self) -> SlidingWindow:
        twin = super().clone()
        twin.counts = dict(self.counts)
        if self._keys is not None:
            twin._keys, twin._prefix = list(self._keys), list(self._prefix)
        return twin

    def window_index(self, t: int) -> int:
        """The index of the day (of ``window_s``, anchored at ``reset_utc``) holding ``t``."""
        return (t - self.anchor) // self.window

    def _day_end(self, t: int) -> int:
        return self.anchor + (self.window_index(t) + 1) * self.window

    def releasing(self, t: int) -> bool:
        """``t`` lies in the last ``release_s`` of its day (its release period): the
        reserve is released if ``hold`` lets it (see ``FixedWindow.releasing``)."""
        return self._release > 0 and t >= self._day_end(t) - self._release

    def release_at(self, t: int) -> int:
        """When the release period of ``t``'s day starts (maybe before ``t``)."""
        return self._day_end(t) - self._release

    def _release_period(self, t: int) -> tuple[int, int]:
        """The release period holding ``t``, or else the next one (µs, half-open)."""
        end = self._day_end(t)
        return max(t, end - self._release), end

    def hold(self, units: int, release: bool = True) -> None:
        """Keep what the daily syncs need (``units``, learned) from backfills: within
        ``reserve_floor`` and ``reserve`` of the limit (``reserve_units``); ``release``:
        whether release periods give it to backfills (not while the syncs are due)."""
        if (units, release) != (self.held, self.released):
            self.held, self.released = units, release
            self._caps = None
            self.stamp = next(_STAMPS)

    def learn(self, capacity: float | None, rate: float | None, reset_at: int | None) -> None:
        super().learn(capacity, rate, reset_at)
        self._caps = None

    def _limits(self) -> tuple[int, int]:
        """(the whole limit, the limit less the reserve), computed once until ``hold``,
        ``learn`` or ``load`` change them (planning asks for them per permit)."""
        caps = self._caps
        if caps is None:
            full = self.capacity
            caps = self._caps = (full, full - reserve_units(full, self.params, self.held))
        return caps

    def _limit(self, reserved: bool, t: int | None = None) -> int:
        full, kept = self._limits()
        if not reserved or (t is not None and self.released and self.releasing(t)):
            return full
        return kept

    def _changed(self) -> None:
        self._keys = None

    def _index(self) -> list[int]:
        """``_keys`` (rebuilt with ``_prefix`` if a change invalidated them)."""
        if self._keys is None:
            keys = sorted(self.counts)
            prefix = [0]
            for k in keys:
                prefix.append(prefix[-1] + self.counts[k])
            self._keys, self._prefix = keys, prefix
        return self._keys

    def _add(self, i: int, delta: int) -> None:
        """Add ``delta`` units to bucket ``i`` (never below 0; an empty bucket goes)."""
        old = self.counts.get(i, 0)
        new = max(0, old + delta)
        if new == old:
            return
        if new:
            self.counts[i] = new
        else:
            del self.counts[i]
        self.stamp = next(_STAMPS)
        keys = self._keys
        if keys is None:
            return
        if (keys and i < keys[-1]) or (not new and (not keys or i != keys[-1])):
            self._changed()  # inside the index: rebuilt on the next read
        elif keys and i == keys[-1]:
            if new:
                self._prefix[-1] += new - old
            else:
                keys.pop()
                self._prefix.pop()
        else:  # a bucket after the last one
            keys.append(i)
            self._prefix.append(self._prefix[-1] + new)

    def _sum(self, lo: int, hi: int) -> int:
        """Units in buckets ``lo ..= hi``."""
        keys = self._index()
        prefix = self._prefix
        return prefix[bisect_right(keys, hi)] - prefix[bisect_left(keys, lo)]

    def _fullest(self, i: int, units: int, cap: int) -> int | None:
        """The latest start of a run of ``m`` buckets containing ``i`` that ``units``
        would overfill, or None."""
        lo = i - self.m + 1
        if self._sum(lo, i + self.m - 1) + units <= cap:
            return None  # even all runs together have room
        if self._sum(i, i + self.m - 1) + units > cap:
            return i  # the latest start of all
        keys = self._index()
        # the non-empty buckets in [lo, i), latest first: the first that overfills is it
        for pos in range(bisect_left(keys, i) - 1, bisect_left(keys, lo) - 1, -1):
            j = keys[pos]
            if self._sum(j, j + self.m - 1) + units > cap:
                return j
        return None

    def begin(self, now: int) -> None:
        oldest = now // self.gran - self.m
        keys = self._index()
        if keys and keys[0] <= oldest:
            cut = bisect_right(keys, oldest)
            for k in keys[:cut]:
                del self.counts[k]
            # only differences of the running sums are read: drop the heads
            del keys[:cut], self._prefix[:cut]

    def _next(self, t: int, units: int, cap: int) -> int | None:
        if units > cap:
            return None
        i = t // self.gran
        while (full := self._fullest(i, units, cap)) is not None:
            i = full + self.m  # the first bucket outside that run
        return max(t, i * self.gran)

    def next_time(self, t: int, units: int, reserved: bool) -> int | None:
        full, kept = self._limits()
        cap = kept if reserved else full
        capped = self._next(t, units, cap)
        if capped == t or cap == full or not self.released or not self._releases:
            return capped
        # or earlier, in a release period, within the whole limit (a window empties within
        # a day and a slack, so a few periods settle it)
        start = t
        for _ in range(4):
            lo, hi = self._release_period(start)
            if capped is not None and lo >= capped:
                break
            at = self._next(lo, units, full)
            if at is not None and at < hi:
                return at if capped is None else min(at, capped)
            start = hi
        return capped

    def take(self, t: int, units: int) -> None:
        self._add(t // self.gran, units)

    def adjust(self, t: int, delta: int) -> None:
        self._add(t // self.gran, delta)

    def free_units(self, now: int, end: int, reserved: bool) -> int:
        first, last = now // self.gran, end // self.gran
        released = self.released and (self.releasing(now) or self.releasing(end))
        capacity = self._limit(reserved and not released) * (last - first + self.m) / self.m
        return max(0, int(capacity) - self._sum(first - self.m + 1, last))

    def _used(self, at: int) -> int:
        i = at // self.gran
        return self._sum(i - self.m + 1, i)

    def sync(self, at: int, remaining: float, unseen: int) -> None:
        # what the platform counted beyond all of ours dated up to ``at`` (the buckets
        # summed cover its window widened by lateness, so this never counts ours twice)
        phantom = (self.capacity - int(remaining)) - self._used(at)
        if phantom > 0:
            self.adjust(at, phantom)

    def exhaust(self, at: int, unseen: int) -> None:
        if (used := self._used(at)) < self.capacity:
            self.adjust(at, self.capacity - used)

    def state(self) -> dict[str, Any]:
        out = {**super().state(), "counts": sorted([k, n] for k, n in self.counts.items())}
        return _with_hold(out, self.held, self.released)

    def load(self, state: Mapping[str, Any]) -> None:
        super().load(state)
        self.counts = {int(k): int(n) for k, n in state.get("counts", [])}
        self.held, self.released = state.get("held"), state.get("released", True)
        self._caps = None
        self._changed()

    def describe(self, now: int) -> dict[str, Any]:
        return {
            **super().describe(now),
            "used_in_window": self._used(now),
            "reserve_units": reserve_units(self.capacity, self.params, self.held),
        }


KINDS: dict[str, type[Limit]] = {
    cls.kind: cls
    for cls in (TokenBucket, LeakyBucket, CostBucket, FixedWindow, DailyQuota, SlidingWindow)
}


def _with_hold(state: dict[str, Any], held: int | None, released: bool) -> dict[str, Any]:
    if held is not None:
        state["held"] = held
    if not released:
        state["released"] = False
    return state


def parse_time(value: str | datetime) -> int:
    """An aware datetime or ISO 8601 string (UTC or with offset) -> epoch µs."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ConfigurationError(f"naive datetime {value!r}: times must be UTC-aware")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def format_time(t_us: int) -> datetime:
    """Epoch µs -> aware UTC datetime (exact)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t_us)
