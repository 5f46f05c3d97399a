"""A lane's flows as one decision sees them: each flow's class and state computed once.

The scheduler's decision (``Scheduler._decide``) filters a lane's other flows half a
dozen ways: who outranks the caller, who is hungry, active, asleep, a peer, owed
service. Done with ``Flow`` methods per flow per filter, that was the ambassador's whole
cost on an application-wide lane (50 clients' blocks on Etsy: hundreds of flows, every
acquire scanning them all several times, most of the calls asking the same flow the same
question). A ``LaneView`` asks each flow once per decision: its tier and resource rank,
whether it is hungry at ``now``, and (when asked) what it holds after ``now``. Every
answer is the one the ``Flow`` method gives at the decision's ``now``; the flows must not
change while the view is in use.

``Rivals`` answers "does any of these flows outrank that one" in O(1) (``Flow.outranks``:
a better tier; or the same tier and client and a better resource rank).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from shared.ambassador.demand import Flow
from shared.ambassador.protocol import OTHER_RANK, RESOURCE_RANK, TIERS

TIER_RANK: dict[str, int] = {tier: i for i, tier in enumerate(TIERS)}


class Row(NamedTuple):
    """One flow of the view: its tier rank, resource rank and hunger at the view's now."""

    flow: Flow
    tier: int
    rank: int
    hungry: bool


class Rivals:
    """Whether any of a set of flows outranks a given one, in O(1). A flow never outranks
    itself, so it may be in the set. Built from ``Row``s (``of_rows``) or flows."""

    def __init__(self, classes: Iterable[tuple[int, str, int]] = ()) -> None:
        self.best_tier: float = math.inf
        self.best_rank: dict[tuple[int, str], int] = {}  # (tier rank, client) -> best rank
        best = self.best_rank
        for tier, client, rank in classes:
            if tier < self.best_tier:
                self.best_tier = tier
            if rank < best.get((tier, client), math.inf):
                best[(tier, client)] = rank

    @classmethod
    def of_rows(cls, rows: Iterable[Row]) -> Rivals:
        return cls((r.tier, r.flow.client, r.rank) for r in rows)

    def outrank(self, tier: int, client: str, rank: int) -> bool:
        """Whether a flow of the set outranks one of this class."""
        if self.best_tier < tier:
            return True
        return self.best_rank.get((tier, client), math.inf) < rank


class LaneView:
    """The flows of one lane other than ``asker`` that are not done (``live``, in the
    lane's order), and of those the ones with a backlog (``others``), at ``now``."""

    def __init__(self, flows: Iterable[Flow], asker: Flow, now: int, grace: int) -> None:
        self.now = now
        self.asker = asker
        self.tier, self.rank = class_of(asker)
        self.client = asker.client
        self._held: dict[int, float] = {}
        self.live: list[Row] = []
        for f in flows:
            if f is asker or f.done:
                continue
            hungry = f.unmet > 0 and f.retry_at is not None and now < f.retry_at + grace
            tier = TIER_RANK[f.tier]
            self.live.append(Row(f, tier, RESOURCE_RANK.get(f.resource, OTHER_RANK), hungry))
        self.others = [r for r in self.live if r.flow.backlog > 0]

    def held(self, f: Flow) -> float:
        """``f.held(now)``, computed once."""
        key = id(f)
        value = self._held.get(key)
        if value is None:
            value = self._held[key] = f.held(self.now)
        return value

    def outranks_asker(self, r: Row) -> bool:
        """``r.flow.outranks(asker)``."""
        if r.tier != self.tier:
            return r.tier < self.tier
        return r.flow.client == self.client and r.rank < self.rank

    def asker_outranks(self, r: Row) -> bool:
        """``asker.outranks(r.flow)``."""
        if r.tier != self.tier:
            return self.tier < r.tier
        return r.flow.client == self.client and self.rank < r.rank

    def asleep(self, f: Flow, until: int) -> bool:
        """``f.asleep(now, until)``."""
        return f.retry_at is not None and f.retry_at > until and self.held(f) <= 0

    def active(self, r: Row, quota: bool) -> bool:
        """On a quota lane: registered (not expired); else hungry or holding permits."""
        if quota:
            return self.now < r.flow.expires
        return r.hungry or self.held(r.flow) > 0


def class_of(flow: Flow) -> tuple[int, int]:
    """A flow's (tier rank, resource rank): lower is served first."""
    return TIER_RANK[flow.tier], RESOURCE_RANK.get(flow.resource, OTHER_RANK)
