"""A failed link heals by loading its other end again; when it cannot, one park, one alert.

Amazon, the tiny world, items before orders: the onboarding's own run is stopped before
it starts and its request run twice, narrowed to ``order_items`` and then to
``orders`` (``SyncRequest.resources``), so the orders blocks are verified after every
items block is done and the orders end of the link judges every order.

(a) Between the two runs one order's items are lost from Table storage. The orders
    block holding it fails its link check ("their order_items blocks are done without
    them"); that names the items block whose window holds the order, which is loaded
    again as a new generation (``~2``, on its bulk path like the original) before the
    orders block's retry, and the retry passes. Stored records equal the ground truth;
    no alert.
(b) A settled payout's transaction is lost from Table storage between a transactions run
    and a payouts run: the payouts block fails the money check, the transactions block
    holding the settlement group's start is loaded again, and the retry adds up.
(c) getOrderItems answers one order with no items, every time (items on the per-record
    path here). The re-loaded items block sees the order stored without items and fails
    (a re-load is not retried or parked on its own); the orders block asks again on its
    second failure, is parked on its third — exactly one alert, naming the order — and
    the run ends: bounded, and the rest of the data is complete. Once the platform
    answers again, the next run loads the failed re-load and the parked block's
    successor: every record stored, no second mail.
"""

from __future__ import annotations

import json
import re

import httpx

from shared.flows.chains import BULK_PATHS
from shared.flows.generations import latest
from shared.flows.store import FlowStore
from shared.integrity import needs_items, payout_scope
from shared.models import Order, Payout, Transaction, record_from_json
from shared.storage.blocks import Block, BlockState
from shared.storage.clients import shared_clients
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore
from tests.flows.harness import Stack
from tests.flows.test_integrity_checks import forget_items
from tests.flows.test_onboarding import assert_matches_truth
from tests.flows.truth import truth

ITEMS_PATH = re.compile(r"^/amazon/orders/v0/orders/([^/]+)/orderItems$")
LINK = "orders have no items stored: {} (their order_items blocks are done without them)"


class NoItemsFor(httpx.AsyncBaseTransport):
    """The world's transport, but getOrderItems answers ``victim`` with no items;
    ``calls`` counts the getOrderItems requests."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.victim, self.stripped, self.calls = inner, None, 0, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        match = ITEMS_PATH.match(request.url.path)
        self.calls += bool(match)
        if not match or match.group(1) != self.victim or response.status_code != 200:
            return response
        await response.aread()
        body = response.json()
        body["payload"]["OrderItems"] = []
        self.stripped += 1
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(200, headers=headers, json=body, request=request)


async def run_narrowed(stack: Stack, request: dict, *resources: str, tier: str = "") -> None:
    """The onboarding's request (as ``tier`` if given), loading ``resources`` only."""
    name = "-".join(resources) + (f"-{tier}" if tier else "")
    narrowed = {**request, "resources": list(resources), "run_id": f"{request['run_id']}-{name}"}
    if tier:
        narrowed["tier"] = tier
    instance = f"{stack.client_id}|{name}"
    status = await stack.host.run("sync_client", narrowed, instance)
    assert status["runtimeStatus"] == "Completed", status


async def stopped_onboarding(stack: Stack) -> dict:
    """Connect (credentials stored, onboarding started) and stop the onboarding before it
    runs; its input."""
    response = await stack.connect("amazon")
    assert response.status_code == 202, response.get_body()
    instance = json.loads(response.get_body())["id"]
    request = stack.host.status(instance)["input"]
    stack.host.terminate(instance, "the test runs it resource by resource")
    return request


def holding(blocks: list[Block], resource: str, order: Order) -> list[Block]:
    return [
        b
        for b in blocks
        if b.resource == resource and b.window_start <= order.created_at < b.window_end
    ]


async def items_run_then_victim(stack: Stack, request: dict, *, bulk: bool) -> tuple[Order, Block]:
    """Run the items; an order needing items (in a block on the bulk path or not) and
    the done items block holding it."""
    await run_narrowed(stack, request, "order_items")
    ledger = Ledger(stack.settings)
    items = [b for b in await ledger.list_blocks(stack.client_id) if b.resource == "order_items"]
    assert items and all(b.state == BlockState.DONE for b in items)
    plan = await FlowStore(stack.settings).get_plan(
        stack.client_id, "amazon", stack.account("amazon"), "order_items"
    )
    on_path = {b.block_id for b in plan or [] if b.bulk == bulk}
    stored = {r["order_id"] for r in await stack.stored("amazon", "order_items")}
    orders = [o for o in truth_orders(stack) if needs_items(o) and o.order_id in stored]
    candidates = [
        (o, holding(items, "order_items", o)) for o in sorted(orders, key=lambda o: o.order_id)
    ]
    candidates = [(o, h[0]) for o, h in candidates if len(h) == 1 and h[0].block_id in on_path]
    assert candidates, f"an order needing items in an items block with bulk={bulk}"
    return candidates[len(candidates) // 2]


def truth_orders(stack: Stack) -> list[Order]:
    return [o for o in truth(stack, "amazon", "orders").values() if isinstance(o, Order)]


async def test_a_link_failed_by_the_other_end_heals_by_loading_it_again(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    counting = NoItemsFor(stack.world.transport())
    stack.transport = lambda _platform: counting
    async with stack.running():
        request = await stopped_onboarding(stack)
        victim, items_block = await items_run_then_victim(stack, request, bulk=True)
        assert await forget_items(stack, "amazon", victim.order_id) >= 1

        counting.calls = 0
        await run_narrowed(stack, request, "orders")
        assert counting.calls == 0, "the items block was loaded again through the report"
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        by_id = {b.block_id: b for b in blocks}
        [orders_block] = holding(blocks, "orders", victim)
        assert orders_block.state == BlockState.DONE, orders_block.last_error
        assert orders_block.attempts == 2, "one failure, then healed"
        assert LINK.format(victim.order_id) in (orders_block.last_error or "")
        healed = by_id[f"{items_block.block_id}~2"]
        assert healed.state == BlockState.DONE and healed.attempts == 1, healed
        assert (healed.window_start, healed.window_end) == (
            items_block.window_start,
            items_block.window_end,
        )
        assert by_id[items_block.block_id].state == BlockState.DONE
        again = [b for b in blocks if "~" in b.block_id and b.block_id != healed.block_id]
        assert again == [], "only the incomplete block was loaded again"
        others = [b for b in blocks if b.block_id not in (orders_block.block_id,)]
        assert all(b.attempts == 1 and b.state == BlockState.DONE for b in others)
        await assert_matches_truth(stack, "amazon", ["orders", "order_items"])
        assert await Ledger(stack.settings).list_alerts(stack.client_id) == []
        assert smtp.messages == []


async def forget(stack: Stack, row: dict) -> None:
    store = RecordStore(stack.settings)
    entity = store.to_entity(stack.client_id, row)
    table = await shared_clients(stack.settings).table(
        store.table_for(stack.client_id, row["platform"], row["resource"])
    )
    await table.delete_entity(entity["PartitionKey"], entity["RowKey"])


async def test_a_payout_off_by_a_lost_transaction_heals_by_loading_it_again(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    async with stack.running():
        request = await stopped_onboarding(stack)
        await run_narrowed(stack, request, "transactions")
        settled = {
            p.payout_id: p
            for p in truth(stack, "amazon", "payouts").values()
            if isinstance(p, Payout) and payout_scope(p)
        }
        rows = sorted(await stack.stored("amazon", "transactions"), key=lambda r: r["natural_key"])
        counted = [
            r
            for r in rows
            if isinstance(t := record_from_json(r), Transaction)
            and t.payout_id in settled
            and t.amount is not None
            and t.amount.amount != 0
        ]
        assert counted, "the tiny world has settled groups with events"
        lost = counted[len(counted) // 2]
        group = settled[lost["payout_id"]]
        await forget(stack, lost)

        await run_narrowed(stack, request, "payouts")
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        [retried] = [b for b in blocks if b.attempts > 1]
        assert retried.resource == "payouts" and retried.state == BlockState.DONE
        assert retried.attempts == 2, "one failure, then healed"
        assert f"payouts differ from the sum of their transactions: {group.payout_id}" in (
            retried.last_error or ""
        )
        reloads = [b for b in blocks if "~" in b.block_id]
        holding_start = {
            b.block_id
            for b in blocks
            if b.resource == "transactions"
            and "~" not in b.block_id
            and b.window_start <= group.period_start < b.window_end
        }
        assert {b.block_id.partition("~")[0] for b in reloads} == holding_start
        assert all(b.state == BlockState.DONE and b.attempts == 1 for b in reloads)
        assert all(b.state == BlockState.DONE for b in blocks)
        await assert_matches_truth(stack, "amazon", ["payouts", "transactions"])
        assert smtp.messages == []


async def test_a_link_that_cannot_heal_parks_its_block_once_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    monkeypatch.delitem(BULK_PATHS, ("amazon", "order_items"))  # items via getOrderItems
    stack = Stack(monkeypatch, azurite.connection_string)
    stripping = NoItemsFor(stack.world.transport())
    stack.transport = lambda _platform: stripping
    async with stack.running():
        request = await stopped_onboarding(stack)
        victim, items_block = await items_run_then_victim(stack, request, bulk=False)
        assert await forget_items(stack, "amazon", victim.order_id) >= 1
        stripping.victim = victim.order_id  # from now on the platform omits its items

        await run_narrowed(stack, request, "orders")
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        [orders_block] = holding(blocks, "orders", victim)
        assert orders_block.state == BlockState.PARKED and orders_block.attempts == 3
        assert LINK.format(victim.order_id) in (orders_block.last_error or "")
        reloads = sorted(
            (b for b in blocks if b.block_id.startswith(items_block.block_id + "~")),
            key=lambda b: b.block_id,
        )
        # asked on the first and second failure (not the last: nothing retries then)
        assert [b.block_id.rpartition("~")[2] for b in reloads] == ["2", "3"]
        assert all(b.state == BlockState.FAILED and b.attempts == 1 for b in reloads)
        assert all(
            f"orders have no items stored: {victim.order_id}" in b.last_error for b in reloads
        )
        assert stripping.stripped == 2
        rest = [b for b in blocks if b not in reloads and b.block_id != orders_block.block_id]
        assert rest and all(b.state == BlockState.DONE for b in rest)
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and victim.order_id in mails[0].body
        assert len(await ledger.list_alerts(stack.client_id)) == 1
        await assert_matches_truth(stack, "amazon", ["orders"])
        stored = {r["order_id"] for r in await stack.stored("amazon", "order_items")}
        want = {r.order_id for r in truth(stack, "amazon", "order_items").values()}
        assert stored == want - {victim.order_id}

        # the platform answers again: the next run loads the failed re-load (its newest
        # generation) and the parked block's successor, and the hole is gone
        stripping.victim = None
        await run_narrowed(stack, request, "order_items", "orders", tier="daily")
        after = {b.block_id: b for b in await ledger.list_blocks(stack.client_id)}
        assert after[reloads[-1].block_id].state == BlockState.DONE
        assert after[f"{orders_block.block_id}~2"].state == BlockState.DONE
        newest = latest(after.values())  # older generations stay as they ended
        assert all(b.state == BlockState.DONE for b in newest.values()), newest
        await assert_matches_truth(stack, "amazon", ["orders", "order_items"])
        assert len(smtp.messages) == 1  # no second mail
