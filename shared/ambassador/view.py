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

"Outranks" is ``Flow.outranks``: a better tier; or the same tier and client and a better
resource rank. The best rank per (tier, client) of a set of flows answers it for any flow
in O(1) (``peers``, ``peer_clients``, ``active_rank``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from shared.ambassador.demand import Flow
from shared.ambassador.protocol import OTHER_RANK, RESOURCE_RANK, TIERS

TIER_RANK: dict[str, int] = {tier: i for i, tier in enumerate(TIERS)}


Row = tuple[Flow, int, int, bool]
"""One flow of a view: (flow, tier rank, resource rank, hungry at the view's now)."""

Static = tuple[Flow, int, int]
"""A lane's flow with its (tier rank, resource rank): ``static_rows``."""


class LaneView:
    """The flows of one lane other than ``asker`` that are not done (``live``, in the
    lane's order), and of those the ones with a backlog (``others``), at ``now``.
    ``rows``: the lane's flows with their classes (``static_rows``)."""

    def __init__(self, rows: Iterable[Static], asker: Flow, now: int, grace: int) -> None:
        self.now = now
        self.asker = asker
        self.tier, self.rank = class_of(asker)
        self.client = asker.client
        self._held: dict[int, float] = {}
        self.active_rank: dict[str, int] = {}  # ``peers``
        self.live: list[Row] = [
            (f, tier, rank, f.unmet > 0 and f.retry_at is not None and now < f.retry_at + grace)
            for f, tier, rank in rows
            if f is not asker and not f.done
        ]
        self.others = [row for row in self.live if row[0].backlog > 0]

    def held(self, f: Flow) -> float:
        """``f.held(now)``, computed once."""
        key = id(f)
        value = self._held.get(key)
        if value is None:
            value = self._held[key] = f.held(self.now)
        return value

    def asleep(self, f: Flow, until: int) -> bool:
        """``f.asleep(now, until)``."""
        return f.retry_at is not None and f.retry_at > until and self.held(f) <= 0

    def active(self, row: Row, quota: bool) -> bool:
        """On a quota lane: registered (not expired); else hungry or holding permits."""
        if quota:
            return self.now < row[0].expires
        return row[3] or self.held(row[0]) > 0

    def peers(self, rows: list[Row], quota: bool, until: int) -> list[Row]:
        """The active flows of ``rows`` of the asker's tier that it does not outrank
        (the scheduler's step 2), leaving out any that a hungry flow of ``rows``
        outranks, and without ``quota`` any asleep until ``until``. Without ``quota``
        it also leaves in ``active_rank`` the best resource rank of each client's active
        flows of the asker's tier (hungry or holding permits) among ``rows``, as far as
        it can outrank a peer or the asker (ranks no better than the asker's own client's
        hungry flows, or than the asker's own, are not looked at)."""
        tier, client, mine, now = self.tier, self.client, self.rank, self.now
        best: dict[tuple[int, str], int] = {}  # the hungry flows' best rank per class
        for f, t, rank, is_hungry in rows:
            if is_hungry:
                if t < tier:
                    return []  # a hungry flow of a better tier outranks them all
                if t == tier and rank < best.get((t, f.client), math.inf):
                    best[(t, f.client)] = rank
        out = []
        active = self.active_rank = {}
        for row in rows:
            f, t, rank, is_hungry = row
            if t != tier or (f.client == client and mine < rank):
                continue
            if best.get((t, f.client), math.inf) < rank:
                # a peer that a waiting flow outranks cannot be served now: it neither
                # claims a share nor holds the others back in service (else: a cycle)
                continue
            if quota:
                if now < f.expires:
                    out.append(row)
            elif is_hungry or self.held(f) > 0:
                if rank < active.get(f.client, math.inf):
                    active[f.client] = rank
                if not self.asleep(f, until):
                    # sharing the horizon: a flow back only after it claims none of it (H3)
                    out.append(row)
        return out

    def peer_clients(self, rows: list[Row]) -> list[str]:
        """The clients of ``peers(rows, quota=True, ...)``, each once, in the order of
        its first peer (a quota is shared between clients: their flows do not matter)."""
        tier, client, mine, now = self.tier, self.client, self.rank, self.now
        best: dict[tuple[int, str], int] = {}
        for f, t, rank, is_hungry in rows:
            if is_hungry:
                if t < tier:
                    return []
                if t == tier and rank < best.get((t, f.client), math.inf):
                    best[(t, f.client)] = rank
        out: dict[str, None] = {}
        for f, t, rank, _ in rows:
            c = f.client
            if t != tier or c in out or (c == client and mine < rank):
                continue
            if best.get((t, c), math.inf) < rank or now >= f.expires:
                continue
            out[c] = None
        return list(out)


def static_rows(flows: Iterable[Flow]) -> list[Static]:
    """Flows with their classes, in the order given (a view's ``rows``)."""
    return [(f, *class_of(f)) for f in flows]


def class_of(flow: Flow) -> tuple[int, int]:
    """A flow's (tier rank, resource rank): lower is served first."""
    return TIER_RANK[flow.tier], RESOURCE_RANK.get(flow.resource, OTHER_RANK)
