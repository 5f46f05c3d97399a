"""Plan one resource of one account for a run; returns the blocks still to load.

Backfill (and the first daily run of an account whose backfill never finished): the
pure planner cuts ``[history_start, now)``, with the bulk path for history where the
platform has one (``shared.flows.chains.BULK_PATHS``). Block sizes follow the density
observed, in two stages (``PlanInput.stage``):

``recent``  the planner's recent-day block (it depends on the resource and ``now``
            only) goes into the ledger and is kept as a *provisional plan* (FlowStore
            row ``<resource>~recent``); it is handed out alone, to be loaded first.
``rest``    the records per day it held (``observed_density`` of its verified ledger
            row; the default density if it was not loaded) size the full plan, made at
            the provisional plan's ``now`` so the recent-day block keeps its id.

The full plan is stored once (``FlowStore``) and its blocks inserted in the ledger, so
a resumed run loads the same blocks; a run resumed between the stages finds the
provisional plan and measures on its block. Stage ``full``, demo runs, snapshots, a
history no longer than the recent day, resources whose recent day is a bulk job too
(``shared.flows.chains.ONLY_BULK``) and those whose recent day waits (``UNMEASURED``)
plan at once (default density).

Daily: one block ``daily_window(watermark, now, overlap)`` once the watermark exists.
Every run also picks up the backfill blocks not done yet; a parked block gets a
successor (``<block_id>~<n>``, ``shared.flows.generations``) so the next run retries
it — except a block this run loaded already (``PlanInput.loaded``). Done blocks are
skipped. A plan's blocks (successors too) load as the plan has them, whatever run
loads them: tier ``backfill`` (a daily run's tier is its daily block's only), the
plan's bulk path and phase.

Output: ``{"blocks": [BlockSpec…], "total": n, "done": n, "final": bool}`` (plain
JSON); ``final`` is False for the recent stage's provisional answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import azure.durable_functions as df

from shared.flows.chains import BULK_PATHS, ONLY_BULK, daily_overlap
from shared.flows.generations import DAILY, latest, plan_tier, successor_id
from shared.flows.models import BlockSpec, PlanInput, ResourceRun, Tier
from shared.flows.store import FlowStore
from shared.planning import PlannedBlock, daily_window, observed_density, plan_blocks
from shared.planning import block_id as make_block_id
from shared.settings import get_settings
from shared.storage.blocks import Block, BlockKey, BlockState
from shared.storage.ledger import Ledger

bp = df.Blueprint()
NAME = "plan_resource"
DEFAULT_HISTORY = timedelta(days=3 * 365)
DEMO_HISTORY = timedelta(days=30)
PROVISIONAL = "~recent"
UNMEASURED = frozenset({("amazon", "transactions")})
"""(platform, resource) planned at once, not measured on the recent day first: Amazon's
recent-day transactions block lists a settlement group still open ``OPEN_GROUP_WAIT``
after its groups page (``shared.platforms.amazon.pagination``), so measuring on it
would hold the rest of the plan that long while the events lane idles."""


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


def _spec(run: ResourceRun, block_id: str, planned: PlannedBlock, tier: Tier, **extra) -> BlockSpec:
    return BlockSpec(
        client=run.client,
        platform=run.platform,
        account=run.account,
        resource=run.resource,
        block_id=block_id,
        window=planned.window,
        tier=tier,
        phase=planned.phase,
        bulk=planned.bulk,
        **extra,
    )


def _plan(
    run: ResourceRun, start: datetime, now: datetime, density: float | None
) -> list[PlannedBlock]:
    path = BULK_PATHS.get((run.platform, run.resource))
    if path is None:
        return plan_blocks(run.resource, start, now, density=density)
    return plan_blocks(
        run.resource,
        start,
        now,
        density=density,
        bulk=True,
        bulk_records=path.records,
        max_span=path.max_span,
    )


class _Plans:
    """The run's plan rows (the full plan and the provisional, recent-day one) and what
    is known of the resource's ledger rows without listing them.

    ``newest``: base block id -> its newest generation's row, for the bases whose rows
    this call read or created. Listing an account's blocks is a query, which the
    storage emulator answers by scanning every row of the table (at 50 clients, every
    client's blocks, three times per resource); so a base's rows are known instead
    when every insert of a fresh plan created its row (a base whose first row was just
    created has no later generation: one is only ever planned after the newest), and
    the recent-day block's rows are read by key (generation after generation, as they
    are only ever planned one after the newest). ``whole``: False once an insert found
    a row there already, whose state is then unknown."""

    def __init__(self, run: ResourceRun, ledger: Ledger, store: FlowStore) -> None:
        self.run, self.ledger, self.store = run, ledger, store
        self.newest: dict[str, Block | None] = {}
        self.whole = True

    async def get(self, suffix: str = "") -> list[PlannedBlock] | None:
        run = self.run
        return await self.store.get_plan(
            run.client, run.platform, run.account, run.resource + suffix
        )

    async def keep(self, plan: list[PlannedBlock], suffix: str = "") -> list[PlannedBlock]:
        run = self.run
        rows = [
            _row(run, b.block_id, b.window, run.now)
            for b in plan
            if self.newest.get(b.block_id) is None
        ]
        if await self.ledger.plan_blocks(rows) == len(rows):
            self.newest.update((row.block_id, row) for row in rows)
        else:
            self.whole = False
        await self.store.save_plan(
            run.client, run.platform, run.account, run.resource + suffix, plan, run.now
        )
        return plan

    async def generations(self, base: str) -> Block | None:
        """The newest generation of ``base``'s rows, read by key (None: no row)."""
        run, found, block_id = self.run, None, base
        while True:
            key = BlockKey(run.client, run.platform, run.account, run.resource, block_id)
            row = await self.ledger.get_block(key)
            if row is None:
                return found
            found, block_id = row, successor_id(block_id)

    async def density(self, recent: PlannedBlock) -> float | None:
        """Records per day the recent-day block held (None: it was not loaded)."""
        row = self.newest[recent.block_id] = await self.generations(recent.block_id)
        if row is None or row.state != BlockState.DONE:
            return None
        return observed_density(row.records, recent.window)

    def known(self, plan: list[PlannedBlock]) -> dict[str, Block] | None:
        """Base id -> newest row of every block of ``plan``, if all are known."""
        if not self.whole or any(self.newest.get(b.block_id) is None for b in plan):
            return None
        return {b.block_id: self.newest[b.block_id] for b in plan}


async def _backfill_plan(plans: _Plans, stage: str) -> tuple[list[PlannedBlock], bool]:
    """(blocks, final): the stored plan, else a new one for ``stage``."""
    run = plans.run
    plan = await plans.get()
    if plan is not None:
        return plan, True
    if run.tier == "demo":
        return await plans.keep(plan_blocks(run.resource, run.now - DEMO_HISTORY, run.now)), True
    start = run.history_start or run.now - DEFAULT_HISTORY
    provisional = await plans.get(PROVISIONAL)
    if provisional and stage == "recent":
        return provisional, False
    if provisional and stage == "rest":
        recent = provisional[0]
        plan = _plan(run, start, recent.window.end, await plans.density(recent))
        if not plan or plan[0].block_id != recent.block_id:
            raise RuntimeError(f"the plan of {run.resource} lost its recent-day block")
        return await plans.keep(plan), True
    plan = _plan(run, start, run.now, None)
    measure = (run.platform, run.resource) not in ONLY_BULK | UNMEASURED
    if stage == "recent" and measure and len(plan) > 1 and plan[0].phase == "recent_day":
        return await plans.keep(plan[:1], PROVISIONAL), False
    return await plans.keep(plan), True


@bp.activity_trigger(input_name="payload", activity=NAME)
async def plan_resource(payload: dict) -> dict:
    task = PlanInput.model_validate(payload)
    run, loaded = task.run, set(task.loaded)
    settings = get_settings()
    ledger, store = Ledger(settings), FlowStore(settings)
    watermark = None
    if run.tier == "daily":
        watermark = await ledger.get_watermark(run.client, run.platform, run.account, run.resource)
    final, newest = True, None
    if watermark is None:
        plans = _Plans(run, ledger, store)
        planned, final = await _backfill_plan(plans, task.stage)
        newest = plans.known(planned)
    else:  # a daily run after the backfill: finish what the backfill left, plan nothing new
        stored = await store.get_plan(run.client, run.platform, run.account, run.resource)
        planned = stored or []
    if newest is None:
        existing = await ledger.list_blocks(run.client, run.platform, run.account)
        newest = latest(b for b in existing if b.resource == run.resource)
    todo: list[BlockSpec] = []
    done = 0
    for block in planned:
        current = newest.get(block.block_id)
        block_id = block.block_id if current is None else current.block_id
        if current is not None and current.state == BlockState.DONE:
            done += 1
            continue
        if block_id in loaded:  # this run tried it already (parked): the next run retries
            continue
        if current is not None and current.state == BlockState.PARKED:
            block_id = successor_id(current.block_id)
            await ledger.plan_blocks([_row(run, block_id, block.window, run.now)])
        tier = plan_tier(run.tier)
        todo.append(_spec(run, block_id, block, tier, advances_watermark=block.order == 0))
    total = len(planned)
    if watermark is not None:
        overlap = daily_overlap(run.resource)
        window = daily_window(min(watermark.value, run.now), run.now, overlap)
        daily_id = DAILY + make_block_id(run.resource, window)
        await ledger.plan_blocks([_row(run, daily_id, window, run.now)])
        key = BlockKey(run.client, run.platform, run.account, run.resource, daily_id)
        row = await ledger.get_block(key)
        state = None if row is None else row.state
        total += 1
        if state == BlockState.DONE:
            done += 1
        else:
            daily = PlannedBlock(
                block_id=daily_id, resource=run.resource, window=window, phase="recent_day", order=0
            )
            todo.insert(0, _spec(run, daily_id, daily, "daily", advances_watermark=True))
    return {
        "blocks": [b.model_dump(mode="json") for b in todo],
        "total": total,
        "done": done,
        "final": final,
    }
