"""An Etsy backfill loads the order items' history through getShopReceiptTransactionsByShop
(the shop's transactions, newest first, pages of 100) in one block, and only the
recent day through getShopReceipts, whose receipts carry their transactions (no call
per receipt).

On the tiny world, through the whole product (devhost, Azurite, the Etsy sandbox): the
plan, the requests made (a log of every call), the ledger rows and the stored records
against the ground truth; the request count against ``bench.floor``'s for the same
world (token calls left out, as the floor does)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from shared.flows.chains import BULK_HISTORY, BULK_PATHS, resources_of
from shared.planning import plan_blocks
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import (
    api_calls,
    assert_bulk_plan,
    assert_stored_truth,
    floor_calls,
    onboard,
    plans,
)
from tests.flows.truth import truth

BY_RECEIPT = re.compile(r"/shops/\d+/receipts/(\d+)/transactions$")
BY_SHOP = re.compile(r"/shops/\d+/transactions$")
PAGE = 100


def test_the_whole_history_is_one_bulk_block_whatever_the_density() -> None:
    path = BULK_PATHS[("etsy", "order_items")]
    assert ("etsy", "order_items") in BULK_HISTORY and path.records is None
    now = datetime(2026, 10, 9, 12, tzinfo=UTC)
    start = now - timedelta(days=3 * 365)
    for density in (0.5, 100.0, 50_000.0):
        plan = plan_blocks(
            "order_items",
            start,
            now,
            density=density,
            bulk=True,
            bulk_records=path.records,
            max_span=path.max_span,
        )
        assert [(b.phase, b.bulk) for b in plan] == [("recent_day", False), ("history", True)]
        assert plan[1].window.start == start and plan[1].window.end == plan[0].window.start


async def test_etsy_item_history_comes_from_the_shop_transactions(
    monkeypatch, azurite, capsys
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("etsy",))
    calls = await onboard(stack, "etsy")
    plan = (await plans(stack, "etsy", ("order_items",)))["order_items"]
    assert_bulk_plan(plan, "order_items")
    assert len(plan) == 2, plan
    recent, history = plan[0].window, plan[1].window

    items = await assert_stored_truth(stack, "etsy", "order_items")
    await assert_stored_truth(stack, "etsy", "orders")

    # the history: the shop's transactions, every page once, from the newest down
    lines = truth(stack, "etsy", "order_items")
    assert sum(1 for _, path, _ in calls if BY_SHOP.search(path)) == math.ceil(len(lines) / PAGE)
    # the recent day: its receipts pages (they carry the items), no call per receipt
    orders = truth(stack, "etsy", "orders")
    assert not [path for _, path, _ in calls if BY_RECEIPT.search(path)]
    day = [o for o, r in orders.items() if recent.start <= r.created_at]
    assert 0 < len(day) < len(orders) / 2
    assert {k.split("|")[0] for k, i in items.items() if i.created_at >= recent.start} == set(day)

    rows = await Ledger(stack.settings).list_blocks(stack.client_id, "etsy", stack.account("etsy"))
    row = next(b for b in rows if b.resource == "order_items" and b.window_start == history.start)
    older = [k for k, i in items.items() if i.created_at < history.end]
    assert row.records == len(older) > 0 and row.reported is None

    used, minimal = api_calls(calls), floor_calls(stack, "etsy")
    # Above the floor: the recent day's items (a page of its receipts), and at most one
    # partly filled page more per block beyond a resource's first (each block cuts its
    # listing at its window's edges).
    resources = resources_of("etsy")
    blocks = sum(len(p) for p in (await plans(stack, "etsy", resources)).values())
    allowance = math.ceil(len(day) / PAGE) + blocks - len(resources)
    with capsys.disabled():
        print(f"\netsy tiny: {used} requests (floor {minimal}, {blocks} blocks)")
    assert minimal <= used <= minimal + allowance
