"""The block orchestrator's side of the ambassador protocol: batches of permits.

``Permits`` keeps the batch the ambassador granted for the current (route, cost) and
hands its usable times to the fetch activity, which spends them in order (``spend``);
responses' limit feedback goes back in one ``observe_many`` signal per run. Its methods
are generators for ``yield from`` inside an orchestrator: they only call the entity and
create durable timers, so they replay
deterministically (times come from ``context.current_utc_datetime``, ids from
``context.new_uuid()``). A permit is used at its time, never after its lease; a batch
left over (route change, 429, end of execution) is released.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import azure.durable_functions as df

from shared.ambassador.protocol import (
    PER_APPLICATION,
    AcquireAnswer,
    AcquireRequest,
    CompleteRequest,
    ObserveRequest,
    ReleaseRequest,
    entity_key,
)
from shared.flows.models import BlockSpec, Observation
from shared.platforms.base import PageRequest

ENTITY_NAME = "ambassador"
BATCH = 20
WAITS_PER_BATCH = 4
FIRST_ASK = 1  # before any answer: one permit (its answer's spacing_s teaches the lane's)
DEFAULT_PACE_S = 0.3
PACE_WEIGHT = 0.3
SLOW_RESPONSE = 1.7  # a response may take this many times the mean (Etsy: 80-400 ms)
MIN_WAIT = timedelta(milliseconds=10)


def ambassador_of(spec: BlockSpec) -> df.EntityId:
    account = None if spec.platform in PER_APPLICATION else spec.account
    return df.EntityId(ENTITY_NAME, entity_key(spec.platform, account))


def _spacing(times: list[datetime], steady_s: float | None) -> float | None:
    """The lane's spacing an answer shows: its ``spacing_s`` (the lane's steady spacing),
    or the batch's closest two permits where they lie closer (a burst); the batch's alone
    for an answer without ``spacing_s``; None if neither tells."""
    seen = None
    if len(times) > 1:  # others' permits may lie between two of ours: the closest two
        seen = min((b - a).total_seconds() for a, b in pairwise(times))
    if steady_s is None:
        return seen
    return steady_s if seen is None else min(seen, steady_s)


class Refused(Exception):
    """The ambassador refused for good (demo cap, unknown route, cost too high)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Permits:
    """How many to ask for: a block's chain is sequential, so it can use a batch's permits
    only as fast as its responses come back. A batch is planned back to back at the
    lane's spacing ``s`` (the closer of the lane's steady spacing, ``spacing_s`` of the
    answer, and the closest two permits of the batch: a burst grants several at one
    instant, and other callers' permits may lie between two of ours); with a response
    time ``L`` (``pace``, learned from the run's observations) the ``k``-th permit is
    used ``k (L - s)`` late, and a permit past its lease is lost capacity. So a lane
    slower than the chain (``s >= L``: Amazon's item calls) gets ``BATCH``; a faster
    one (Etsy's 10/s) gets ``1 + lease / (L' - s)``, with ``L'`` a slow response
    (``SLOW_RESPONSE`` times the mean): the other blocks on the lane use the slots in
    between. A lost permit is worst on a daily quota, which counts it for the whole day
    (measured on Etsy's: 30 % of the permits granted expired unsent when the second of
    two was planned at the mean response time)."""

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        spec: BlockSpec,
        pace: dict[str, float] | None = None,
    ) -> None:
        self.context = context
        self.spec = spec
        self.entity = ambassador_of(spec)
        self.pace = pace if pace is not None else {}  # route -> response time (s), EWMA
        self.spacing: dict[str, float] = {}  # route -> the last batch's closest spacing (s)
        self.key: tuple[str, int] | None = None
        self.grant_id: str | None = None
        self.lease = timedelta(0)
        self.times: list[datetime] = []
        self.waits = 0

    def _now(self) -> datetime:
        return self.context.current_utc_datetime

    def _id(self) -> str:
        return str(self.context.new_uuid())

    def batch(self, request: PageRequest):
        """Generator: wait as the ambassador says; returns the batch's permit times still
        usable for ``request`` (the first may lie in the future); none after
        ``WAITS_PER_BATCH`` waits in vain. Times of the batch past their lease are
        forfeited (``forfeit``), never dropped silently."""
        waited = 0
        while True:
            now = self._now()
            if self.key == (request.route, request.cost):
                expired = [at for at in self.times if at + self.lease <= now and at < now]
                if expired:  # past their lease unsent: a day quota counted them
                    self.forfeit(expired)
                    self.times = [at for at in self.times if at not in expired]
                if self.times:
                    return list(self.times)
            else:
                self.release()
            answer = AcquireAnswer.model_validate(
                (
                    yield self.context.call_entity(
                        self.entity, "acquire", self._acquire(request, now)
                    )
                )
            )
            self.key, self.grant_id = (request.route, request.cost), answer.request_id
            self.lease, self.times = timedelta(seconds=answer.lease_s), list(answer.times)
            spacing = _spacing(self.times, answer.spacing_s)
            if spacing is not None:
                self.spacing[request.route] = spacing
            if answer.refused:
                raise Refused(answer.refused, answer.reason or answer.refused)
            if not self.times:
                self.waits += 1
                retry = answer.retry_at or now + timedelta(seconds=1)
                yield self.context.create_timer(max(retry, now + MIN_WAIT))
                waited += 1
                if waited >= WAITS_PER_BATCH:
                    return []  # the caller counts a turn: its history must not grow unbounded

    def spend(self, used: int) -> None:
        """The first ``used`` times of the batch were used (or expired)."""
        self.times = self.times[used:]

    def want(self, route: str) -> int:
        """Permits to ask for on ``route`` (see the class docstring)."""
        spacing = self.spacing.get(route)
        if spacing is None:  # nothing learned yet: the first answer's spacing_s teaches it
            return FIRST_ASK
        latency = self.pace.get(route, DEFAULT_PACE_S)
        if spacing >= latency:
            return BATCH
        lease = max(self.lease.total_seconds(), 0.0)
        late = SLOW_RESPONSE * latency - spacing  # > 0: spacing < latency
        return max(1, min(BATCH, 1 + int(lease / late)))

    def asks(self, request: PageRequest) -> int:
        """Permits to ask for before ``request``: ``want``, but no more than the chain
        surely uses on the route (``calls_ahead``): a permit left over when a block ends
        or changes route is handed back late, and the lane idles until then (Amazon's
        reports, one call per step: 4-10 s a block)."""
        want = self.want(request.route)
        if request.calls_ahead:
            want = max(1, min(want, request.calls_ahead))
        return want

    def _acquire(self, request: PageRequest, now: datetime) -> dict[str, Any]:
        return AcquireRequest(
            caller=self.context.instance_id,
            request_id=self._id(),
            route=request.route,
            client=self.spec.client,
            tier=self.spec.tier,
            resource=self.spec.resource,
            want=self.asks(request),
            cost=request.cost,
            now=now,
        ).model_dump(mode="json")

    def observe(self, observations: list[Observation]) -> None:
        """Feed a run's responses back to the ambassador: one signal (fire and forget)."""
        if not observations:
            return
        messages = []
        for seen in observations:
            took = max(0.0, (seen.at - seen.request_at).total_seconds())
            before = self.pace.get(seen.route)
            self.pace[seen.route] = (
                took if before is None else before + PACE_WEIGHT * (took - before)
            )
            fields = {k: v for k, v in seen.feedback.items() if v is not None or k == "readings"}
            message = ObserveRequest(
                caller=self.context.instance_id,
                request_id=self._id(),
                route=seen.route,
                now=seen.at,
                request_at=seen.request_at,
                charged=seen.charged,
                **fields,
            )
            messages.append(message.model_dump(mode="json"))
        self.context.signal_entity(self.entity, "observe_many", {"observations": messages})
        refunded = any(
            (seen.feedback.get("actual") or seen.charged) < seen.charged for seen in observations
        )
        if refunded:  # the platform charged less than the permits planned: the lane has room
            self.release()  # sooner than the batch's later times, so ask again

    def forfeit(self, expired: list[datetime]) -> None:
        """Tell the ambassador which permits of the batch expired unsent (fire and
        forget): a daily quota counted each for the whole day (Etsy's sliding day: most
        of what the platform never saw of the ambassador's grants)."""
        if not expired or self.key is None or self.grant_id is None:
            return
        message = ReleaseRequest(
            caller=self.context.instance_id,
            request_id=self._id(),
            route=self.key[0],
            grant_id=self.grant_id,
            unused=0,
            now=self._now(),
            expired=expired,
        )
        self.context.signal_entity(self.entity, "release", message.model_dump(mode="json"))

    def release(self) -> None:
        """Give back the batch's unused permits (fire and forget)."""
        if self.times and self.key is not None and self.grant_id is not None:
            message = ReleaseRequest(
                caller=self.context.instance_id,
                request_id=self._id(),
                route=self.key[0],
                grant_id=self.grant_id,
                unused=len(self.times),
                now=self._now(),
            )
            self.context.signal_entity(self.entity, "release", message.model_dump(mode="json"))
        self.times = []

    def complete(self) -> None:
        self.release()
        message = CompleteRequest(caller=self.context.instance_id, now=self._now())
        self.context.signal_entity(self.entity, "complete", message.model_dump(mode="json"))
