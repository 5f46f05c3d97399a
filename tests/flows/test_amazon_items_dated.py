"""An order a short getOrders page drops from the orders block is found through its items.

Amazon, the tiny world, orders before items. Amazon gives no counts, so a short page of
the orders block's getOrders (the per-record path: the recent day) loses an order
without a trace; its items are still stored through the items block's own walk of
getOrders. getOrderItems items carry no date, so the orphan check (items dated in the
block's window whose order is not stored) never judged them: a silent hole. The items
chain now dates each item by its driver order's PurchaseDate, and the check sees it.

The fault is injected into the orders blocks' getOrders answers only (``OrdersBlockDrops``
wraps the connector of an orders block's getOrders requests): the items block's own walk
of getOrders lists every order, as a second, complete read would.

(a) The orders run drops one order (that has items) from one page, once; then the items
    run. The items block holding the order fails its check, naming the order; the done
    orders block holding its date is loaded again (``~2``), lists it, and the items
    block's retry passes. Stored orders and items equal the ground truth; no alert.
(b) Every orders listing drops the order: the items block is parked after its third
    attempt with exactly one alert naming the order; every other order is stored, and
    every item (the victim's too). The orders block's re-loads fail their own check
    (the orders end of the orphan link sees the stored items) and stay failed.
"""

from __future__ import annotations

from typing import Any

from activities import fetch_pages
from shared.flows.chains import SETTLE
from shared.integrity import needs_items, orphans_problem
from shared.models import Order
from shared.platforms.base import FetchResult, Outcome
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_integrity_heal import holding, run_narrowed, stopped_onboarding
from tests.flows.test_onboarding import assert_matches_truth
from tests.flows.truth import truth


class OrdersBlockDrops:
    """Which order the orders blocks' getOrders answers leave out: the first order with
    items in the first such answer holding one (``victim``), in ``times`` answers at
    most (None: in every one). ``dropped`` counts the answers it was left out of."""

    def __init__(self, with_items: set[str], times: int | None) -> None:
        self.with_items, self.times = with_items, times
        self.victim: str | None = None
        self.dropped = 0

    def page(self, result: FetchResult) -> FetchResult:
        if result.classified.outcome is not Outcome.OK or not isinstance(result.payload, dict):
            return result
        if self.times is not None and self.dropped >= self.times:
            return result
        orders = result.payload["payload"].get("Orders") or []
        if self.victim is None:
            self.victim = next(
                (o["AmazonOrderId"] for o in orders if o["AmazonOrderId"] in self.with_items),
                None,
            )
        kept = [o for o in orders if o["AmazonOrderId"] != self.victim]
        if len(kept) == len(orders):
            return result
        self.dropped += 1
        body = {**result.payload, "payload": {**result.payload["payload"], "Orders": kept}}
        return result.model_copy(update={"payload": body})


class _Dropping:
    """A connector whose getOrders answers go through ``drops``; the rest is ``inner``."""

    def __init__(self, inner: Any, drops: OrdersBlockDrops) -> None:
        self._inner, self._drops = inner, drops

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def fetch(self, request):
        result = await self._inner.fetch(request)
        return self._drops.page(result) if request.route == "getOrders" else result


def drop_from_orders_blocks(monkeypatch, drops: OrdersBlockDrops) -> None:
    """The orders blocks' getOrders requests answered through ``drops``."""
    original = fetch_pages._fetch_one

    async def fetch_one(connector, settings, spec, run, request, *rest):
        if spec.resource == "orders" and request.route == "getOrders":
            connector = _Dropping(connector, drops)
        return await original(connector, settings, spec, run, request, *rest)

    monkeypatch.setattr(fetch_pages, "_fetch_one", fetch_one)


async def planned_once(stack: Stack) -> dict:
    """The stopped onboarding's request, planned at one instant for both narrowed runs
    (as one run plans every resource): their recent-day windows are the same."""
    request = await stopped_onboarding(stack)
    return {**request, "now": (stack.now() - SETTLE).isoformat()}


def with_items(stack: Stack) -> set[str]:
    """The ids of the orders that need items and have some, in the ground truth."""
    orders = {o.order_id: o for o in truth(stack, "amazon", "orders").values()}
    ids = {i.order_id for i in truth(stack, "amazon", "order_items").values()}
    return {i for i in ids if i in orders and needs_items(orders[i])}


def victim_order(stack: Stack, drops: OrdersBlockDrops) -> Order:
    assert drops.victim is not None, "an orders block's getOrders page held an order with items"
    order = truth(stack, "amazon", "orders")[drops.victim]
    assert isinstance(order, Order)
    return order


async def test_an_order_a_getorders_page_dropped_once_is_found_and_listed_again(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    drops = OrdersBlockDrops(with_items(stack), times=1)
    drop_from_orders_blocks(monkeypatch, drops)
    async with stack.running():
        request = await planned_once(stack)
        await run_narrowed(stack, request, "orders")
        assert drops.dropped == 1
        victim = victim_order(stack, drops)
        stored = {r["order_id"] for r in await stack.stored("amazon", "orders")}
        assert victim.order_id not in stored, "the drop lost the order silently"

        await run_narrowed(stack, request, "order_items")
        assert drops.dropped == 1
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        [items_block] = [b for b in holding(blocks, "order_items", victim) if "~" not in b.block_id]
        assert items_block.state == BlockState.DONE and items_block.attempts == 2, items_block
        assert orphans_problem([victim.order_id]) in (items_block.last_error or "")
        [listing] = [b for b in holding(blocks, "orders", victim) if "~" not in b.block_id]
        reloads = [b for b in blocks if b.block_id.startswith(listing.block_id + "~")]
        assert [b.block_id for b in reloads] == [f"{listing.block_id}~2"]
        assert all(b.state == BlockState.DONE for b in blocks)
        await assert_matches_truth(stack, "amazon", ["orders", "order_items"])
        assert await Ledger(stack.settings).list_alerts(stack.client_id) == []
        assert smtp.messages == []


async def test_an_order_every_getorders_listing_drops_parks_the_items_block_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    drops = OrdersBlockDrops(with_items(stack), times=None)
    drop_from_orders_blocks(monkeypatch, drops)
    async with stack.running():
        request = await planned_once(stack)
        await run_narrowed(stack, request, "orders")
        victim = victim_order(stack, drops)

        await run_narrowed(stack, request, "order_items")
        assert drops.dropped >= 2, "the orders block was loaded again, and dropped it again"
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        [items_block] = [b for b in holding(blocks, "order_items", victim) if "~" not in b.block_id]
        assert items_block.state == BlockState.PARKED and items_block.attempts == 3, items_block
        assert orphans_problem([victim.order_id]) in (items_block.last_error or "")
        [listing] = [b for b in holding(blocks, "orders", victim) if "~" not in b.block_id]
        reloads = [b for b in blocks if b.block_id.startswith(listing.block_id + "~")]
        assert reloads and all(b.state == BlockState.FAILED for b in reloads), reloads
        # each re-load fails its own check from the orders end: the items are stored
        assert all(orphans_problem([victim.order_id]) in (b.last_error or "") for b in reloads)
        rest = [b for b in blocks if b.block_id != items_block.block_id and b not in reloads]
        assert rest and all(b.state == BlockState.DONE for b in rest), [
            (b.block_id, b.state, b.last_error) for b in rest if b.state != BlockState.DONE
        ]
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and victim.order_id in mails[0].body
        assert len(await ledger.list_alerts(stack.client_id)) == 1
        orders = {r["natural_key"] for r in await stack.stored("amazon", "orders")}
        assert orders == set(truth(stack, "amazon", "orders")) - {victim.order_id}
        items = {r["natural_key"] for r in await stack.stored("amazon", "order_items")}
        assert items == set(truth(stack, "amazon", "order_items"))
