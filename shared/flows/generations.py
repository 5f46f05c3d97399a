"""Block generations: the rows ``<base>~<n>`` that load a block's window again.

A block's first row is generation 1 (its bare id); generation ``n`` is
``<base>~<n>``. A new generation is planned when

- the block was parked: the next run retries it (``activities.plan_resource``);
- the block is done but a later block's link check finds its data incomplete (an
  order whose items its ``order_items`` block lacks, a payout whose transactions a
  done ``transactions`` block misses): the failing block asks for it to be loaded
  again before its own retry (``reopen``; ``verify_block``, ``load_block``).

Whatever run loads it, a generation loads exactly as the block's first row would
have: same window, same tier (``backfill`` for the blocks of a stored plan, however
the run retrying them is tiered: a daily run lists by update time, the plan's blocks
by creation), same path (the plan's ``bulk``). The newest generation of a base is the
block's current state (``latest``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from shared.flows.models import BlockSpec, Tier
from shared.planning import PlannedBlock
from shared.platforms.base import Window
from shared.settings import Settings
from shared.storage.blocks import Block, BlockState

log = logging.getLogger(__name__)
GENERATION = "~"
DAILY = "daily."
"""Id prefix of a daily block (``plan_resource``): not in any stored plan."""
MAX_REOPENED = 8
"""Blocks one failed check asks to load again at most (the rest wait for its next
failure, or for the next run)."""
REOPENABLE = frozenset({BlockState.DONE, BlockState.FAILED})
"""States of a base's newest generation that let a check plan the next one: done
(its data has a hole) or failed (an earlier re-load failed; its asker retries)."""


def base_of(block_id: str) -> tuple[str, int]:
    """(base id, generation number) of ``block_id``; the bare id is generation 1."""
    base, _, gen = block_id.partition(GENERATION)
    return base, int(gen) if gen.isdigit() else 1


def successor_id(block_id: str) -> str:
    """The id of the generation after ``block_id``'s."""
    base, gen = base_of(block_id)
    return f"{base}{GENERATION}{gen + 1}"


def latest(blocks: Iterable[Block]) -> dict[str, Block]:
    """Base block id -> its newest generation among ``blocks`` (of one resource)."""
    newest: dict[str, tuple[int, Block]] = {}
    for block in blocks:
        base, gen = base_of(block.block_id)
        if base not in newest or newest[base][0] < gen:
            newest[base] = (gen, block)
    return {base: block for base, (_, block) in newest.items()}


def plan_tier(run_tier: Tier) -> Tier:
    """The tier of a stored plan's blocks, whichever run loads them: a demo run's plan
    is the demo's; every other plan is a backfill's (a daily run finishing a backfill
    loads the backfill's blocks as the backfill would have)."""
    return "demo" if run_tier == "demo" else "backfill"


def respec(
    block: Block,
    plan: list[PlannedBlock] | None,
    *,
    block_id: str,
    heals: str | None = None,
) -> BlockSpec:
    """The spec that loads ``block``'s window as generation ``block_id``, the way its
    first row was loaded: a daily block by update time on the per-record path, a plan
    block as the stored ``plan`` has it (tier ``backfill``, the plan's ``bulk`` and
    phase). ``heals``: the block that asked for this re-load (see ``BlockSpec``).
    The watermark is not advanced: it passed this window when the block was done.
    Raises ValueError for a plan block missing from ``plan`` (it was never planned)."""
    base, _ = base_of(block.block_id)
    window = Window(start=block.window_start, end=block.window_end)
    common = {
        "client": block.client,
        "platform": block.platform,
        "account": block.account,
        "resource": block.resource,
        "block_id": block_id,
        "window": window,
        "heals": heals,
    }
    if base.startswith(DAILY):
        return BlockSpec(**common, tier="daily", phase="recent_day")
    planned = next((b for b in plan or [] if b.block_id == base), None)
    if planned is None:
        raise ValueError(f"block {base!r} of {block.resource} is in no stored plan")
    return BlockSpec(**common, tier="backfill", phase=planned.phase, bulk=planned.bulk)


def claim(asking: BlockSpec, attempt: int | None = None) -> str:
    """What a re-load's planned row says about why it exists (its ``last_error`` until
    an attempt of it fails its check): who asked, after which attempt (None: the prefix
    common to every ask of ``asking``)."""
    head = f"planned: re-load asked by {asking.block_id} after its attempt "
    return head if attempt is None else f"{head}{attempt}"


async def reopen(
    settings: Settings, asking: BlockSpec, attempt: int, suspects: Iterable[Block], now: datetime
) -> list[BlockSpec]:
    """Plan a new generation of each block ``suspects`` names (done blocks on the other
    end of the link that ``asking``'s ``attempt`` failed) and return the specs to load
    them with.

    Per base, only when its newest generation is done or failed, and only the
    generation this call inserted into the ledger: two checks asking at once plan it
    once, and only the first loads it (the other retries later). A base whose newest
    generation is running (being loaded), parked (given up on, alerted) or planned is
    left alone — except a planned row of this very ask (``claim``: the activity ran
    again after its answer was lost: it is handed out again), and a row still running
    for an earlier ask of ``asking`` (its load ended without a verdict — a failed fetch
    is recorded ``failed`` (``activities.fail_block``), so this is a re-load whose
    orchestration itself crashed: the asking block waits for its re-loads before
    retrying, so nothing loads it any more). A
    re-load (``asking.heals`` set) asks for nothing: healing never cascades. At most
    ``MAX_REOPENED`` blocks."""
    from shared.flows.store import FlowStore
    from shared.storage.ledger import Ledger

    if asking.heals is not None:
        return []
    ledger = Ledger(settings)
    rows = await ledger.list_blocks(asking.client, asking.platform, asking.account)
    newest: dict[tuple[str, str], Block] = {}
    for resource in {s.resource for s in suspects}:
        for base, block in latest(r for r in rows if r.resource == resource).items():
            newest[(resource, base)] = block
    plans: dict[str, list[PlannedBlock] | None] = {}
    out: list[BlockSpec] = []
    seen: set[tuple[str, str]] = set()
    reason = claim(asking, attempt)
    for suspect in suspects:
        key = (suspect.resource, base_of(suspect.block_id)[0])
        current = newest.get(key)
        if key in seen or current is None:
            continue
        seen.add(key)
        ours = current.state == BlockState.PLANNED and current.last_error == reason
        stale = current.state == BlockState.RUNNING and (current.last_error or "").startswith(
            claim(asking)
        )
        if current.state not in REOPENABLE and not (ours or stale):
            continue
        if suspect.resource not in plans:
            plans[suspect.resource] = await FlowStore(settings).get_plan(
                asking.client, asking.platform, asking.account, suspect.resource
            )
        block_id = current.block_id if ours else successor_id(current.block_id)
        try:
            spec = respec(
                current, plans[suspect.resource], block_id=block_id, heals=asking.block_id
            )
        except ValueError as exc:  # not loadable as it was: left to the next run's plan
            log.warning("not re-loading %s: %s", current.block_id, exc)
            continue
        if ours:
            out.append(spec)
            continue
        row = current.model_copy(
            update={
                "block_id": spec.block_id,
                "state": BlockState.PLANNED,
                "attempts": 0,
                "pages": 0,
                "records": 0,
                "reported": None,
                "last_error": reason,
                "created_at": now,
                "updated_at": now,
            }
        )
        if await ledger.plan_blocks([row]):
            out.append(spec)
        if len(out) >= MAX_REOPENED:
            break
    return out
