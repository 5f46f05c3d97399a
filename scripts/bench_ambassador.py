"""The ambassador at many flows: CPU per operation on one application-wide lane.

    .venv/bin/python -m scripts.bench_ambassador [--flows 10 50 250 1000] [--ops 1000]

Drives the real ``Scheduler`` on Etsy's lane (10 calls per fixed second and a
sliding day of ``--qpd`` calls with its reserve) with N backfill flows: N / 12 clients,
each with 2 blocks of each of Etsy's resources in flight (``sync_resource.IN_FLIGHT_SHARED``:
an application-wide lane's resource runs 2 blocks at once, other lanes' 4).
Each block asks for ``--batch`` permits, sleeps until its last permit (plus a round
trip) or until ``retry_at``, reports what every response said (``observe_many`` with the
day's remaining count) and, its backlog done, completes and is replaced by a new block,
so the lane always holds N live flows. Operations arriving within ``--gather`` ms of
virtual time form one entity batch (at most 50, as devhost batches them).

Two passes over the same seeded schedule: *direct* calls ``Scheduler.acquire`` on one
kept scheduler (µs per acquire); *entity* runs each batch through the entity function as
devhost does (the SDK's ``Entity.handle``, the state's JSON text in and out: µs per
batch and per operation, and the stored state's size). Both passes first warm up
(``2 N`` acquires: every flow registered), then measure ``--ops`` acquires or
``--max-s`` seconds, whichever ends first. Figures are CPU (process time). Each pass
prints a digest of its first ``2 N + ops`` answers: equal digests, equal decisions (the
two passes agree, and a change that is only meant to be faster must not change them).
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from devhost.indexing import index_app
from entities import ambassador
from orchestrators.sync_resource import IN_FLIGHT_SHARED
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import (
    AcquireAnswer,
    AcquireRequest,
    CompleteRequest,
    ObserveMany,
    ObserveRequest,
    Reading,
)
from shared.ambassador.scheduler import Scheduler

START = datetime(2026, 9, 21, 6, 0, tzinfo=UTC)  # well after Etsy's release hour
RESOURCES = ("orders", "order_items", "transactions", "payouts", "returns", "inventory")
PER_CLIENT = len(RESOURCES) * IN_FLIGHT_SHARED  # a client's live Etsy blocks (12)
ROUND_TRIP = timedelta(milliseconds=400)  # an answer's permits run out -> the next ask
RESPONSE = timedelta(milliseconds=300)  # a permit's time -> its response observed
MAX_BATCH = 50  # devhost's max_entity_batch


@dataclass
class Block:
    caller: str
    client: str
    resource: str
    backlog: int
    asks: int = 0
    sent: list[datetime] = field(default_factory=list)  # the last grant's permit times


@dataclass
class Sim:
    """A seeded schedule of block operations on Etsy's lane (no randomness: the order is
    fixed by time, then by arrival)."""

    flows: int
    batch: int
    backlog: int
    qpd: int
    blocks: list[Block] = field(default_factory=list)
    queue: list[tuple[datetime, int, str, int, Block]] = field(default_factory=list)
    seq: int = 0
    born: int = 0
    granted_total: int = 0

    def __post_init__(self) -> None:
        clients = max(1, self.flows // PER_CLIENT)
        for i in range(self.flows):
            client, resource = f"c{i % clients:03d}", RESOURCES[(i // clients) % len(RESOURCES)]
            self.blocks.append(Block(self._caller(), client, resource, self.backlog))
            self.push(START + timedelta(milliseconds=7 * i), "acquire", i)

    def _caller(self) -> str:
        self.born += 1
        return f"block-{self.born:05d}"

    def push(self, at: datetime, kind: str, index: int) -> None:
        """Queue the operation of the block now at ``index`` (it may be replaced first)."""
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, index, self.blocks[index]))

    def next_batch(self, gather_ms: int) -> list[tuple[str, dict[str, Any], int]]:
        """The next entity batch: operations due within ``gather_ms`` of the first."""
        first = self.queue[0][0]
        out = []
        while self.queue and len(out) < MAX_BATCH:
            at, _, kind, index, block = self.queue[0]
            if at > first + timedelta(milliseconds=gather_ms):
                break
            heapq.heappop(self.queue)
            out.append((kind, self.request(kind, block, at), index))
        return out

    def request(self, kind: str, block: Block, at: datetime) -> dict[str, Any]:
        if kind == "acquire":
            block.asks += 1
            return AcquireRequest(
                caller=block.caller,
                request_id=f"{block.caller}/{block.asks}",
                route="api",
                client=block.client,
                tier="backfill",
                resource=block.resource,
                want=self.batch,
                backlog=block.backlog,
                now=at,
            ).model_dump(mode="json")
        if kind == "complete":
            return CompleteRequest(caller=block.caller, route="api", now=at).model_dump(mode="json")
        remaining = max(0, self.qpd - self.granted_total)  # never below our own use
        return ObserveMany(  # one per response of the run, as fetch_pages reports them
            observations=[
                ObserveRequest(
                    caller=block.caller,
                    request_id=f"{block.caller}/{block.asks}/o{i}",
                    route="api",
                    now=at,
                    request_at=sent,
                    readings=[Reading(limit="qpd", remaining=remaining)],
                )
                for i, sent in enumerate(block.sent)
            ]
        ).model_dump(mode="json")

    def answered(self, kind: str, index: int, at: datetime, answer: dict[str, Any]) -> bool:
        """Schedule what the block does next; True if it was an acquire."""
        if kind != "acquire":
            return False
        grant = AcquireAnswer.model_validate(answer)
        block = self.blocks[index]
        if grant.granted:
            self.granted_total += grant.granted
            block.backlog -= grant.granted
            last = grant.times[-1]
            block.sent = list(grant.times)
            self.push(last + RESPONSE, "observe_many", index)
            if block.backlog <= 0:
                self.push(last + RESPONSE, "complete", index)
                fresh = Block(self._caller(), block.client, block.resource, self.backlog)
                self.blocks[index] = fresh  # its first ask comes after the old one's end
                self.push(last + ROUND_TRIP + RESPONSE, "acquire", index)
            else:
                self.push(max(at, last) + ROUND_TRIP, "acquire", index)
        else:
            assert grant.retry_at is not None, grant
            self.push(max(grant.retry_at, at + timedelta(milliseconds=1)), "acquire", index)
        return True


def _at(request: dict[str, Any]) -> datetime:
    now = request.get("now") or request["observations"][0]["now"]
    return datetime.fromisoformat(now)


def direct(args: argparse.Namespace, flows: int) -> dict[str, Any]:
    """µs of CPU per ``Scheduler.acquire`` on one kept scheduler."""
    sim = Sim(flows, args.batch, args.backlog, args.qpd)
    scheduler = Scheduler(PlatformPolicy.from_settings("etsy", {"qpd": args.qpd}))
    run = {
        "acquire": (AcquireRequest, scheduler.acquire),
        "observe_many": (
            ObserveMany,
            lambda r: [scheduler.observe(o) for o in r.observations],
        ),
        "complete": (CompleteRequest, scheduler.complete),
    }
    acquires, spent, started = 0, 0.0, time.process_time()
    warm, granted, since = 2 * flows, 0, START
    digest = hashlib.sha256()  # of every answer: equal digests, equal decisions
    while acquires < warm + args.ops and time.process_time() - started < args.max_s:
        for kind, request, index in sim.next_batch(args.gather):
            model, op = run[kind]
            parsed = model.model_validate(request)
            t0 = time.process_time()
            answer = op(parsed)
            took = time.process_time() - t0
            if kind == "acquire":
                acquires += 1
                if acquires == warm:
                    granted, since = sim.granted_total, _at(request)
                if acquires > warm:
                    spent += took
                dumped = answer.model_dump(mode="json")
                if acquires <= warm + args.ops:
                    digest.update(json.dumps(dumped, sort_keys=True).encode())
                sim.answered(kind, index, _at(request), dumped)
                until = _at(request)
    measured = max(0, acquires - warm)
    span = (until - since).total_seconds()
    return {
        "acquires": measured,
        "us_per_acquire": round(spent / measured * 1e6, 1) if measured else None,
        "flows_registered": len(scheduler.flows),
        # permits granted while measured over what 10/s allows in that virtual time
        "virtual_s": round(span, 1),
        "lane_use": round((sim.granted_total - granted) / (10 * span), 3) if span else None,
        "answers_sha": digest.hexdigest()[:12],
    }


def entity(args: argparse.Namespace, flows: int) -> dict[str, Any]:
    """µs of CPU per entity batch through the SDK with the state's JSON round trip."""
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(ambassador.bp)
    handle = index_app(app).entities[ambassador.NAME]
    sim = Sim(flows, args.batch, args.backlog, args.qpd)
    state: str | None = None
    acquires = batches = ops = 0
    digest = hashlib.sha256()  # as the direct pass's: the same answers, the same digest
    spent, started, warm = 0.0, time.process_time(), 2 * flows
    while acquires < warm + args.ops and time.process_time() - started < args.max_s:
        batch = sim.next_batch(args.gather)
        payload = json.dumps(
            {
                "self": {"name": ambassador.NAME, "key": "etsy"},
                "exists": state is not None,
                "state": state,
                "batch": [
                    {"name": kind, "input": json.dumps(json.dumps(req)), "isSignal": False}
                    for kind, req, _ in batch
                ],
            }
        )
        t0 = time.process_time()
        reply = json.loads(handle(payload))
        took = time.process_time() - t0
        state = reply["entityState"]
        measuring = acquires >= warm
        for (kind, request, index), result in zip(batch, reply["results"], strict=True):
            assert not result["isError"], result
            answer = json.loads(result["result"])
            if kind == "acquire" and acquires < warm + args.ops:
                digest.update(json.dumps(answer, sort_keys=True).encode())
            acquires += sim.answered(kind, index, _at(request), answer)
        if measuring:
            spent, batches, ops = spent + took, batches + 1, ops + len(batch)
    return {
        "batches": batches,
        "ops_per_batch": round(ops / batches, 1) if batches else None,
        "us_per_batch": round(spent / batches * 1e6, 1) if batches else None,
        "us_per_op": round(spent / ops * 1e6, 1) if ops else None,
        "state_bytes": len(state or ""),
        "entity_answers_sha": digest.hexdigest()[:12],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, nargs="+", default=[10, 50, 250, 1000])
    parser.add_argument("--ops", type=int, default=1000, help="acquires measured per pass")
    parser.add_argument("--max-s", type=float, default=90.0, help="CPU seconds per pass")
    parser.add_argument("--batch", type=int, default=10, help="permits a block asks for")
    parser.add_argument("--backlog", type=int, default=60, help="requests per block")
    parser.add_argument("--qpd", type=int, default=10_000, help="Etsy's calls per day")
    parser.add_argument("--gather", type=int, default=100, help="ms of ops per batch")
    parser.add_argument("--only", choices=["direct", "entity"], default=None)
    args = parser.parse_args()
    for n in args.flows:
        row: dict[str, Any] = {"flows": n}
        if args.only != "entity":
            row |= direct(args, n)
        if args.only != "direct":
            row |= entity(args, n)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
