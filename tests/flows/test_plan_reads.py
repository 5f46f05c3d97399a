"""How many storage round trips planning makes, and that its answers do not depend on them.

At 50 clients the app's planning burst (every resource of every client planned at once)
was mostly Table round trips: each resource listed its account's blocks three times
(a query, which the storage emulator answers by scanning every row of the table), and
inserted its plan's blocks one request each. ``plan_resource`` now knows the rows of a
fresh plan from its inserts, reads the recent-day block by key, and the ledger inserts
a partition's new blocks in one transaction. These tests call the real activity on real
Azurite, count the requests at the storage SDK's transport, and compare every answer
with the one the listing path gives (the same call on a stored plan).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.pipeline.transport import AioHttpTransport

import activities.plan_resource as planner
from shared.storage.blocks import BlockKey, BlockState, BlockUpdate
from shared.storage.keys import table_name
from shared.storage.ledger import Ledger

NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)


class Requests:
    """Every request the storage SDK sends, as (method, path, query)."""

    def __init__(self, monkeypatch) -> None:
        self.seen: list[tuple[str, str, str]] = []
        real = AioHttpTransport.send

        async def send(transport, request, **kwargs):
            path, _, query = request.url.partition("?")
            self.seen.append((request.method, path, query))
            return await real(transport, request, **kwargs)

        monkeypatch.setattr(AioHttpTransport, "send", send)

    def clear(self) -> None:
        self.seen.clear()

    def block_queries(self, settings) -> int:
        """Queries of the blocks table (a listing, not a read by key)."""
        name = "/" + table_name(settings.table_prefix, "blocks")
        return sum(1 for m, p, q in self.seen if m == "GET" and p.endswith(name + "()"))

    def block_inserts(self, settings) -> int:
        name = "/" + table_name(settings.table_prefix, "blocks")
        return sum(1 for m, p, _ in self.seen if m == "POST" and p.endswith(name))

    def batches(self) -> int:
        return sum(1 for m, p, _ in self.seen if m == "POST" and p.endswith("/$batch"))


@pytest.fixture
def use(settings, monkeypatch):
    monkeypatch.setattr(planner, "get_settings", lambda: settings)
    return settings


def _run(resource: str, *, platform: str = "etsy", account: str = "shop1", **extra) -> dict:
    return {
        "client": "c1",
        "platform": platform,
        "account": account,
        "resource": resource,
        "tier": "backfill",
        "run_id": "r1",
        "now": NOW.isoformat(),
        "history_start": (NOW - timedelta(days=3 * 365)).isoformat(),
        **extra,
    }


async def _plan(run: dict, stage: str, loaded: list[str] | None = None) -> dict:
    return await planner.plan_resource({"run": run, "stage": stage, "loaded": loaded or []})


async def _finish(settings, run: dict, block_id: str, records: int) -> None:
    ledger = Ledger(settings)
    key = BlockKey(run["client"], run["platform"], run["account"], run["resource"], block_id)
    await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING, attempt=1), now=NOW)
    done = BlockUpdate(state=BlockState.DONE, attempt=1, records=records, pages=1)
    await ledger.update_block(key, done, now=NOW)


async def test_a_fresh_backfill_is_planned_without_listing_blocks(use, monkeypatch) -> None:
    requests = Requests(monkeypatch)
    run = _run("receipts")
    first = await _plan(run, "recent")
    assert first["final"] is False and len(first["blocks"]) == 1
    assert requests.block_queries(use) == 0
    recent = first["blocks"][0]["block_id"]
    await _finish(use, run, recent, records=400)

    requests.clear()
    rest = await _plan(run, "rest", loaded=[recent])
    assert rest["final"] is True and rest["done"] == 1
    assert len(rest["blocks"]) == rest["total"] - 1 > 20
    assert requests.block_queries(use) == 0, requests.seen
    assert requests.block_inserts(use) == 0, "the plan's blocks go in one transaction"
    assert requests.batches() == -(-len(rest["blocks"]) // 100)

    # the same plan, answered from a listing of the account's blocks (a stored plan)
    requests.clear()
    again = await _plan(run, "rest", loaded=[recent])
    assert requests.block_queries(use) == 1
    assert again == rest


async def test_rows_found_in_the_way_are_listed_and_kept(use, monkeypatch) -> None:
    """A fresh plan whose rows exist already (an earlier call inserted some and failed
    before storing the plan): the inserts find them, so the states come from a listing;
    a parked one gets its successor, a done one counts as done."""
    run = _run("receipts")
    first = await _plan(run, "recent")
    recent = first["blocks"][0]["block_id"]
    await _finish(use, run, recent, records=400)
    rest = await _plan(run, "rest", loaded=[recent])
    ids = [b["block_id"] for b in rest["blocks"]]

    other = {**run, "account": "shop2"}  # the same plan made afresh, two rows in the way
    first = await _plan(other, "recent")
    await _finish(use, other, recent, records=400)
    ledger = Ledger(use)
    rows = {b.block_id: b for b in await ledger.list_blocks("c1", "etsy", "shop1")}
    await ledger.plan_blocks([rows[ids[0]].model_copy(update={"account": "shop2"})])
    await ledger.plan_blocks([rows[ids[1]].model_copy(update={"account": "shop2"})])
    key = BlockKey("c1", "etsy", "shop2", "receipts", ids[1])
    await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING, attempt=1), now=NOW)
    await ledger.update_block(
        key, BlockUpdate(state=BlockState.PARKED, attempt=1, error="x"), now=NOW
    )

    requests = Requests(monkeypatch)
    out = await _plan(other, "rest", loaded=[recent])
    assert requests.block_queries(use) == 1, "the states in the way were listed"
    got = [b["block_id"] for b in out["blocks"]]
    assert got == [ids[0], ids[1] + "~2", *ids[2:]]
    assert out["done"] == 1 and out["total"] == rest["total"]


async def test_the_recent_blocks_newest_generation_gives_the_density(use) -> None:
    """The recent-day block read by key, generation after generation: a done first
    row with a newer generation still planned measures nothing (default density), as
    the listing's ``latest`` would say."""
    ledger = Ledger(use)
    measured, reopened = _run("receipts"), _run("receipts", account="shop2")
    for run in (measured, reopened):
        first = await _plan(run, "recent")
        recent = first["blocks"][0]["block_id"]
        await _finish(use, run, recent, records=400)
    row = await ledger.get_block(BlockKey("c1", "etsy", "shop2", "receipts", recent))
    reopened_row = {"block_id": recent + "~2", "state": BlockState.PLANNED, "records": 0}
    await ledger.plan_blocks([row.model_copy(update=reopened_row)])
    dense = await _plan(measured, "rest", loaded=[recent])
    default = await _plan(reopened, "rest", loaded=[recent])
    assert dense["total"] > default["total"], "400 records a day cut smaller blocks"
    fresh = await _plan(_run("receipts", account="shop3"), "full")
    assert default["total"] == fresh["total"]


async def test_many_new_blocks_one_transaction_per_partition(settings, monkeypatch) -> None:
    """``Ledger.plan_blocks``: one transaction per partition of up to 100 new rows; with
    a row in the way, row by row, leaving it as it was."""
    ledger = Ledger(settings)
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def block(account: str, i: int, state: BlockState = BlockState.PLANNED):
        from shared.storage.blocks import Block

        return Block(
            client="c1",
            platform="etsy",
            account=account,
            resource="receipts",
            block_id=f"receipts.{i:04d}",
            window_start=start + timedelta(days=i),
            window_end=start + timedelta(days=i + 1),
            state=state,
            created_at=NOW,
            updated_at=NOW,
        )

    await ledger.plan_blocks([block("b", 3, BlockState.DONE)])
    requests = Requests(monkeypatch)
    blocks = [block("a", i) for i in range(150)] + [block("b", i) for i in range(5)]
    assert await ledger.plan_blocks(blocks) == 154
    assert requests.batches() == 3  # a: 100 + 50, b: 5 (refused: row 3 is there)
    assert requests.block_inserts(settings) == 5
    assert len(await ledger.list_blocks("c1", "etsy", "a")) == 150
    kept = await ledger.list_blocks("c1", "etsy", "b")
    assert sorted(b.block_id for b in kept) == [f"receipts.{i:04d}" for i in range(5)]
    assert {b.block_id: b.state for b in kept}["receipts.0003"] == BlockState.DONE


async def test_a_transaction_whose_answer_is_lost_is_planned_again_alike(use, monkeypatch) -> None:
    """Storage wrote the plan's transaction but the connection dropped before its answer:
    the call fails (the host retries it), and the retry finds every row in the way, lists
    them and answers as a call that never failed."""
    import aiohttp
    from azure.core.exceptions import ServiceResponseError

    from shared.errors import TransientError

    clean, lost = _run("receipts"), _run("receipts", account="shop2")
    for run in (clean, lost):
        first = await _plan(run, "recent")
        recent = first["blocks"][0]["block_id"]
        await _finish(use, run, recent, records=200)
    expected = await _plan(clean, "rest", loaded=[recent])

    real, dropped = AioHttpTransport.send, []

    async def send(transport, request, **kwargs):
        response = await real(transport, request, **kwargs)
        if request.method == "POST" and request.url.endswith("/$batch") and not dropped:
            dropped.append(request.url)
            cause = aiohttp.ServerDisconnectedError()
            raise ServiceResponseError(cause, error=cause)
        return response

    monkeypatch.setattr(AioHttpTransport, "send", send)
    with pytest.raises(TransientError):
        await _plan(lost, "rest", loaded=[recent])
    assert dropped
    rows = await Ledger(use).list_blocks("c1", "etsy", "shop2")
    assert len(rows) == expected["total"], "the transaction was written"
    again = await _plan(lost, "rest", loaded=[recent])
    assert [b["block_id"] for b in again["blocks"]] == [b["block_id"] for b in expected["blocks"]]
    assert (again["total"], again["done"], again["final"]) == (
        expected["total"],
        expected["done"],
        expected["final"],
    )
