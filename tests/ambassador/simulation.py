"""A discrete-event driver for the scheduler: callers that behave as the protocol asks.

Each caller asks for a batch, uses every permit at its time (plus a lateness inside its
lease), and asks again after its last permit plus a round-trip latency — or, granted
nothing, at ``retry_at`` plus that latency. A *pipelined* caller hides its round trip: it
sends its next ask ``latency`` before its last permit, so the answer is back when that
permit is used (a caller that does not, offers at most one batch per latency). The
scheduler's state goes through JSON between operations, as it does in the entity.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.ambassador.limits import US, format_time, parse_time
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import AcquireAnswer, AcquireRequest
from shared.ambassador.scheduler import Scheduler

START = 1_790_000_000 * US  # 2026-09-21T14:13:20Z


@dataclass
class Caller:
    name: str
    client: str = "c"
    tier: str = "daily"
    resource: str = "orders"
    want: int = 20
    backlog: int = 10**9
    route: str = "api"
    cost: int = 1
    latency_s: float = 0.0
    start_s: float = 0.0
    pipelined: bool = False
    asks: int = 0


@dataclass
class Use:
    caller: str
    permit: int  # µs, the permit's time
    at: int  # µs, when the request reaches the platform
    units: int


@dataclass
class Run:
    uses: list[Use] = field(default_factory=list)
    log: list[tuple[int, Caller, AcquireRequest, AcquireAnswer]] = field(default_factory=list)
    state: dict | None = None

    def count(self, lo_s: float, hi_s: float, key: Callable[[Use], str]) -> dict[str, int]:
        lo, hi = START + round(lo_s * US), START + round(hi_s * US)
        out: dict[str, int] = {}
        for use in self.uses:
            if lo <= use.permit < hi:
                out[key(use)] = out.get(key(use), 0) + 1
        return out


def simulate(
    policy: PlatformPolicy,
    callers: list[Caller],
    duration_s: float,
    *,
    seed: int = 0,
    lateness: Callable[[random.Random, float], float] | None = None,
    on_answer: Callable[[int, Caller, AcquireRequest, AcquireAnswer, Scheduler], None]
    | None = None,
) -> Run:
    """Run the callers for ``duration_s`` virtual seconds from ``START``."""
    rng = random.Random(seed)
    run = Run()
    queue: list[tuple[int, int, Caller]] = []
    seq = itertools.count()
    for c in callers:
        heapq.heappush(queue, (START + round(c.start_s * US), next(seq), c))
    end = START + round(duration_s * US)
    while queue:
        now, _, c = heapq.heappop(queue)
        if now > end or c.backlog <= 0:
            continue
        scheduler = Scheduler(policy, run.state)
        c.asks += 1
        req = AcquireRequest(
            caller=c.name,
            request_id=f"{c.name}-{c.asks}",
            route=c.route,
            client=c.client,
            tier=c.tier,
            resource=c.resource,
            want=min(c.want, c.backlog),
            cost=c.cost,
            backlog=c.backlog,
            now=format_time(now),
        )
        answer = scheduler.acquire(req)
        run.state = json.loads(json.dumps(scheduler.to_state()))
        run.log.append((now, c, req, answer))
        if on_answer is not None:
            on_answer(now, c, req, answer, scheduler)
        times = [parse_time(t) for t in answer.times]
        for t in times:
            late = lateness(rng, answer.lease_s) if lateness else 0.0
            run.uses.append(Use(c.name, t, t + round(late * US), answer.cost))
        c.backlog -= len(times)
        if answer.refused:
            continue
        delay = round(c.latency_s * US)
        if times:
            at = max(now + delay, times[-1]) if c.pipelined else max(now, times[-1]) + delay
        else:
            at = max(now, parse_time(answer.retry_at)) + delay
        heapq.heappush(queue, (at, next(seq), c))
    return run
