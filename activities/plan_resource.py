"""Plan one resource of one account for a run; returns the blocks still to load.

Backfill (and the first daily run of an account whose backfill never finished): the
pure planner cuts ``[history_start, now)``; the plan is stored once (``FlowStore``) and
its blocks inserted in the ledger, so a resumed run loads the same blocks. Daily: one
block ``daily_window(watermark, now, overlap)`` once the watermark exists. Every run
also picks up the backfill blocks not done yet; a parked block gets a successor
(``<block_id>~<n>``) so the next run retries it. Done blocks are skipped.

Output: ``{"blocks": [BlockSpec…], "total": n, "done": n}`` (plain JSON).
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from shared.flows.chains import BULK_HISTORY, daily_overlap
from shared.flows.models import BlockSpec, PlanInput, ResourceRun
from shared.flows.store import FlowStore
from shared.planning import PlannedBlock, daily_window, plan_blocks
from shared.planning import block_id as make_block_id
from shared.settings import get_settings
from shared.storage.blocks import Block, BlockState
from shared.storage.ledger import Ledger

bp = df.Blueprint()
NAME = "plan_resource"
DEFAULT_HISTORY = timedelta(days=3 * 365)
DEMO_HISTORY = timedelta(days=30)
GENERATION = "~"


def _base(block_id: str) -> tuple[str, int]:
    base, _, gen = block_id.partition(GENERATION)
    return base, int(gen) if gen.isdigit() else 1


def _latest(blocks: list[Block]) -> dict[str, Block]:
    """Base block id -> its latest generation in the ledger."""
    latest: dict[str, tuple[int, Block]] = {}
    for block in blocks:
        base, gen = _base(block.block_id)
        if base not in latest or latest[base][0] < gen:
            latest[base] = (gen, block)
    return {base: block for base, (_, block) in latest.items()}


def _row(run: ResourceRun, block_id: str, window, now) -> Block:
    return Block(
        client=run.client,
        platform=run.platform,
        account=run.account,
        resource=run.resource,
        block_id=block_id,
        window_start=window.start,
        window_end=window.end,
        created_at=now,
        updated_at=now,
    )


def _spec(run: ResourceRun, block_id: str, planned: PlannedBlock, **extra) -> BlockSpec:
    return BlockSpec(
        client=run.client,
        platform=run.platform,
        account=run.account,
        resource=run.resource,
        block_id=block_id,
        window=planned.window,
        tier=run.tier,
        phase=planned.phase,
        bulk=planned.bulk,
        **extra,
    )


async def _backfill_plan(run: ResourceRun, ledger: Ledger, store: FlowStore):
    plan = await store.get_plan(run.client, run.platform, run.account, run.resource)
    if plan is not None:
        return plan
    if run.tier == "demo":
        plan = plan_blocks(run.resource, run.now - DEMO_HISTORY, run.now)
    else:
        start = run.history_start or run.now - DEFAULT_HISTORY
        bulk = (run.platform, run.resource) in BULK_HISTORY
        plan = plan_blocks(run.resource, start, run.now, bulk=bulk)
    await ledger.plan_blocks(_row(run, b.block_id, b.window, run.now) for b in plan)
    await store.save_plan(run.client, run.platform, run.account, run.resource, plan, run.now)
    return plan


@bp.activity_trigger(input_name="payload", activity=NAME)
async def plan_resource(payload: dict) -> dict:
    run = PlanInput.model_validate(payload).run
    settings = get_settings()
    ledger, store = Ledger(settings), FlowStore(settings)
    watermark = None
    if run.tier == "daily":
        watermark = await ledger.get_watermark(run.client, run.platform, run.account, run.resource)
    if watermark is None:
        planned = await _backfill_plan(run, ledger, store)
    else:  # a daily run after the backfill: finish what the backfill left, plan nothing new
        stored = await store.get_plan(run.client, run.platform, run.account, run.resource)
        planned = stored or []
    existing = await ledger.list_blocks(run.client, run.platform, run.account)
    latest = _latest([b for b in existing if b.resource == run.resource])
    todo: list[BlockSpec] = []
    done = 0
    for block in planned:
        current = latest.get(block.block_id)
        block_id = block.block_id if current is None else current.block_id
        if current is not None and current.state == BlockState.DONE:
            done += 1
            continue
        if current is not None and current.state == BlockState.PARKED:
            _, gen = _base(current.block_id)
            block_id = f"{block.block_id}{GENERATION}{gen + 1}"
            await ledger.plan_blocks([_row(run, block_id, block.window, run.now)])
        todo.append(_spec(run, block_id, block, advances_watermark=block.order == 0))
    total = len(planned)
    if watermark is not None:
        overlap = daily_overlap(run.resource)
        window = daily_window(min(watermark.value, run.now), run.now, overlap)
        daily_id = "daily." + make_block_id(run.resource, window)
        await ledger.plan_blocks([_row(run, daily_id, window, run.now)])
        current = await ledger.list_blocks(run.client, run.platform, run.account)
        state = next((b.state for b in current if b.block_id == daily_id), None)
        total += 1
        if state == BlockState.DONE:
            done += 1
        else:
            daily = PlannedBlock(
                block_id=daily_id, resource=run.resource, window=window, phase="recent_day", order=0
            )
            todo.insert(0, _spec(run, daily_id, daily, advances_watermark=True))
    return {
        "blocks": [b.model_dump(mode="json") for b in todo],
        "total": total,
        "done": done,
    }
