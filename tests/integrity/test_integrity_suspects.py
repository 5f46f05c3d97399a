"""Which blocks a failed link names as its other end (``Links.suspects``), on Azurite, and
how ``shared.flows.generations`` plans their re-loads (``reopen``) and respecs blocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.flows.generations import (
    MAX_REOPENED,
    base_of,
    claim,
    latest,
    plan_tier,
    reopen,
    respec,
    successor_id,
)
from shared.flows.models import BlockSpec
from shared.flows.store import FlowStore
from shared.planning import PlannedBlock
from shared.platforms.base import Window
from shared.storage.blocks import Block, BlockKey, BlockState, BlockUpdate
from tests.integrity.test_integrity_linked import (
    ACCOUNT,
    CLIENT,
    IN_JULY,
    IN_JUNE,
    JUNE,
    PAID_AT,
    World,
    ebay_payout,
    item,
    order,
    spec,
    txn,
)

HALVES = (Window(start=JUNE.start, end=IN_JUNE), Window(start=IN_JUNE, end=JUNE.end))
EARLY_JUNE = datetime(2026, 6, 5, tzinfo=UTC)
NOW = IN_JULY + timedelta(days=90)


def halves(resource: str) -> list[BlockSpec]:
    return [spec("ebay", resource, w, f"{resource}.{n}") for n, w in enumerate(HALVES)]


async def test_an_order_without_items_names_the_items_block_holding_it(settings):
    world = World(settings)
    early, late = order("o1", at=EARLY_JUNE), order("o2")
    await world.put(early, late, item("o1", at=EARLY_JUNE))
    for half in halves("order_items"):
        await world.block(half, BlockState.DONE)
    result = await world.linked(spec("ebay", "orders"), [early, late])
    assert len(result.problems) == 1
    assert [b.block_id for b in result.suspects] == ["order_items.1"]

    await world.put(item("o2"))
    healed = await world.linked(spec("ebay", "orders"), [early, late])
    assert healed.problems == [] and healed.suspects == []


async def test_an_items_block_missing_its_own_items_names_no_other_block(settings):
    world = World(settings)
    await world.put(order("o1"), order("o2"), item("o1"))
    result = await world.linked(spec("ebay", "order_items"), [item("o1")])
    assert len(result.problems) == 1 and result.suspects == []


async def test_an_orphan_item_names_the_orders_block_of_its_date(settings):
    world = World(settings)
    await world.put(order("o1", at=EARLY_JUNE))
    for half in halves("orders"):
        await world.block(half, BlockState.DONE)
    items = [item("o1", at=EARLY_JUNE), item("o-ghost")]
    result = await world.linked(spec("ebay", "order_items"), items)
    assert result.problems == ["items of 1 orders that are not stored: o-ghost"]
    assert [b.block_id for b in result.suspects] == ["orders.1"]


async def test_a_payout_off_names_the_transactions_blocks_of_its_span(settings):
    world = World(settings)
    june = txn("t-june", "20.00", "P1", datetime(2026, 6, 18, tzinfo=UTC))
    await world.put(ebay_payout("30.00"), june)
    may = Window(start=datetime(2026, 5, 1, tzinfo=UTC), end=JUNE.start)
    april = Window(start=datetime(2026, 4, 1, tzinfo=UTC), end=may.start)
    await world.block(spec("ebay", "transactions", may, "t.may"), BlockState.DONE)
    await world.block(spec("ebay", "transactions", JUNE, "t.june"), BlockState.DONE)
    await world.block(spec("ebay", "transactions", april, "t.april"), BlockState.DONE)
    result = await world.linked(spec("ebay", "payouts"), [ebay_payout("30.00")])
    assert len(result.problems) == 1  # 30.00 against 20.00: a transaction is missing
    assert sorted(b.block_id for b in result.suspects) == ["t.june", "t.may"]

    # from a transactions block's end: the others, never itself
    running = spec("ebay", "transactions", JUNE, "t.june~2")
    await world.block(running, BlockState.RUNNING, created=PAID_AT + timedelta(days=30))
    result = await world.linked(running, [june])
    assert len(result.problems) == 1
    assert sorted(b.block_id for b in result.suspects) == ["t.june", "t.may"]


# --- generations ---------------------------------------------------------------------


def row(block_id: str, state=BlockState.DONE, resource="order_items", window=JUNE) -> Block:
    return Block(
        client=CLIENT,
        platform="amazon",
        account=ACCOUNT,
        resource=resource,
        block_id=block_id,
        window_start=window.start,
        window_end=window.end,
        state=state,
        created_at=IN_JULY,
        updated_at=IN_JULY,
    )


@pytest.mark.parametrize(
    ("block_id", "base", "gen", "after"),
    [
        ("order_items.x", "order_items.x", 1, "order_items.x~2"),
        ("order_items.x~2", "order_items.x", 2, "order_items.x~3"),
        ("daily.orders.y~11", "daily.orders.y", 11, "daily.orders.y~12"),
    ],
)
def test_generation_ids(block_id, base, gen, after):
    assert base_of(block_id) == (base, gen)
    assert successor_id(block_id) == after


def test_latest_is_the_highest_generation_per_base():
    rows = [row("a~2"), row("a"), row("a~10"), row("b")]
    assert {k: v.block_id for k, v in latest(rows).items()} == {"a": "a~10", "b": "b"}


@pytest.mark.parametrize(
    ("run", "tier"), [("backfill", "backfill"), ("daily", "backfill"), ("demo", "demo")]
)
def test_a_plans_blocks_keep_the_plans_tier(run, tier):
    assert plan_tier(run) == tier


PLAN = [
    PlannedBlock(
        block_id="order_items.x",
        resource="order_items",
        window=JUNE,
        phase="history",
        bulk=True,
        order=1,
    ),
]


def test_respec_loads_a_generation_as_its_first_row_would():
    plan_block = respec(row("order_items.x~2"), PLAN, block_id="order_items.x~3", heals="o")
    assert (plan_block.tier, plan_block.bulk, plan_block.phase) == ("backfill", True, "history")
    assert plan_block.window == JUNE and plan_block.block_id == "order_items.x~3"
    assert plan_block.heals == "o" and not plan_block.advances_watermark
    daily = respec(row("daily.order_items.d"), None, block_id="daily.order_items.d~2")
    assert (daily.tier, daily.bulk) == ("daily", False)
    with pytest.raises(ValueError, match="in no stored plan"):
        respec(row("order_items.unknown"), PLAN, block_id="order_items.unknown~2")


class Ledgered:
    """Rows of one account in the ledger, and its stored order_items plan."""

    def __init__(self, settings) -> None:
        self.world = World(settings)
        self.settings = settings

    async def put(self, block_id: str, state: BlockState, error: str | None = None) -> None:
        s = spec("amazon", "order_items", JUNE, block_id)
        await self.world.block(s, BlockState.PLANNED if state == BlockState.FAILED else state)
        key = BlockKey(CLIENT, "amazon", ACCOUNT, "order_items", block_id)
        if state == BlockState.FAILED:
            await self.world.ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING))
            await self.world.ledger.update_block(key, BlockUpdate(state=state, error=error))
        if state == BlockState.PARKED:
            await self.world.ledger.update_block(key, BlockUpdate(state=state))

    async def plan(self) -> None:
        await FlowStore(self.settings).save_plan(
            CLIENT, "amazon", ACCOUNT, "order_items", PLAN, NOW
        )

    async def rows(self) -> dict[str, Block]:
        blocks = await self.world.ledger.list_blocks(CLIENT, "amazon", ACCOUNT)
        return {b.block_id: b for b in blocks}


ASKER = spec("amazon", "orders", JUNE, "orders.x")


async def test_reopen_plans_the_next_generation_once_and_hands_it_out_once(settings):
    ledger = Ledgered(settings)
    await ledger.plan()
    await ledger.put("order_items.x", BlockState.DONE)
    suspect = (await ledger.rows())["order_items.x"]
    other = ASKER.model_copy(update={"block_id": "orders.y"})
    first, second = await asyncio.gather(
        reopen(settings, ASKER, 1, [suspect, suspect], NOW),
        reopen(settings, other, 1, [suspect], NOW),
    )
    handed = first + second
    assert [s.block_id for s in handed] == ["order_items.x~2"], "planned once, loaded once"
    assert handed[0].bulk and handed[0].tier == "backfill" and handed[0].heals is not None
    planned = (await ledger.rows())["order_items.x~2"]
    assert planned.state == BlockState.PLANNED and planned.created_at == NOW
    assert (planned.window_start, planned.window_end) == (JUNE.start, JUNE.end)

    asker = ASKER if first else other
    again = await reopen(settings, asker, 1, [suspect], NOW)  # the activity ran again
    assert [s.block_id for s in again] == ["order_items.x~2"]
    stranger = await reopen(
        settings, ASKER.model_copy(update={"block_id": "o.z"}), 1, [suspect], NOW
    )
    assert stranger == []  # planned for someone else: left to them


async def test_reopen_leaves_parked_running_and_healing_asks_alone(settings):
    ledger = Ledgered(settings)
    await ledger.plan()
    await ledger.put("order_items.x", BlockState.DONE)
    suspect = (await ledger.rows())["order_items.x"]
    healer = ASKER.model_copy(update={"heals": "someone"})
    assert await reopen(settings, healer, 1, [suspect], NOW) == []  # never cascades

    await ledger.put("order_items.x~2", BlockState.PARKED)
    assert await reopen(settings, ASKER, 1, [suspect], NOW) == []
    await ledger.put("order_items.x~3", BlockState.RUNNING)
    assert await reopen(settings, ASKER, 1, [suspect], NOW) == []
    assert "order_items.x~4" not in await ledger.rows()


async def test_reopen_retries_a_failed_or_abandoned_reload_of_its_own(settings):
    ledger = Ledgered(settings)
    await ledger.plan()
    await ledger.put("order_items.x", BlockState.DONE)
    suspect = (await ledger.rows())["order_items.x"]
    await ledger.put("order_items.x~2", BlockState.FAILED, error="integrity: still missing")
    assert [s.block_id for s in await reopen(settings, ASKER, 2, [suspect], NOW)] == [
        "order_items.x~3"
    ]
    # x~3 started but ended without a verdict (its fetch failed): still running
    key = BlockKey(CLIENT, "amazon", ACCOUNT, "order_items", "order_items.x~3")
    await ledger.world.ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING))
    assert (await ledger.rows())["order_items.x~3"].last_error == claim(ASKER, 2)
    other = ASKER.model_copy(update={"block_id": "orders.y"})
    assert await reopen(settings, other, 1, [suspect], NOW) == []  # not theirs
    assert [s.block_id for s in await reopen(settings, ASKER, 3, [suspect], NOW)] == [
        "order_items.x~4"
    ]


async def test_reopen_asks_for_at_most_a_few_blocks(settings):
    ledger = Ledgered(settings)
    days = [JUNE.start + timedelta(days=n) for n in range(MAX_REOPENED + 3)]
    plan = [
        PlannedBlock(
            block_id=f"order_items.d{n}",
            resource="order_items",
            window=Window(start=d, end=d + timedelta(days=1)),
            phase="month",
            order=n,
        )
        for n, d in enumerate(days)
    ]
    await FlowStore(settings).save_plan(CLIENT, "amazon", ACCOUNT, "order_items", plan, NOW)
    for planned in plan:
        s = spec("amazon", "order_items", planned.window, planned.block_id)
        await ledger.world.block(s, BlockState.DONE)
    suspects = list((await ledger.rows()).values())
    handed = await reopen(settings, ASKER, 1, suspects, NOW)
    assert len(handed) == MAX_REOPENED
    assert all(not s.bulk and s.phase == "month" for s in handed)
