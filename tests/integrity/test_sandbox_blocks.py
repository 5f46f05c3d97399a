"""Planned blocks crawled through the real connectors pass their integrity checks.

For each platform of the ``tiny`` world (in-process sandbox, quiet clock, no faults), a
resource's history is planned with a density high enough to cut it into dozens of
blocks; every block is crawled through the platform's connector (the platform-neutral
``drive`` loop of the connector tests), and checked with ``check_block``:

- every block passes — page chain, counts, window, orders with their items (each side
  checked against the other's crawl of the same window), payouts against the sum of
  their transactions where the platform links them;
- the blocks together hold exactly the records of one crawl over the whole history: no
  record is lost or gained at a block boundary (the connector tests prove that crawl
  equal to the sandbox's ground truth).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import ConfigurationError
from shared.integrity import PageFacts, check_block, payout_sums_from
from shared.models import Order, OrderItem, Record, Transaction
from shared.normalize import normalize
from shared.planning import plan_blocks
from shared.platforms.base import FetchResult, Window
from tests.platforms.amazon.support import drive

DENSITY = 3_000.0  # records/day: blocks of a day or two over the tiny world's history
RESOURCES = {
    "amazon": ("orders", "order_items", "transactions", "payouts", "returns"),
    "shopify": ("orders", "order_items", "transactions", "payouts", "returns"),
    "ebay": ("orders", "order_items", "transactions", "payouts", "returns"),
    "etsy": ("orders", "order_items", "transactions", "payouts", "returns"),
    "quiltt": ("bank_transactions",),
}
LINKS_PAYOUTS = ("amazon", "shopify", "ebay")
COUNTS_ORDERS = ("shopify", "ebay", "etsy")
BULK = {"amazon": True, "shopify": True}
"""The platforms whose history is loaded in bulk (DESIGN.md: Amazon reports, Shopify Bulk
Operations). Etsy's "bulk" item listing runs newest first over the whole shop and
returns records newer than the window: it is not a per-window path."""


class Env:
    """A connector on one platform's sandbox, its clock and the history to load."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        build = getattr(self, f"_{platform}")
        self.connector, self.clock, self.account, self.window = build()

    def _amazon(self):
        from tests.platforms.amazon.support import AmazonEnv

        env = AmazonEnv()
        return env.connector(), env.clock, env.account, env.history_window()

    def _ebay(self):
        from tests.platforms.ebay.support import EbayEnv

        env = EbayEnv()
        return env.connector(), env.clock, env.account, env.history_window()

    def _shopify(self):
        from tests.platforms.shopify import support

        world = support.make_world()
        return support.connector(world), world.clock, support.account(world), _history(world)

    def _etsy(self):
        from tests.platforms.etsy import support

        world = support.world()
        return support.connector(world), world.clock, support.ACCOUNT, _history(world)

    def _quiltt(self):
        from tests.platforms.quiltt import support

        world = support.world()
        return support.connector(world), world.clock, support.ACCOUNT, _history(world)

    async def crawl(self, resource: str, window: Window, bulk: bool) -> list[FetchResult]:
        try:
            first = self.connector.first_request(resource, window, bulk=bulk)
        except ConfigurationError:  # Amazon items: bulk only here; Amazon returns: report
            first = self.connector.first_request(resource, window, bulk=not bulk)
        return await drive(self.connector, first, self.clock)


def _history(world: Any) -> Window:
    start = datetime.fromtimestamp(world.scenario.clients[0].history_start, UTC)
    now = datetime.fromtimestamp(world.clock.now(), UTC)
    return Window(start=start - timedelta(days=30), end=now)


def facts_and_records(
    env: Env, resource: str, results: list[FetchResult]
) -> tuple[list[PageFacts], list[Record]]:
    facts, records = [], []
    for number, result in enumerate(results):
        found: list[Record] = []
        if result.payload is not None and result.request.step in ("page", "bulk_download"):
            scope = result.request.state.get("scope", "") if env.platform == "amazon" else ""
            found = normalize(
                env.platform, resource, result.payload, account=env.account, scope=scope
            )
        records += found
        nxt = result.next
        facts.append(
            PageFacts(
                page_number=number,
                record_count=len(found),
                reported_count=result.reported_count,
                has_next=nxt is not None,
                cursor=None if nxt is None else nxt.model_dump_json(),
            )
        )
    return facts, records


@pytest.fixture(scope="module", params=sorted(RESOURCES))
async def loaded(request) -> dict[str, Any]:
    env = Env(request.param)
    out: dict[str, Any] = {"env": env, "blocks": {}, "whole": {}}
    try:
        for resource in RESOURCES[env.platform]:
            bulk = BULK.get(env.platform, False)
            whole = await env.crawl(resource, env.window, bulk=bulk)
            out["whole"][resource] = facts_and_records(env, resource, whole)[1]
            plan = plan_blocks(
                resource, env.window.start, env.window.end, density=DENSITY, bulk=bulk
            )
            out["blocks"][resource] = [
                (
                    block,
                    facts_and_records(
                        env, resource, await env.crawl(resource, block.window, block.bulk)
                    ),
                )
                for block in plan
            ]
    finally:
        await env.connector.aclose()
    return out


def keys(records: list[Record]) -> set[str]:
    return {r.natural_key for r in records}


def test_blocks_together_hold_the_whole_history(loaded):
    for resource, blocks in loaded["blocks"].items():
        assert len(blocks) >= 10, f"{resource}: the plan should cut the history finely"
        union = set().union(*(keys(records) for _, (_, records) in blocks))
        whole = keys(loaded["whole"][resource])
        assert whole, f"the tiny world has {resource}"
        assert union == whole, f"{resource}: lost {whole - union}, gained {union - whole}"


def test_every_block_passes(loaded):
    env = loaded["env"]
    transactions = [
        r for r in loaded["whole"].get("transactions", []) if isinstance(r, Transaction)
    ]
    sums = payout_sums_from(transactions) if env.platform in LINKS_PAYOUTS else None
    by_window = {
        resource: {b.window: records for b, (_, records) in blocks}
        for resource, blocks in loaded["blocks"].items()
    }
    checked, compared = Counter(), Counter()
    for resource, blocks in loaded["blocks"].items():
        for block, (facts, records) in blocks:
            extra: dict[str, Any] = {}
            if resource == "orders":
                items = by_window["order_items"][block.window]
                extra["items_for_orders"] = Counter(
                    r.order_id for r in items if isinstance(r, OrderItem)
                )
            if resource == "order_items":
                orders = by_window["orders"][block.window]
                extra["items_for_orders"] = {r.order_id: 0 for r in orders if isinstance(r, Order)}
            if resource == "payouts" and sums is not None:
                extra["payout_sums"] = sums
            report = check_block(resource, block.window, facts, records, **extra)
            assert report.ok, f"{env.platform} {block.block_id}: {report.problems}"
            checked[resource] += len(records)
            compared[resource] += "reported" in report.counts
    assert all(checked.values()), checked
    if env.platform in COUNTS_ORDERS:  # the count check ran on real reported counts
        assert compared["orders"] == len(loaded["blocks"]["orders"])
