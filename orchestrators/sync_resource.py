"""One resource of one account: plan, then load its blocks in waves of sub-orchestrations.

The plan comes from ``plan_resource`` (pure planner + ledger: done blocks are skipped).
A backfill not planned yet is planned in two steps, so block sizes follow the density
actually observed: the recent-day block is planned and loaded first (phase
``measuring``), then the rest is planned with the records per day it held (stage
``rest``); a stored plan is used as it is. Blocks run as ``load_block`` sub-
orchestrations, ``IN_FLIGHT`` at a time (they share one ambassador lane, so more in
parallel would only queue there): as soon as one ends the next starts, so a slow block
does not hold the lane's other slots idle. On a platform whose lanes belong to the
application (``PER_APPLICATION``: eBay, Etsy) it is ``IN_FLIGHT_SHARED``: every client's
resources share those lanes, and the ambassador splits a lane between clients, then
between a client's resources, then between a resource's flows, so a resource's blocks
in flight only divide its share among more waiting flows; each waiting flow asks again
and again (an entity call, a durable timer and a replay each time: at 20 clients on
Etsy's lane, ten asks per request made). After ``STARTS_PER_EXECUTION`` blocks (and
their end) the orchestration continues as new with the rest, so its history stays
short however long the plan. A block that fails is reported, never fails the resource.
``plan_resource`` is idempotent (a stored plan is reused, existing ledger rows are left
alone), so a planning call that fails — storage dropping a connection under load — is
retried by the host (``PLAN_RETRY``) instead of failing the resource's whole run.

Input: ``ResourceRun`` plus, after the first wave, ``queue`` and ``tally``.
Output / custom status: ``{"phase", "blocks_total", "blocks_done", "parked",
"records", "capped"}``.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities import plan_resource
from orchestrators import load_block
from shared.ambassador.protocol import PER_APPLICATION
from shared.flows.models import BlockRun, BlockSpec, PlanInput, ResourceRun

bp = df.Blueprint()
NAME = "sync_resource"
IN_FLIGHT = 4
IN_FLIGHT_SHARED = 2  # one block's chain runs at ~1/latency: two keep a client's share busy
STARTS_PER_EXECUTION = 24
PLAN_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=6)


def _tally(total: int = 0, done: int = 0) -> dict:
    return {"blocks_total": total, "blocks_done": done, "parked": 0, "capped": 0, "records": 0}


def _count(tally: dict, outcomes: list, *, done: bool = True) -> None:
    """Add a wave's outcomes to the tally (``done=False``: the blocks done are in the
    tally already, as a new plan counted them)."""
    for outcome in outcomes:
        state = (outcome or {}).get("state")
        if state in ("done", "skipped"):
            tally["blocks_done"] += 1 if done else 0
            tally["records"] += (outcome or {}).get("records", 0)
        elif state == "parked":
            tally["parked"] += 1
        elif state == "capped":
            tally["capped"] += 1
            tally["records"] += (outcome or {}).get("records", 0)


def _start(context: df.DurableOrchestrationContext, item: dict):
    spec = BlockSpec.model_validate(item)
    child = f"{context.instance_id}|{spec.block_id}"
    return context.call_sub_orchestrator(
        load_block.NAME, BlockRun(spec=spec).model_dump(mode="json"), child
    )


def in_flight(platform: str) -> int:
    """How many of a resource's blocks run at once on ``platform``."""
    return IN_FLIGHT_SHARED if platform in PER_APPLICATION else IN_FLIGHT


def _load(context: df.DurableOrchestrationContext, items: list, slots: int):
    """Generator: ``items``' blocks as sub-orchestrations, ``slots`` at a time, the
    next started as soon as one ends; their outcomes (None for a block orchestration
    that crashed: it counts as not done)."""
    queue, running, outcomes = list(items), [], []
    while queue or running:
        while queue and len(running) < slots:
            running.append(_start(context, queue.pop(0)))
        ended = yield context.task_any(running)  # a crashed child ends it too, no raise
        running.remove(ended)
        outcomes.append(None if isinstance(ended.result, Exception) else ended.result)
    return outcomes


def _plan(context: df.DurableOrchestrationContext, run: ResourceRun):
    """Generator: (queue, tally) of the run's plan, the recent day loaded first when the
    backfill is planned now."""
    context.set_custom_status({"phase": "planning", **_tally()})
    first = yield context.call_activity_with_retry(
        plan_resource.NAME, PLAN_RETRY, PlanInput(run=run, stage="recent").model_dump(mode="json")
    )
    if first.get("final", True):
        return first["blocks"], _tally(first["total"], first["done"])
    context.set_custom_status({"phase": "measuring", **_tally(first["total"], first["done"])})
    recent = first["blocks"]
    outcomes = (yield from _load(context, recent, in_flight(run.platform))) if recent else []
    loaded = [item["block_id"] for item in recent]
    rest = yield context.call_activity_with_retry(
        plan_resource.NAME,
        PLAN_RETRY,
        PlanInput(run=run, stage="rest", loaded=loaded).model_dump(mode="json"),
    )
    tally = _tally(rest["total"], rest["done"])
    _count(tally, outcomes, done=False)
    return rest["blocks"], tally


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def sync_resource(context: df.DurableOrchestrationContext):
    given = context.get_input()
    run = ResourceRun.model_validate(given["run"])
    queue, tally = given.get("queue"), given.get("tally")
    if queue is None:
        queue, tally = yield from _plan(context, run)
    context.set_custom_status({"phase": "loading", **tally})
    batch, rest = queue[:STARTS_PER_EXECUTION], queue[STARTS_PER_EXECUTION:]
    if batch:
        _count(tally, (yield from _load(context, batch, in_flight(run.platform))))
    if rest:
        context.continue_as_new({"run": given["run"], "queue": rest, "tally": tally})
        return None
    finished = {"phase": "done", **tally}
    context.set_custom_status(finished)
    return {"platform": run.platform, "resource": run.resource, **finished}
