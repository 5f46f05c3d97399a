"""Registered demand: one ``Flow`` per (caller, lane), and how flows share a lane.

A flow remembers what the scheduler needs about one caller on one lane: its class
(client, tier, resource), its backlog, its unmet claim and when it will ask again, and
compact *runs* of the permits it was granted (``[first µs, last µs, permits, units]``,
at most ``MAX_RUNS``; a grant is a run at its first instant and a run for the rest, and
permits are taken as spread evenly inside a run). Runs give
what the flow *holds* (units dated after now: its slice of the horizon) and what the
platform may not have *seen* yet (units dated after a response).

``split`` is the share rule of the scheduler's step 2: each flow's fraction of the lane
(equal between clients; within a client by resource weight, order items 3 : orders 1;
then equal between a resource's flows) and the units of the lane's pie the caller's
peers may still claim. On a *quota* lane (a daily quota) a client's part is measured by
what it used in the current quota window rather than by what it holds, and only clients
are shared between. Each flow also carries a *tag*: its service so far divided by its
share (start-time fair queueing), which keeps long-run shares exact where a share of the
horizon is a fraction of a permit.

A quota is shared max-min fair (water-filling, ``water_level``): what is free goes to
raise the least-used clients' use to a common level, and each client claims the part
that brings it there, no more. The claims add up to what is free, so whatever one client
cannot claim (it used more than the level, or finished) goes to the others; and the
least-used client may always take a permit, so free units never wait for a level that
rises by fractions of a permit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from shared.ambassador.limits import MS
from shared.ambassador.protocol import OTHER_RANK, RESOURCE_RANK, RESOURCE_WEIGHT, TIERS

MAX_RUNS = 8


@dataclass(eq=False)
class Flow:
    """One caller's registered demand on one lane (times in epoch µs)."""

    caller: str
    lane: str
    client: str
    tier: str
    resource: str
    backlog: int = 0
    unmet: int = 0  # permits asked for and not granted at the last ask
    retry_at: int | None = None
    expires: int = 0
    runs: list[list[int]] = field(default_factory=list)
    last_id: str | None = None
    last_answer: dict[str, Any] | None = None
    granted: int = 0
    done: bool = False
    tag: float = 0.0  # units served / share: start-time fair-queueing tag
    asked_at: int = 0  # the caller's ``now`` at its last acquire
    rtt: int = 0  # longest round trip seen: from its last answer running out to its next ask

    @property
    def tier_rank(self) -> int:
        return TIERS.index(self.tier)

    @property
    def rank(self) -> int:
        return RESOURCE_RANK.get(self.resource, OTHER_RANK)

    def outranks(self, other: Flow) -> bool:
        """A better tier; or the same tier and client and a better resource rank."""
        if self.tier_rank != other.tier_rank:
            return self.tier_rank < other.tier_rank
        return self.client == other.client and self.rank < other.rank

    def hungry(self, now: int, grace: int) -> bool:
        """Asked for more than it got, and its claim is still live."""
        return self.unmet > 0 and self.retry_at is not None and now < self.retry_at + grace

    def asleep(self, now: int, until: int) -> bool:
        """Holds no permit after ``now`` and asks again only after ``until``: it cannot
        use capacity before then, so it claims no share of it (a flow told to come back
        at tomorrow's release must not idle the lane for the flows that are here)."""
        return self.retry_at is not None and self.retry_at > until and self.held(now) <= 0

    def held(self, now: int) -> float:
        """Units of this flow's permits dated after ``now``."""
        total = 0.0
        for first, last, n, units in self.runs:
            if first > now:
                total += n * units
            elif last > now:
                total += n * units * (last - now) / (last - first)
        return total

    def unseen(self, after: int) -> int:
        """Units of permits dated after ``after``, rounded up (conservative)."""
        total = 0
        for first, last, n, units in self.runs:
            if first > after:
                total += n * units
            elif last > after:
                total += math.ceil(n * (last - after) / (last - first)) * units
        return total

    def when_held_drops(self, now: int, units: float) -> int | None:
        """Earliest time (µs, to 1 ms) by which ``held`` has fallen by ``units``."""
        start = self.held(now)
        if not self.runs or start < units:
            return None
        lo, hi = now, max(last for _, last, _, _ in self.runs)
        while hi - lo > MS:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if start - self.held(mid) < units else (lo, mid)
        return hi

    def add_run(self, times: list[int], units: int) -> None:
        """Record a grant: its burst at the first instant, then the rest spread out."""
        burst = sum(1 for t in times if t == times[0])
        self.runs.append([times[0], times[0], burst, units])
        if burst < len(times):
            self.runs.append([times[burst], times[-1], len(times) - burst, units])
        while len(self.runs) > MAX_RUNS:
            (a, _, n1, u1), (_, b, n2, u2) = self.runs[0], self.runs[1]
            self.runs[:2] = [[a, b, n1 + n2, max(u1, u2)]]

    def forget_before(self, t: int) -> None:
        """Drop the runs whose last permit is dated before ``t``."""
        self.runs = [run for run in self.runs if run[1] >= t]

    def drop_last(self, permits: int) -> None:
        """Forget the last ``permits`` granted (they were given back)."""
        while permits > 0 and self.runs:
            run = self.runs[-1]
            gone = min(permits, run[2])
            run[2] -= gone
            permits -= gone
            if run[2] == 0:
                self.runs.pop()


@dataclass
class Split:
    """How a lane's pie splits between a caller and its peers (units, except ``share``)."""

    pie: float
    share: dict[int, float]  # id(flow) -> fraction of the lane
    kept: float  # what the peers' shares still claim
    mine: float  # the caller's share of the pie
    # for a split again with ``ahead`` (``like``): the flows by client, what each flow
    # and each client holds
    clients: dict[str, list[Flow]] = field(default_factory=dict, repr=False)
    held: dict[int, float] = field(default_factory=dict, repr=False)
    sums: dict[str, float] = field(default_factory=dict, repr=False)
    reach: dict[int, float] = field(default_factory=dict, repr=False)
    # on a quota lane (``split_day``): the clients that can take nothing of what is free
    # (claims below a permit's cost, and not the least used)
    capped: frozenset[str] = frozenset()


def split(
    flow: Flow,
    peers: list[Flow],
    free: float,
    now: int,
    client_use: dict[str, float] | None = None,
    ahead: frozenset[int] = frozenset(),
    cost: int = 1,
    held: dict[int, float] | None = None,
    like: Split | None = None,
    reach: dict[int, float] | None = None,
) -> Split:
    """Share the pie (``free`` plus what everyone holds) between ``flow`` and ``peers``.

    ``client_use`` (quota lanes): each client's use in the current quota window counts
    instead of what it holds, only clients are shared between, and ``free`` is split by
    water-filling (see the module docstring): ``kept`` is the other clients' claims,
    ``mine`` the caller's (units), and a least-used caller keeps ``cost`` of ``free``
    from its peers' claims. ``ahead``: ids of peers already too far ahead in service;
    they claim nothing now. ``held``: each flow's ``held(now)`` by id, if known. On a
    quota lane ``share`` is left empty (only clients are shared between). ``like``: the
    split of the same flows at the same time without ``ahead`` (its grouping, shares and
    holdings are reused). ``reach``: for peers that are away (hold nothing and ask again
    only later), the fraction of the horizon left when they are back (by id; 1 if not
    given): a peer can use only that part of the pie, so it claims only that part of
    its share (one back after the horizon claims nothing: ``Flow.asleep``)."""
    if like is not None and like.clients and client_use is None:
        return _kept(
            flow, like.clients, like.share, like.pie, like.held, ahead, like.sums, like.reach
        )
    group = [*peers, flow]
    clients: dict[str, list[Flow]] = {}
    for f in group:
        clients.setdefault(f.client, []).append(f)
    if client_use is not None:
        return split_day(flow.client, list(clients), free, client_use, cost)
    share = _shares(clients)
    if held is None:
        held = {id(f): f.held(now) for f in group}
    pie = free + sum(held.values())
    return _kept(flow, clients, share, pie, held, ahead, {}, reach or {})


def split_day(
    client: str, clients: list[str], free: float, client_use: dict[str, float], cost: int = 1
) -> Split:
    """``split`` on a quota lane, for a caller of ``client`` whose peers' clients are
    ``clients`` (in the order their flows come, the caller's own among them or not).
    ``capped``: the clients whose claim is below ``cost`` (other than the least used, who
    may always take a permit): nothing that is free is theirs until the level rises."""
    order = clients if client in clients else [*clients, client]
    use = {c: client_use.get(c, 0.0) for c in order}
    level = water_level(list(use.values()), free)
    claim = {c: max(0.0, level - u) for c, u in use.items()}
    kept = sum(v for c, v in claim.items() if c != client)
    low = min(use.values())
    if use[client] <= low:  # the least used always gets a permit
        kept = min(kept, max(0.0, free - cost))
    capped = frozenset(c for c, u in use.items() if claim[c] < cost and u > low)
    return Split(free + sum(use.values()), {}, kept, claim[client], capped=capped)


def _kept(
    flow: Flow,
    clients: dict[str, list[Flow]],
    share: dict[int, float],
    pie: float,
    held: dict[int, float],
    ahead: frozenset[int],
    sums: dict[str, float],
    reach: dict[int, float],
) -> Split:
    """``split``'s claims of the caller's peers on ``pie``; ``sums``: what each client
    holds, filled in as summed (kept for a split again with ``ahead``)."""
    kept = 0.0
    for client, fs in clients.items():
        claiming = [f for f in fs if f is not flow and id(f) not in ahead]
        if client != flow.client:  # a client's flows may lend to each other
            part = sum(share[id(f)] * reach.get(id(f), 1.0) for f in claiming) * pie
            holds = sums.get(client)
            if holds is None:
                holds = sums[client] = sum(held[id(f)] for f in fs)
            kept += max(0.0, part - holds)
        else:
            kept += sum(
                max(0.0, share[id(f)] * reach.get(id(f), 1.0) * pie - held[id(f)]) for f in claiming
            )
    return Split(pie, share, kept, share[id(flow)] * pie, clients, held, sums, reach=reach)


def _shares(clients: dict[str, list[Flow]]) -> dict[int, float]:
    """Each flow's fraction of the lane by id: equal between clients, by resource weight
    within a client, equal between a resource's flows."""
    share: dict[int, float] = {}
    n = len(clients)
    for fs in clients.values():
        counts: dict[str, int] = {}
        for f in fs:
            counts[f.resource] = counts.get(f.resource, 0) + 1
        total = sum(RESOURCE_WEIGHT.get(r, 1) for r in counts)
        part = {r: RESOURCE_WEIGHT.get(r, 1) / total / k / n for r, k in counts.items()}
        for f in fs:
            share[id(f)] = part[f.resource]
    return share


def water_level(used: list[float], free: float) -> float:
    """The level ``x`` to which ``free`` units raise the lowest of ``used``: the sum of
    ``max(0, x - u)`` over ``used`` is ``free`` (max-min fair filling). ``used`` must not
    be empty; ``free`` <= 0 gives the lowest use."""
    ordered = sorted(used)
    total = 0.0
    for i, u in enumerate(ordered, start=1):
        total += u
        level = (max(0.0, free) + total) / i
        if i == len(ordered) or level <= ordered[i]:
            return level
    raise ValueError("water_level needs at least one use")
