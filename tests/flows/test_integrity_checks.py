"""The link checks of verify_block end to end: devhost, sandboxes, Azurite, tiny world.

(a) An onboarding (Amazon, eBay, Shopify, Etsy) passes with the checks on, and they
    did check: during the run every order needing items was judged by one end of its
    link (the orders block or the items block, whichever was verified last), and settled
    payouts were compared with their transactions (Etsy's name none). Re-checking every
    done block on the final storage (what a resource-level final check would do) finds
    nothing wrong and nothing waiting — until one order's items are deleted from Table
    storage: then its orders block names it.
(b) eBay answering an order without its line items: the block that sees it fails each
    attempt with the items problem, is parked after three, and one alert mail says so.
    When that block is the orders block, the items block at the other end of its link
    is loaded again before each retry (``~2``, ``~3``) and fails the same way: the link
    cannot heal, and nothing else is parked or mailed.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter

import httpx
import pytest

from shared.flows.models import BlockSpec
from shared.flows.pages import read_pages
from shared.flows.verdicts import linked
from shared.integrity import SETTLED, needs_items, payout_scope
from shared.models import Order, Payout, record_from_json
from shared.platforms.base import Window
from shared.storage.blocks import BlockState
from shared.storage.clients import shared_clients
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore
from tests.flows.harness import Stack
from tests.flows.test_onboarding import onboard
from tests.flows.truth import truth

LOGGER = "activities.verify_block"
LINE = re.compile(r"^links of (\w+) (\S+): (\{.*\})$")
ORDERS_PATH = "/ebay/sell/fulfillment/v1/order"


def logged_counts(caplog) -> list[tuple[str, dict[str, int]]]:
    out = []
    for record in caplog.records:
        if record.name == LOGGER and (m := LINE.match(record.getMessage())):
            out.append((m.group(1), json.loads(m.group(3).replace("'", '"'))))
    return out


def spec_of(block) -> BlockSpec:
    return BlockSpec(
        client=block.client,
        platform=block.platform,
        account=block.account,
        resource=block.resource,
        block_id=block.block_id,
        window=Window(start=block.window_start, end=block.window_end),
        tier="daily" if block.block_id.startswith("daily.") else "backfill",
    )


@pytest.mark.parametrize("platform", ["amazon", "ebay", "shopify", "etsy"])
async def test_onboarding_passes_the_link_checks_and_they_ran(
    monkeypatch, azurite, caplog, platform
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    stack = Stack(monkeypatch, azurite.connection_string, platforms=(platform,))
    async with stack.running():
        status = await onboard(stack, platform)
        assert status["runtimeStatus"] == "Completed", status
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        failed = [(b.block_id, b.last_error) for b in blocks if b.state != BlockState.DONE]
        assert not failed, failed[:3]
        assert all(b.attempts == 1 for b in blocks), "no block needed a second attempt"

        orders = [record_from_json(r) for r in await stack.stored(platform, "orders")]
        needing = [o for o in orders if isinstance(o, Order) and needs_items(o)]
        payouts = [record_from_json(r) for r in await stack.stored(platform, "payouts")]
        settled = [p for p in payouts if isinstance(p, Payout) and payout_scope(p)]
        assert len(needing) >= 50, len(needing)
        links_payouts = platform in SETTLED  # Etsy's payouts name no transactions
        assert len(settled) >= 3 if links_payouts else not settled, len(settled)

        # during the run: each order was judged by one end of its link at least
        during = Counter()
        for resource, counts in logged_counts(caplog):
            during[resource] += 1
            during["items_judged"] += counts.get("items_judged", 0)
            during["payouts_checked"] += counts.get("payouts_checked", 0)
            assert counts.get("orders_without_items", 0) == 0
        assert during["orders"] and during["order_items"], during
        assert during["items_judged"] >= len(needing), (during, len(needing))
        assert during["payouts_checked"] >= (1 if links_payouts else 0), during

        # on the final storage every link is checkable and holds
        final = Counter()
        for block in blocks:
            if block.resource not in ("orders", "payouts"):
                continue
            spec = spec_of(block)
            records = [r for page in await read_pages(stack.settings, spec) for r in page.records]
            result = await linked(stack.settings, spec, records)
            assert result.problems == [], (block.block_id, result.problems)
            final.update(result.counts)
        assert final["items_waiting"] == 0 and final["payouts_settled_waiting"] == 0, final
        assert final["items_judged"] >= len(needing)
        assert final["payouts_checked"] >= len(settled)

        # an order's items lost from storage: the orders end names it (the items end
        # counts its own pages' items, which fetch_page stored before the check)
        victim = sorted(needing, key=lambda o: o.order_id)[len(needing) // 2]
        assert await forget_items(stack, platform, victim.order_id) >= 1
        found = []
        for block in blocks:
            if block.resource not in ("orders", "order_items"):
                continue
            spec = spec_of(block)
            records = [r for page in await read_pages(stack.settings, spec) for r in page.records]
            found += [
                (block.resource, p) for p in (await linked(stack.settings, spec, records)).problems
            ]
        wanted = (
            rf"1 of \d+ orders have no items stored: {re.escape(victim.order_id)} "
            r"\(their order_items blocks are done without them\)"
        )
        assert [r for r, _ in found] == ["orders"], found
        assert all(re.fullmatch(wanted, p) for _, p in found), found


async def forget_items(stack: Stack, platform: str, order_id: str) -> int:
    """Delete the stored items of ``order_id``; how many there were."""
    store = RecordStore(stack.settings)
    rows = [r for r in await stack.stored(platform, "order_items") if r["order_id"] == order_id]
    table = await shared_clients(stack.settings).table(
        store.table_for(stack.client_id, platform, "order_items")
    )
    for row in rows:
        entity = store.to_entity(stack.client_id, row)
        await table.delete_entity(entity["PartitionKey"], entity["RowKey"])
    return len(rows)


class WithoutLines(httpx.AsyncBaseTransport):
    """The world's transport, but eBay's getOrders shows ``victim`` without line items."""

    def __init__(self, inner: httpx.AsyncBaseTransport, victim: str) -> None:
        self.inner, self.victim, self.stripped = inner, victim, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != ORDERS_PATH or response.status_code != 200:
            return response
        await response.aread()
        body = response.json()
        for order in body.get("orders", []):
            if order.get("orderId") == self.victim:
                order["lineItems"] = []
                self.stripped += 1
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(200, headers=headers, json=body, request=request)


async def test_an_order_without_items_fails_its_block_until_parked(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("ebay",))
    victim = sorted(truth(stack, "ebay", "orders"))[len(truth(stack, "ebay", "orders")) // 2]
    stripping = WithoutLines(stack.world.transport(), victim)
    stack.transport = lambda _platform: stripping
    async with stack.running():
        status = await onboard(stack, "ebay")
        assert status["runtimeStatus"] == "Completed", status
        assert stripping.stripped >= 2, "the victim was listed by orders and items blocks"
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        parked = [b for b in blocks if b.state == BlockState.PARKED]
        assert len(parked) == 1, [(b.block_id, b.state, b.last_error) for b in blocks]
        block = parked[0]
        assert block.resource in ("orders", "order_items") and block.attempts == 3
        problem = f"orders have no items stored: {victim}"
        assert problem in (block.last_error or ""), block.last_error
        assert block.last_error.startswith("integrity: 1 of ")
        reloads = [b for b in blocks if "~" in b.block_id]
        if block.resource == "orders":  # its items end was loaded again, in vain
            assert [b.block_id.rpartition("~")[2] for b in reloads] == ["2", "3"], reloads
            assert all(b.resource == "order_items" for b in reloads)
            assert all(b.state == BlockState.FAILED for b in reloads)
            assert all(problem in (b.last_error or "") for b in reloads)
        else:  # the items block fails its own check: its retries load it again
            assert reloads == []
        others = [b for b in blocks if b is not block and b not in reloads]
        assert others and all(b.state == BlockState.DONE for b in others)
        stored = {r["order_id"] for r in await stack.stored("ebay", "order_items")}
        assert victim not in stored and len(stored) >= 50
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and problem in mails[0].body
