"""The status report of a client, from the ledger, the flows' counters and the records.

Per platform and resource: blocks done / total / parked (a parked block's retry
generation replaces it, see ``activities.plan_resource``), records stored (counted in
Table storage), requests, 429s and retries (``FlowStore`` counters), the phase of the
newest block not done yet (``daily`` for daily blocks) and an ETA at the pace so far
(``shared.api.eta``: blocks done over the time since the first block was planned).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from shared.api import ResourceStatus, StatusReport, eta
from shared.flows.generations import DAILY, base_of, latest
from shared.flows.store import FlowStore
from shared.settings import Settings
from shared.storage.blocks import Block, BlockState
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore


def _latest(blocks: list[Block]) -> list[Block]:
    """The newest generation of each block (``generations.latest``), account by account."""
    accounts: dict[str, list[Block]] = defaultdict(list)
    for block in blocks:
        accounts[block.account].append(block)
    return [b for group in accounts.values() for b in latest(group).values()]


async def client_status(settings: Settings, client: str, now: datetime) -> StatusReport:
    ledger, store, records = Ledger(settings), FlowStore(settings), RecordStore(settings)
    groups: dict[tuple[str, str], list[Block]] = defaultdict(list)
    for block in await ledger.list_blocks(client):
        groups[(block.platform, block.resource)].append(block)
    totals = await store.totals(client)
    phases: dict[tuple[str, str, str], dict[str, str]] = {}
    platforms: dict[str, dict[str, ResourceStatus]] = defaultdict(dict)
    for (platform, resource), blocks in sorted(groups.items()):
        blocks = _latest(blocks)
        done = [b for b in blocks if b.state == BlockState.DONE]
        parked = [b for b in blocks if b.state == BlockState.PARKED]
        waiting = sorted(
            (b for b in blocks if b.state not in (BlockState.DONE, BlockState.PARKED)),
            key=lambda b: b.window_end,
            reverse=True,
        )
        phase = None
        if waiting:
            newest = waiting[0]
            if newest.block_id.startswith(DAILY):
                phase = "daily"
            else:
                key = (platform, newest.account, resource)
                if key not in phases:
                    plan = await store.get_plan(client, platform, newest.account, resource) or []
                    phases[key] = {b.block_id: b.phase for b in plan}
                base = base_of(newest.block_id)[0]
                phase = phases[key].get(base, "backfill")
        started = min(b.created_at for b in blocks)
        counters = totals.get((platform, resource), {})
        platforms[platform][resource] = ResourceStatus(
            blocks_done=len(done),
            blocks_total=len(blocks),
            blocks_parked=len(parked),
            records_stored=await records.count(client, platform, resource),
            requests=counters.get("requests", 0),
            http_429=counters.get("throttled", 0),
            retries=counters.get("retries", 0),
            phase=phase,
            eta_s=eta(
                len(done), len(blocks) - len(parked), max(0.0, (now - started).total_seconds())
            ),
        )
    return StatusReport(client=client, as_of=now, platforms=dict(platforms))
