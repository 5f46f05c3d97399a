"""An order an orders listing drops is found through its items whichever end is verified last.

Amazon, the tiny world, items *before* orders (the order ``test_amazon_items_dated``
does not cover). The orphan check (items dated in a window whose order is not stored)
ran only from the items block's end, once done orders blocks covered its window: with
the items verified first it never ran, and an order a short getOrders page dropped from
the orders block was lost without a trace. The orders block now checks it from its end
too: the stored items dated in its window must have their orders stored.

(a) The orders block's getOrders answers drop one order (that has items) once: the
    orders block holding it fails its first attempt naming the order, its retry lists
    it; stored orders and items equal the ground truth, no alert.
(b) Every orders listing drops it: the orders block is parked after three attempts with
    exactly one alert naming the order; every other order is stored, every item too.
"""

from __future__ import annotations

from shared.integrity import orphans_problem
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_amazon_items_dated import (
    OrdersBlockDrops,
    drop_from_orders_blocks,
    planned_once,
    victim_order,
    with_items,
)
from tests.flows.test_integrity_heal import holding, run_narrowed
from tests.flows.test_onboarding import assert_matches_truth
from tests.flows.truth import truth


async def items_then_orders(stack: Stack, drops: OrdersBlockDrops):
    """Items run, then orders run; the dropped order and the ledger's blocks."""
    request = await planned_once(stack)
    await run_narrowed(stack, request, "order_items")
    assert drops.dropped == 0, "the items blocks' own getOrders walk is complete"
    await run_narrowed(stack, request, "orders")
    victim = victim_order(stack, drops)
    return victim, await Ledger(stack.settings).list_blocks(stack.client_id)


async def test_an_order_dropped_once_is_found_from_the_orders_end(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    drops = OrdersBlockDrops(with_items(stack), times=1)
    drop_from_orders_blocks(monkeypatch, drops)
    async with stack.running():
        victim, blocks = await items_then_orders(stack, drops)
        assert drops.dropped == 1
        [block] = holding(blocks, "orders", victim)
        assert block.state == BlockState.DONE and block.attempts == 2, block
        assert orphans_problem([victim.order_id]) in (block.last_error or "")
        assert all(b.state == BlockState.DONE for b in blocks)
        assert not any("~" in b.block_id for b in blocks), "no other end was re-loaded"
        await assert_matches_truth(stack, "amazon", ["orders", "order_items"])
        assert await Ledger(stack.settings).list_alerts(stack.client_id) == []
        assert smtp.messages == []


async def test_an_order_every_listing_drops_parks_the_orders_block_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    drops = OrdersBlockDrops(with_items(stack), times=None)
    drop_from_orders_blocks(monkeypatch, drops)
    async with stack.running():
        victim, blocks = await items_then_orders(stack, drops)
        assert drops.dropped == 3, "each attempt listed the window and dropped it"
        [block] = holding(blocks, "orders", victim)
        assert block.state == BlockState.PARKED and block.attempts == 3, block
        assert orphans_problem([victim.order_id]) in (block.last_error or "")
        rest = [b for b in blocks if b.block_id != block.block_id]
        assert rest and all(b.state == BlockState.DONE for b in rest), [
            (b.block_id, b.state, b.last_error) for b in rest if b.state != BlockState.DONE
        ]
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and victim.order_id in mails[0].body
        assert len(await Ledger(stack.settings).list_alerts(stack.client_id)) == 1
        orders = {r["natural_key"] for r in await stack.stored("amazon", "orders")}
        assert orders == set(truth(stack, "amazon", "orders")) - {victim.order_id}
        items = {r["natural_key"] for r in await stack.stored("amazon", "order_items")}
        assert items == set(truth(stack, "amazon", "order_items"))
