"""The ambassador's permit scheduler: pure, sans-I/O, one instance per entity operation.

Theory of operation
-------------------
Workers never call a platform without a permit. One Durable Entity per integration
(``amazon|<seller>``, ``shopify|<shop>``, ``ebay`` …) holds this scheduler's state; the
entity only loads the state, calls one method and stores the state again (or keeps the
scheduler for its next operation: a scheduler built from ``to_state()`` decides exactly
as the one that wrote it). Everything is decided here, from the operation's input and
the caller's own clock.

*Time.* The entity has no trustworthy clock and cannot wake anyone up (no timers, no
signals from entities). So every operation carries the caller's orchestration time
``now``, and the scheduler never waits: it answers at once with **future-dated permits**
("you may call at 12:00:03.500") or with **when to ask again**. The caller sleeps on a
durable timer until then. Time only moves forward inside the state: an operation whose
``now`` is older than one already seen is handled at the newest time seen.

*Lanes and permits.* A route (an Amazon operation, Shopify ``rest`` or ``graphql``, an
eBay API …) maps to a lane: the limits every such request must satisfy together (see
``limits`` and ``policies``). A permit is granted at the earliest time every limit of
the lane admits it, and the limits record it at once: capacity is spent when granted,
not when used, so no interleaving of callers can over-spend. A permit is a **lease**,
valid in ``[time, time + lease)``, and the limits are planned so that use anywhere in
that window conforms. A crashed caller holds nothing beyond its leases, and nothing has
to be returned for safety.

*The horizon.* Permits are granted at most ``horizon`` ahead of ``now``: far enough that
one entity round trip (two replays of the caller) fetches a batch that keeps the caller
busy; near enough that a class arriving later waits little behind permits already
promised.

*Demand.* Each ``acquire`` registers (or refreshes) the caller's *flow* on the lane
(``demand.Flow``): client, tier (demo > daily > backfill), resource, backlog. A flow that
got fewer permits than it asked for is **hungry**: it holds a claim for the rest until
its ``retry_at`` plus a grace period. Registrations expire a grace period after their
last permit or retry time, so a dead caller's demand stops counting by itself;
``complete`` ends a flow at once.

*The decision*, for a caller X asking for ``want`` permits:

1. **Priority.** If a flow that outranks X is hungry, X gets nothing and retries after
   it. *Outranks*: a better tier; or the same tier and client and a better resource rank
   (orders and order items, then transactions, remains, returns, payouts). A higher flow
   that is not hungry blocks nothing — it has what it asked for, so spare capacity flows
   down (work-conserving) — but while one is active X plans only one of its own round
   trips ahead (at least ``horizon / LOWER_LEAD``, at most half the horizon): enough to
   keep the lane busy until X is back, short enough that the higher flow's next batch
   waits at most about that behind X's. X's round trip is measured: the time from when
   its last answer ran out (its last permit, or its retry time) to its next ask.
2. **Share.** X's *peers* are the other active flows of its tier that X does not outrank
   (active: holding permits dated after now, or hungry and back within the horizon; on
   a quota lane: registered and not done), leaving out any that a hungry flow outranks
   — those cannot be served now, and letting them claim a share would make flows wait
   for each other in a cycle — and, on a quota lane, the flows of clients that can take
   nothing of the day (their claim on it is below a permit: they cannot be served
   either, and with their tags low they held every other flow back).
   The *pie* is the capacity free before the horizon plus what the peers and
   X hold in it. It is split equally between clients, then by resource weight within a
   client (order items 3 : orders 1), then equally between a resource's flows. Each peer
   keeps the part of its share it does not hold yet — a peer away (holding nothing, back
   only at its retry time) only the part for what is left of the horizon when it is
   back; X may take everything else. A flow
   therefore holds at most about its share of the horizon while others want theirs, and
   as every permit is held for about one horizon, its rate is its share of the lane
   (Little's law). A quota lane (a daily quota, a sliding day) splits what is left of
   the quota's day instead, max-min fair by what each client used in the day the permits
   land in (near a reset: the next one; ``demand.water_level``), while the other
   clients' claims reach into the horizon (else the horizon is shared as above: a claim
   on the day must not idle a per-second limit); in the quota's release period a flow
   asleep past the horizon claims nothing, so nothing of the day is left idle. Where a
   share is a fraction of a permit per horizon, each flow's *tag* (service over share)
   keeps the long run exact: no flow runs more than a pie ahead of the
   slowest peer *owed* service — hungry, not last told to wait for priority (it waits
   for its own class, not for the others), and not held to a short lead below an active
   flow that outranks it (its own client's spare serves that one). Only an owed flow
   keeps its tag; any other asks at the slowest owed peer's (or, with none owed, the
   slowest peer's): asking for less than its share earns no credit, and a flow that
   wants no more, or cannot take more, holds nobody back — else a flow below its share
   by choice (order items asking 25 of a 35/s share) idles the lane. A share only binds
   if the caller asks for it: ``fair_share`` in the answer says how many permits that
   takes.
3. **Capacity.** The lane plans the permits back to back from the earliest conforming
   time, up to the horizon (``Lane.plan``). "Conforming" includes the lease: a token
   bucket whose burst cannot absorb a lease's lateness is planned spaced, at the best
   rate any lease-safe schedule can reach (``limits``, "Token buckets and lateness").

Fewer than asked: ``retry_at`` is when asking again can help — just after the blocking
claims' retry time (priority; while other clients' flows are served on the lane, it
backs off instead, doubling its last priority wait up to a horizon: those clients take
the lane whenever the blocking class ends, and a class behind its own client's hungry
orders would otherwise ask every second for nothing); when the lane will have room,
beyond the peers' shares, for a fair batch (half the request, at most X's share of the
pie) (capacity); not before
X's own held permits have run down by that much (share) — and never sooner than
``min_wait``. On a quota lane a share wait asks again within ``SHARE_RECHECK``
horizons (the claim it waits for may belong to a flow about to finish) — but while its
client can take nothing of the day (its claim is below a permit: the rest is claimed
by clients that used less) it backs off, doubling its last share wait up to
``CAPPED_RECHECK_S`` — and every wait
is back by the day's release period, which hands out what is left of the day (units
given back after the others went to sleep until the day turns over). Token buckets keep
unused tokens up to their burst, so capacity that accrues while callers sleep is not
lost.

*The daily syncs' reserve.* A quota lane keeps units from backfills for the daily syncs:
what they were granted in their largest recent run, between the limit's floor and its
``reserve`` (``shared.ambassador.reserve``; the lane's ``syncs``). Its release period
gives it to backfills only once the day's syncs are over (their run started that quota
day, no daily flow is live and none was granted for half an hour), and never while no
run is remembered: released as its period began, backfills holding permits a horizon
ahead took it before the first syncs had asked.

*Demo cap.* Demo permits count per client on this entity, ``demo_cap`` (100) in all.
An ask past the cap is refused with the reason; a partial ask gets what is left.

*Observations* only tighten the model, except for figures the platform states.
A remaining-quota reading tightens a limit only on evidence of use we did not grant: a
bucket's level drops to what the platform reported minus our permits it cannot have
seen yet (dated after ``request_at``); a fixed window's count rises to what the platform
counted plus those permits; a sliding window's to what the platform counted beyond all
of ours in it. Our permits that may be late are taken as seen, so readings taken during
our own burst never turn it into phantom use, reading after reading (measured: that
cost a 20-block Shopify run 10 % of its bucket). A 429 assumes the worst: it empties
the limit at ``request_at`` with every permit that may still arrive counted, blocks the
lane for the platform's Retry-After (``backoff_s`` without one) and slows a token
bucket's planning rate, which recovers over minutes. Stated capacity, rate and reset
times are adopted. A GraphQL query's actual cost settles the difference to the cost its
permit spent.

*At-least-once.* The entity may run an operation twice. ``acquire`` remembers each
flow's last request id and answer and returns that answer again; ``observe`` and
``release`` remember recent ids per lane and apply once.

*Bounded state.* Per lane: the limits' state (a few numbers, or bucket counts bounded by
the window), counters, the last ``SEEN_IDS`` operation ids and, on quota lanes, one
counter per client and at most ``reserve.MAX_RUNS`` runs of the daily syncs. Per flow:
one registration with at most ``MAX_RUNS`` runs and its last answer (at most
``max_batch`` permit times). Per demo client: one counter. Expired flows, past quota
windows, old runs and old demo counters are pruned on every operation: the state grows
with active callers and clients, never with the number of requests.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import fields
from datetime import datetime
from typing import Any

from shared.ambassador import reserve
from shared.ambassador.demand import Flow, split, split_day
from shared.ambassador.limits import MS, CostBucket, FixedWindow, TokenBucket, to_us
from shared.ambassador.limits import format_time as _format
from shared.ambassador.limits import parse_time as _parse
from shared.ambassador.policies import Lane, PlatformPolicy
from shared.ambassador.protocol import (
    TIERS,
    AcquireAnswer,
    AcquireRequest,
    CompleteAnswer,
    CompleteRequest,
    LaneSnapshot,
    ObserveAnswer,
    ObserveRequest,
    ReleaseAnswer,
    ReleaseRequest,
    Snapshot,
    Waiting,
)
from shared.ambassador.view import LaneView, Static, class_of, static_rows
from shared.errors import ConfigurationError

STATE_VERSION = 2  # 2: flows as one JSON text of rows (``to_state``); 1 is still read
SEEN_IDS = 64  # observe/release ids remembered per lane
BLIND_429S_FOR_QUOTA = 3  # 429s in a row without readings before a day quota counts spent
LOWER_LEAD = 20  # below an active higher class, plan at least horizon / LOWER_LEAD ahead
SHARE_RECHECK = 3  # a quota lane's share wait asks again within this many horizons
CAPPED_RECHECK_S = 3_600.0  # ... backing off up to this while its client can take nothing
QUOTA_WINDOW_S = 3_600.0  # a fixed window at least this long makes a lane a quota lane
DEMO_MEMORY_S = 7 * 86_400.0  # a client's demo count is forgotten a week after its last use


class Scheduler:
    """The ambassador's decisions over one entity's state (see the module docstring).

    ``state`` is the JSON-able dict ``to_state()`` produced (None for a new entity).
    Each operation takes a protocol request and returns its answer; ``to_state()`` then
    gives the state to store. Unknown routes raise ``ConfigurationError`` (except in
    ``acquire``, which refuses with the reason)."""

    def __init__(self, policy: PlatformPolicy, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.policy = policy
        self.clock: int = state.get("clock", 0)
        saved = state.get("lanes", {})
        self.lanes: dict[str, Lane] = {
            name: spec.build(saved.get(name)) for name, spec in policy.lanes.items()
        }
        self.meta = {name: _lane_meta(saved.get(name, {})) for name in policy.lanes}
        self.flows = _load_flows(state)
        # each flow's stored text, reused by ``to_state`` until an operation touches the
        # flow (the caller's own flow is the only one an operation changes): storing the
        # state costs the changed flows, not all of them
        self._text: dict[str, str] = {}
        self._touched: set[str] = set(self.flows)
        # the texts in ``flows`` order, and each key's place there: None when a flow
        # joined or left (rebuilt by ``to_state``)
        self._parts: list[str] | None = None
        self._slot: dict[str, int] = {}
        self._rows: dict[str, list[Static]] = {}  # per lane (``_lane_rows``)
        self._groups: dict[str, dict[int, dict[str, list[Static]]]] = {}  # ``_lane_groups``
        self._daily: list[Flow] | None = None  # the daily syncs' flows (``_begin``)
        self._expiry_floor: float = -math.inf  # no flow expires before (``_begin``)
        self.demo: dict[str, list[int]] = {k: list(v) for k, v in state.get("demo", {}).items()}
        self.grace = to_us(policy.grace_s)
        self.min_wait = to_us(policy.min_wait_s)
        self.backoff = to_us(policy.backoff_s)

    # ------------------------------------------------------------------ operations
    def acquire(self, req: AcquireRequest) -> AcquireAnswer:
        now = self._begin(_parse(req.now))
        base: dict[str, Any] = {"request_id": req.request_id, "route": req.route}
        try:
            lane_name = self.policy.lane_of(req.route)
        except ConfigurationError as exc:
            return AcquireAnswer(**base, cost=req.cost, refused="unknown_route", reason=str(exc))
        lane, key = self.lanes[lane_name], _flow_key(req.caller, lane_name)
        flow = self.flows.get(key)
        if flow is not None and flow.last_id == req.request_id and flow.last_answer:
            return _answer(flow.last_answer, base, lane_name, lane)  # a repeated operation
        if req.cost > lane.max_units or lane.next_time(now, req.cost, False) is None:
            reason = f"{req.cost} units per permit exceed what lane {lane_name!r} ever admits"
            return AcquireAnswer(
                **base, lane=lane_name, cost=req.cost, refused="cost_too_high", reason=reason
            )
        waited, share_waited = _last_wait(flow, "priority"), _last_wait(flow, "share")
        flow = self._register(key, lane_name, req, now)
        want, demo_left = min(req.want, self.policy.max_batch), None
        if req.tier == "demo":
            demo_left = self.policy.demo_cap - self.demo.get(req.client, [0, 0])[0]
            if demo_left <= 0:
                reason = (
                    f"demo runs are capped at {self.policy.demo_cap} requests per "
                    f"marketplace per customer; client {req.client!r} has used them all"
                )
                flow.unmet, flow.backlog = 0, 0
                return self._answered(flow, req, {"x": "demo_cap", "m": reason, "dl": 0}, lane)
            want = min(want, demo_left)
        times, waiting, retry, fair = self._decide(
            flow, lane, want, req.cost, now, waited, share_waited
        )
        self._record(flow, lane, times, want, req.cost, retry, now)
        if demo_left is not None:
            used = self.demo.setdefault(req.client, [0, now])
            used[0], used[1] = used[0] + len(times), now
            demo_left -= len(times)
        answer: dict[str, Any] = {"c": req.cost, "f": fair}
        if times:
            answer |= {"t0": times[0], "d": [(t - times[0]) // MS for t in times]}
            self.meta[lane_name]["tail"] = [key, req.request_id]  # the latest promises
        if retry is not None:
            answer |= {"r": retry, "w": waiting}
        if demo_left is not None:
            answer["dl"] = demo_left
        return self._answered(flow, req, answer, lane)

    def observe(self, req: ObserveRequest) -> ObserveAnswer:
        now = self._begin(_parse(req.now))
        lane_name = self.policy.lane_of(req.route)
        lane, meta = self.lanes[lane_name], self.meta[lane_name]
        if not _first_time(meta, f"o/{req.caller}/{req.request_id}"):
            return ObserveAnswer(applied=False, blocked_until=_dt(lane.blocked_until))
        at = min(now, _parse(req.request_at)) if req.request_at else now
        # a reading tightens only on evidence: our permits dated after ``at`` surely had
        # not reached the platform; counting earlier ones too (maybe late, maybe seen)
        # would take every seen permit of a burst for extra use, reading after reading
        # (summed only where needed: an application-wide lane holds a thousand flows)
        read = not req.throttled and any(r.remaining is not None for r in req.readings)
        unseen = self._unseen(lane_name, at) if read else 0
        # after a 429 assume the worst: every permit that may still arrive will; but not
        # the refused request's own (it arrived, and took nothing): counted, it cost a
        # 1-a-minute lane (Amazon's getReportDocument) a minute per 429
        unseen_late = self._unseen(lane_name, at - lane.lease) if req.throttled else 0
        if req.throttled and req.request_at:
            unseen_late = max(0, unseen_late - (req.charged if req.charged else 1))
        for reading in req.readings:
            reset = _parse(reading.reset_at) if reading.reset_at else None
            lane.limit(reading.limit).learn(reading.capacity, reading.rate, reset)
        lane.begin(now)  # stated figures take effect now
        if req.charged is not None and req.actual is not None and req.charged != req.actual:
            for limit in lane.limits:  # settle first: a reading below already includes it
                if isinstance(limit, CostBucket):
                    limit.settle(at, req.actual - req.charged)
        if req.throttled:
            wait = req.retry_after_s if req.retry_after_s is not None else self.policy.backoff_s
            lane.blocked_until = max(lane.blocked_until, now + to_us(wait))
            named = [r for r in req.readings if r.limit is not None]
            # a 429 empties the limits it names as spent (remaining 0 or unstated); a limit
            # whose reading still shows room (Etsy's day quota on a per-second 429, or a
            # 429 from contention despite budget) is synced, not emptied: the platform's
            # wait (blocked_until) covers the refusal, a day-long wait would not be owed
            spent = [r for r in named if not r.remaining]
            for reading in named:
                if reading.remaining:
                    lane.limit(reading.limit).sync(at, reading.remaining, unseen_late)
            meta["blind"] = 0 if named else meta["blind"] + 1
            if spent:
                targets = [lane.limit(r.limit) for r in spent]
            elif not named:
                # a 429 that names no limit: a short window for sure; a day's quota only
                # once such 429s persist (eBay says nothing in its 429s; assuming the day
                # used up at the first one would idle the lane until the reset)
                long = meta["blind"] < BLIND_429S_FOR_QUOTA
                targets = [x for x in lane.limits if not (long and x.long_window)]
            else:
                targets = []
            for limit in targets:
                limit.exhaust(at, unseen_late)
            meta["throttled"] += 1
        else:
            if meta["blind"]:
                meta["blind"] = 0
            for reading in req.readings:
                if reading.remaining is not None:
                    lane.limit(reading.limit).sync(at, reading.remaining, unseen)
        return ObserveAnswer(applied=True, blocked_until=_dt(lane.blocked_until))

    def release(self, req: ReleaseRequest) -> ReleaseAnswer:
        now = self._begin(_parse(req.now))
        lane_name = self.policy.lane_of(req.route)
        lane, meta = self.lanes[lane_name], self.meta[lane_name]
        key = _flow_key(req.caller, lane_name)
        flow = self.flows.get(key)
        if flow is None or flow.last_id != req.grant_id or not flow.last_answer:
            return ReleaseAnswer(returned=0)
        if not _first_time(meta, f"r/{req.caller}/{req.request_id}"):
            return ReleaseAnswer(returned=0)
        self._touched.add(key)
        answer = flow.last_answer
        units = answer.get("c", 1)
        times = _times(answer)[: len(_times(answer)) - answer.get("rel", 0)]
        unused = times[len(times) - min(req.unused, len(times)) :]
        expired = Counter(_parse(t) for t in req.expired)
        if any(not isinstance(limit, TokenBucket) for limit in lane.limits):
            # the unused permits already past were not sent either: forfeited like the
            # expired ones (a block's tail left over when its run stopped early counted on
            # a sliding day for 24 h)
            expired |= Counter(t for t in unused if t < now)
        forfeited = self._forfeit(lane, flow, answer, expired, now)
        back = [t for t in unused if t > now]
        if not back:
            return ReleaseAnswer(returned=forfeited)
        for limit in lane.limits:
            if not isinstance(limit, TokenBucket):
                for t in back:
                    limit.adjust(t, -units)
            elif meta.get("tail") == [key, req.grant_id]:  # a bucket forgets only its tail
                limit.adjust(now, -units * len(back))
        answer["rel"] = answer.get("rel", 0) + len(back)
        flow.drop_last(len(back))
        flow.granted -= len(back)
        meta["granted"] -= len(back)
        self._count_use(lane, flow, -units * len(back), now)
        if flow.tier == "demo" and flow.client in self.demo:
            self.demo[flow.client][0] = max(0, self.demo[flow.client][0] - len(back))
        return ReleaseAnswer(returned=forfeited + len(back))

    def _forfeit(
        self, lane: Lane, flow: Flow, answer: dict[str, Any], asked: Counter, now: int
    ) -> int:
        """Un-count the grant's permits that expired unsent (``asked``: times, µs, with
        how many at each) on the lane's window limits: each is counted once
        (``answer["fx"]``), only a time of the grant that lies in the past and was not
        given back already. A daily quota counted such a permit all day (measured on
        Etsy's sliding day: most of the ~20 % of granted permits the platform never
        saw). Buckets keep no past use."""
        if not asked:
            return 0
        times = _times(answer)
        live = Counter(times[: len(times) - answer.get("rel", 0)])  # a burst: equal times
        done = Counter(answer.get("fx", []))
        left = {t: min(n, live[t] - done[t]) for t, n in asked.items() if t < now}
        lost = sorted(Counter(left).elements())  # elements() skips counts <= 0
        if not lost:
            return 0
        units = answer.get("c", 1)
        for limit in lane.limits:
            if not isinstance(limit, TokenBucket):
                for t in lost:
                    limit.adjust(t, -units)
        for t in lost:
            self._count_use(lane, flow, -units, t)
        answer["fx"] = sorted((done + Counter(lost)).elements())
        return len(lost)

    def complete(self, req: CompleteRequest) -> CompleteAnswer:
        now = self._begin(_parse(req.now))
        lane_name = self.policy.lane_of(req.route) if req.route is not None else None
        closed = 0
        for key, flow in self.flows.items():
            if flow.caller == req.caller and lane_name in (None, flow.lane) and not flow.done:
                flow.done, flow.backlog, flow.unmet, flow.retry_at = True, 0, 0, None
                flow.expires = max(flow.expires, now)
                self._touched.add(key)
                closed += 1
        return CompleteAnswer(completed=closed)

    def snapshot(self, now: datetime | None = None) -> Snapshot:
        at = self._begin(_parse(now) if now is not None else self.clock)
        lanes = {}
        for name, lane in self.lanes.items():
            flows = [f for f in self._on(name) if not f.done]
            waiting = [
                Waiting(
                    caller=f.caller,
                    client=f.client,
                    tier=f.tier,
                    resource=f.resource,
                    unmet=f.unmet,
                    retry_at=_dt(f.retry_at),
                )
                for f in flows
                if f.hungry(at, self.grace)
            ]
            meta = self.meta[name]
            lanes[name] = LaneSnapshot(
                limits=lane.describe(at)["limits"],
                lease_s=lane.spec.lease_s,
                horizon_s=lane.spec.horizon_s,
                blocked_until=_dt(lane.blocked_until) if lane.blocked_until > at else None,
                active=sum(1 for f in flows if f.backlog > 0),
                waiting=sorted(waiting, key=lambda w: (TIERS.index(w.tier), w.caller)),
                granted=meta["granted"],
                waits=meta["waits"],
                throttled=meta["throttled"],
            )
        return Snapshot(
            platform=self.policy.platform,
            now=_dt(at),
            lanes=lanes,
            demo_used={client: used for client, (used, _) in self.demo.items()},
            registrations=len(self.flows),
        )

    def to_state(self) -> dict[str, Any]:
        """The state to store: plain JSON-able data that shares nothing mutable with this
        scheduler (it may go on to run further operations).

        ``flows`` is one JSON text, ``{"<lane>@<caller>": [value, ...]}`` with the values
        in the order of ``flow_fields``: the host's codec passes it as one string instead
        of decoding (with a Python hook per object) and encoding every flow of an
        application-wide entity on every batch, and a flow's text is written again only
        when an operation touched it."""
        lanes = {}
        for name, lane in self.lanes.items():
            saved = {**lane.state(), **_meta_state(self.meta[name])}
            if saved != {"limits": {}}:
                lanes[name] = saved
        touched = [key for key in self._touched if key in self.flows]
        for key in touched:
            self._text[key] = _flow_text(key, self.flows[key])
        self._touched.clear()
        if self._parts is None:  # the flows changed: their texts in order again
            self._slot = {key: i for i, key in enumerate(self.flows)}
            self._parts = [self._text[key] for key in self.flows]
        else:
            for key in touched:
                self._parts[self._slot[key]] = self._text[key]
        return {
            "v": STATE_VERSION,
            "clock": self.clock,
            "lanes": lanes,
            "flow_fields": list(FLOW_FIELDS),
            "flows": "{" + ",".join(self._parts) + "}",
            "demo": {client: list(used) for client, used in self.demo.items()},
        }

    # ------------------------------------------------------------------ the decision
    def _decide(
        self,
        flow: Flow,
        lane: Lane,
        want: int,
        cost: int,
        now: int,
        waited: int = 0,
        share_waited: int = 0,
    ) -> tuple[list[int], str | None, int | None, int]:
        """(permit times, why fewer than ``want``, when to ask again, fair share).
        ``waited`` / ``share_waited``: the flow's last wait, if it was for priority / for
        its share (µs)."""
        if blockers := self._blockers(flow, now):
            retry = min(f.retry_at for f in blockers if f.retry_at is not None) + MS
            if waited and any(
                f is not flow
                and not f.done
                and f.backlog > 0
                and f.client != flow.client
                and f.held(now) > 0
                for f, _, _ in self._lane_rows(flow.lane)
            ):
                # other clients are served: they take the lane whenever the blocking class
                # ends, so back off (a class behind its own client's hungry orders on a
                # shared lane asked every second for nothing: 85 % of Etsy's acquires)
                retry = max(retry, now + min(lane.horizon, 2 * waited))
            return [], "priority", max(now + self.min_wait, retry), 0
        view = LaneView(self._lane_rows(flow.lane), flow, now, self.grace)
        others = view.others
        reserved = flow.tier == "backfill"  # backfills leave a quota's reserve alone
        quota = lane.quota
        free = lane.free_units(now, now + lane.horizon, reserved)
        parts, capped = None, frozenset()
        if quota is not None:
            # a day's quota is shared by each client's use in it (max-min fair, in the
            # window the permits would land in: near a reset, the next) while the other
            # clients' claims on what is left of it reach into this horizon; else the
            # horizon is shared like any lane's (Etsy below its day's quota: a client's
            # unused claim on the day must not idle the per-second limit) (H3)
            # every live flow of a client counts, also one that has all it asked for so
            # far (a chain asks a permit or two at a time): its client's claim stands
            live = view.live
            if quota.releasing(now):  # the day's last release_s: a flow asleep past
                # this horizon would leave its claim idle until the day ends
                live = [r for r in live if not view.asleep(r[0], now + lane.horizon)]
            registered = view.peer_clients(live)
            first = lane.next_time(now, cost, reserved)
            use = self._client_use(lane, now if first is None else first)
            day_free = max(free, quota.free_units(now, now + lane.horizon, reserved))
            if registered:
                parts = split_day(flow.client, registered, day_free, use, cost=cost)
                # a client that can take nothing of the day neither claims a part of the
                # horizon nor holds the others back in service (its flows stay hungry and
                # unserved, their tags low: they held every other client's flows at the
                # floor, and 22 of 50 clients stalled at 30-40 calls with a third of the
                # day left)
                capped = parts.capped - {flow.client}
            if parts is None or parts.kept < day_free - free:
                quota, parts = None, None
        # its client can take nothing of the day: nothing is its before a claim frees
        day_capped = parts is not None and parts.mine < cost
        on_quota = quota is not None
        above = any(
            view.active((f, t, r, f.hungry(now, self.grace)), on_quota)
            for f, t, r in self._outranking(flow)
            if not f.done and f.backlog > 0
        )
        lead = min(lane.horizon // 2, max(lane.horizon // LOWER_LEAD, flow.rtt))
        end = now + (lead if above else lane.horizon)
        free = lane.free_units(now, end, reserved)
        share, room, fair, kept, behind = 1.0, float(free), float(free), 0.0, []
        if parts is not None:
            room = min(free, day_free - parts.kept)
            fair, kept = parts.mine, parts.kept
        elif rows := [
            r
            for r in view.peers(others, quota is not None, now + lane.horizon)
            if r[0].client not in capped
        ]:
            peers = [r[0] for r in rows]
            # only a flow owed service keeps its credit and holds the others back: one
            # that had all it asked for, or that an active flow of its own client holds
            # to a short lead, would leave idle what the others leave it
            # the active flows that outrank a peer (or the caller): of a better tier, or
            # of its tier and client with a better rank (``view.active_rank``)
            mine = flow.hungry(now, self.grace)
            above_all = any(
                t < view.tier and view.active((f, t, r, f.hungry(now, self.grace)), False)
                for f, t, r in self._outranking(flow)
                if not f.done and f.backlog > 0
            )
            best = view.active_rank
            if mine or view.held(flow) > 0:
                best[flow.client] = min(best.get(flow.client, view.rank), view.rank)

            def outranked(client: str, rank: int) -> bool:
                return above_all or best.get(client, math.inf) < rank

            # a flow last told to wait for priority waits for its own class, not for the
            # others: owed nothing, and back from that wait it keeps no credit (it slept
            # up to a horizon with its tag from before, and held every flow of the lane
            # at that floor until it was back: the 10/s lane stood idle for 18 s)
            owed = [
                f
                for f, t, rank, h in rows
                if h and not outranked(f.client, rank) and not _waits_for_priority(f)
            ]
            if not (mine and not waited and not outranked(flow.client, view.rank)):
                flow.tag = max(flow.tag, min(f.tag for f in owed or peers))
            held = {id(f): view.held(f) for f in [*peers, flow]}
            # a peer away until ``retry_at`` can use only the horizon after it: it claims
            # that part of its share, the rest is the others' to use meanwhile (a class
            # backing off behind its own client's orders kept its client's whole share
            # for up to a horizon after the orders ended)
            end_h = now + lane.horizon
            reach = {
                id(f): (end_h - f.retry_at) / lane.horizon
                for f in peers
                if f.retry_at is not None and f.retry_at > now and held[id(f)] <= 0
            }
            parts = split(flow, peers, free, now, held=held, reach=reach)
            lead = parts.pie  # how far ahead of the slowest owed peer a flow may run
            floor = min([flow.tag, *(f.tag for f in owed)])
            ahead = frozenset(id(f) for f in peers if f.tag > floor + lead)
            if ahead:
                parts = split(flow, peers, free, now, ahead=ahead, like=parts)
            share, fair, kept = parts.share[id(flow)], parts.mine, parts.kept
            room = min(free - kept, (floor + lead - flow.tag) * share)
            if flow.tag <= floor and free >= cost:
                room = max(room, float(cost))  # the slowest flow always gets a permit
            behind = [f for f in owed if f.tag < flow.tag - lead]
        count = min(want, max(0, int(room // cost)))
        times = lane.plan(now, count, cost, reserved, end)
        flow.tag += len(times) * cost / share
        fair_share = max(len(times), int(fair // cost))
        if len(times) >= want:
            return times, None, None, fair_share
        waiting = "share" if count < want and room < free else "capacity"
        # come back when about a fair batch fits: half the ask, at most the fair share
        needed = max(1, min(want - len(times), want // 2, int(fair // cost)))
        ahead_times = lane.peek(now, math.ceil(kept / cost) + needed, cost, reserved)
        retry = ahead_times[-1] - (end - now) if ahead_times else now + self.backoff
        if waiting == "share" and (drop := flow.when_held_drops(now, needed * cost)):
            retry = max(retry, drop)
        if behind and not times:  # far ahead of others in service: wait until they move
            retry = max(retry, min(_moves_at(f, now, self.grace) for f in behind))
        day = lane.quota
        if day is not None:
            # a claim on the day may belong to a flow about to finish (a daily sync of 11
            # permits was given a claim of 36; a client that finished keeps its claim
            # until its flow expires): a share wait re-checks within a few horizons
            # (but one whose client can take nothing of the day backs off, doubling its
            # wait up to an hour: 600 such flows re-asking every minute made 730 k timers
            # for 8.5 k requests at 50 clients)
            if waiting == "share":
                recheck = SHARE_RECHECK * lane.horizon
                if day_capped:
                    recheck = min(to_us(CAPPED_RECHECK_S), max(recheck, 2 * share_waited))
                retry = min(retry, now + recheck)
            # and every wait is back for the release period, which hands out what is
            # left of the day (units given back after the others went to sleep until the
            # day turns over, claims of clients asleep there: step 2)
            if (release := day.release_at(now)) > now:
                retry = min(retry, release)
        return times, waiting, max(now + self.min_wait, retry), fair_share

    # ------------------------------------------------------------------ bookkeeping
    def _begin(self, now: int) -> int:
        now = max(self.clock, now)
        self.clock = now
        # expiry times only grow (and a new flow's lowers the floor: ``_register``), so no
        # flow expires before the earliest one seen at the last look
        if now >= self._expiry_floor:
            if any(f.expires <= now for f in self.flows.values()):
                self.flows = {k: f for k, f in self.flows.items() if f.expires > now}
                self._rows.clear()
                self._groups.clear()
                self._daily = None
                self._text = {k: v for k, v in self._text.items() if k in self.flows}
                self._parts = None
            self._expiry_floor = min((f.expires for f in self.flows.values()), default=math.inf)
        if self._daily is None:
            self._daily = [f for f in self.flows.values() if f.tier == "daily"]
        syncing = {f.lane for f in self._daily if not f.done}
        for name, lane in self.lanes.items():
            lane.begin(now)
            if (quota := _quota_limit(lane)) is not None:
                meta = self.meta[name]
                current = quota.window_index(now)
                meta["use"] = {c: v for c, v in meta["use"].items() if v[0] >= current}
                # the reserve is what the daily syncs used lately (``reserve``)
                runs = meta["syncs"] = reserve.prune(meta["syncs"], now)
                over = name not in syncing and reserve.over(runs, now, quota.window_index)
                quota.hold(reserve.need(runs, now), release=over)
        forget = to_us(DEMO_MEMORY_S)
        self.demo = {c: v for c, v in self.demo.items() if v[1] + forget > now}
        return now

    def _on(self, lane_name: str) -> list[Flow]:
        return [f for f in self.flows.values() if f.lane == lane_name]

    def _joined(self, flow: Flow) -> None:
        """A new flow (the last in ``flows``) joins its lane's kept rows and groups."""
        row = (flow, *class_of(flow))
        if (rows := self._rows.get(flow.lane)) is not None:
            rows.append(row)
        if (groups := self._groups.get(flow.lane)) is not None:
            groups.setdefault(row[1], {}).setdefault(flow.client, []).append(row)
        if self._daily is not None and flow.tier == "daily":
            self._daily.append(flow)

    def _unseen(self, lane_name: str, after: int) -> int:
        """Units of the lane's permits dated after ``after`` (``Flow.unseen``)."""
        return sum(f.unseen(after) for f, _, _ in self._lane_rows(lane_name) if f.runs)

    def _blockers(self, flow: Flow, now: int) -> list[Flow]:
        """The lane's hungry flows with a backlog that outrank ``flow`` (step 1)."""
        return [
            f
            for f, _, _ in self._outranking(flow)
            if not f.done and f.backlog > 0 and f.hungry(now, self.grace)
        ]

    def _outranking(self, flow: Flow) -> list[Static]:
        """The lane's rows of flows that outrank ``flow`` (``Flow.outranks``): of a better
        tier, or of its tier and client with a better resource rank. Only those classes
        are looked at (at a thousand flows, most asks wait behind their own client's
        orders, and few flows are of a better tier)."""
        tier, rank = class_of(flow)
        out = []
        for t, clients in self._lane_groups(flow.lane).items():
            if t > tier:
                continue
            for rows in clients.values() if t < tier else [clients.get(flow.client, [])]:
                out.extend(row for row in rows if t < tier or row[2] < rank)
        return out

    def _lane_groups(self, lane_name: str) -> dict[int, dict[str, list[Static]]]:
        """The lane's rows by tier rank and client (kept as ``_lane_rows``)."""
        groups = self._groups.get(lane_name)
        if groups is None:
            groups = self._groups[lane_name] = {}
            for row in self._lane_rows(lane_name):
                groups.setdefault(row[1], {}).setdefault(row[0].client, []).append(row)
        return groups

    def _lane_rows(self, lane_name: str) -> list[Static]:
        """The lane's flows with their classes, in ``flows`` order; kept until a flow
        joins or leaves or changes class (``_register``, ``_begin``)."""
        rows = self._rows.get(lane_name)
        if rows is None:
            rows = self._rows[lane_name] = static_rows(self._on(lane_name))
        return rows

    def _register(self, key: str, lane: str, req: AcquireRequest, now: int) -> Flow:
        self._touched.add(key)
        flow = self.flows.get(key)
        if flow is None:
            flow = self.flows[key] = Flow(req.caller, lane, req.client, req.tier, req.resource)
            self._parts = None
            self._joined(flow)
        elif (flow.client, flow.tier, flow.resource) != (req.client, req.tier, req.resource):
            self._rows.pop(lane, None)  # a flow changes class: its lane's rows again
            self._groups.pop(lane, None)
            self._daily = None
        flow.client, flow.tier, flow.resource, flow.done = req.client, req.tier, req.resource, False
        flow.backlog = max(req.backlog if req.backlog is not None else req.want, req.want)
        flow.expires = max(flow.expires, now + self.grace)
        self._expiry_floor = min(self._expiry_floor, flow.expires)
        if flow.asked_at:  # back after its last answer ran out: one round trip
            ran_out = max(flow.asked_at, flow.retry_at or 0, *(run[1] for run in flow.runs))
            flow.rtt = max(flow.rtt, now - ran_out)
        flow.asked_at = now
        return flow

    def _record(
        self,
        flow: Flow,
        lane: Lane,
        times: list[int],
        want: int,
        cost: int,
        retry: int | None,
        now: int,
    ) -> None:
        meta = self.meta[flow.lane]
        if times:
            # runs older than a horizon (and a lease) no longer matter: dropping them keeps
            # merging (and its spreading of permits over a merged run) to recent runs
            flow.forget_before(now - max(lane.horizon, lane.lease))
            flow.add_run(times, cost)
            flow.granted += len(times)
            flow.expires = max(flow.expires, times[-1] + lane.lease + self.grace)
            meta["granted"] += len(times)
            self._count_use(lane, flow, cost * len(times), times[0])
        flow.unmet, flow.retry_at = want - len(times), retry
        if retry is not None:
            meta["waits"] += 1
            flow.expires = max(flow.expires, retry + self.grace)
        flow.backlog = max(0, flow.backlog - len(times))

    def _answered(
        self, flow: Flow, req: AcquireRequest, answer: dict[str, Any], lane: Lane
    ) -> AcquireAnswer:
        flow.last_id, flow.last_answer = req.request_id, answer
        return _answer(answer, {"request_id": req.request_id, "route": req.route}, flow.lane, lane)

    def _count_use(self, lane: Lane, flow: Flow, units: int, at: int) -> None:
        """Count ``units`` (negative: given back) of ``flow``'s at ``at`` in its client's
        use of the quota window, and a daily sync's in the runs the reserve learns from."""
        if (quota := _quota_limit(lane)) is None:
            return
        if flow.tier == "daily":
            reserve.record(self.meta[lane.spec.name]["syncs"], at, units)
        client = flow.client
        use = self.meta[lane.spec.name]["use"]
        index = quota.window_index(at)
        entry = use.get(client)
        if entry is None or entry[0] != index:
            entry = use[client] = [index, 0]
        entry[1] = max(0, entry[1] + units)

    def _client_use(self, lane: Lane, at: int) -> dict[str, float]:
        """Units each client was granted in the quota window containing ``at``."""
        quota = _quota_limit(lane)
        assert quota is not None
        index = quota.window_index(at)
        return {
            c: float(v[1]) for c, v in self.meta[lane.spec.name]["use"].items() if v[0] == index
        }


# ---------------------------------------------------------------------- helpers
def _flow_key(caller: str, lane: str) -> str:
    return f"{lane}@{caller}"


def _moves_at(flow: Flow, now: int, grace: int) -> int:
    """When a flow that others wait for in service will ask again or drop out."""
    if flow.hungry(now, grace) and flow.retry_at is not None:
        return flow.retry_at + MS
    return max((last for _, last, _, _ in flow.runs), default=now) + MS


def _waits_for_priority(flow: Flow) -> bool:
    """The flow's last answer told it to wait for priority."""
    answer = flow.last_answer
    return answer is not None and answer.get("w") == "priority"


def _last_wait(flow: Flow | None, reason: str) -> int:
    """How long the flow last waited, if that wait was for ``reason`` (else 0), in µs."""
    answer = flow.last_answer if flow is not None else None
    if not answer or answer.get("w") != reason or "r" not in answer:
        return 0
    return max(0, answer["r"] - flow.asked_at)


def _quota_limit(lane: Lane) -> FixedWindow | None:
    return lane.quota  # a daily quota or a sliding day (``Lane.quota``)


FLOW_FIELDS = tuple(f.name for f in fields(Flow))


def _load_flows(state: dict[str, Any]) -> dict[str, Flow]:
    """The flows of a stored state (``to_state``'s JSON text; a version 1 state held a
    dict per flow), sharing nothing mutable with it. Fields the stored order names that
    ``Flow`` no longer has are dropped; new ones take their defaults."""
    flows = state.get("flows", {})
    if isinstance(flows, str):
        names = state.get("flow_fields", FLOW_FIELDS)
        known = [i for i, name in enumerate(names) if name in _KNOWN]
        rows = json.loads(flows)  # fresh objects: nothing shared with the caller
        return {key: Flow(**{names[i]: row[i] for i in known}) for key, row in rows.items()}
    return {key: Flow(**json.loads(json.dumps(value))) for key, value in flows.items()}


def _flow_text(key: str, flow: Flow) -> str:
    """A flow's entry in the stored ``flows`` text."""
    return f"{json.dumps(key)}:{json.dumps([getattr(flow, name) for name in FLOW_FIELDS])}"


_KNOWN = frozenset(FLOW_FIELDS)


def _meta_state(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in meta.items() if v}
    for k in ("seen", "tail"):
        if k in out:
            out[k] = list(out[k])
    if "use" in out:
        out["use"] = {c: list(v) for c, v in out["use"].items()}
    if "syncs" in out:
        out["syncs"] = [list(run) for run in out["syncs"]]
    return out


def _lane_meta(saved: dict[str, Any]) -> dict[str, Any]:
    return {
        "granted": saved.get("granted", 0),
        "waits": saved.get("waits", 0),
        "throttled": saved.get("throttled", 0),
        "seen": list(saved.get("seen", [])),
        "tail": saved.get("tail"),
        "blind": saved.get("blind", 0),
        "use": {c: list(v) for c, v in saved.get("use", {}).items()},
        "syncs": [list(run) for run in saved.get("syncs", [])],
    }


def _first_time(meta: dict[str, Any], op_id: str) -> bool:
    if op_id in meta["seen"]:
        return False
    meta["seen"] = [*meta["seen"], op_id][-SEEN_IDS:]
    return True


def _times(answer: dict[str, Any]) -> list[int]:
    return [answer["t0"] + d * MS for d in answer.get("d", [])]


def _answer(answer: dict[str, Any], base: dict[str, Any], lane_name: str, lane: Lane):
    # forfeited times went under "x" too until they got their own key ("fx"): an answer
    # stored then and asked again (a repeated acquire) failed to validate
    refused = answer.get("x")
    times = _times(answer)
    return AcquireAnswer(
        **base,
        lane=lane_name,
        granted=len(times),
        times=[_format(t) for t in times],
        cost=answer.get("c", 1),
        lease_s=lane.spec.lease_s,
        retry_at=_dt(answer.get("r")),
        waiting_for=answer.get("w"),
        refused=refused if isinstance(refused, str) else None,
        reason=answer.get("m"),
        fair_share=answer.get("f"),
        spacing_s=lane.steady_us(answer.get("c", 1)) / 1e6,
        demo_remaining=answer.get("dl"),
    )


def _dt(t_us: int | None) -> datetime | None:
    return _format(t_us) if t_us else None


__all__ = ["Scheduler"]
