"""What the floor needs to know of the data: counts read from the sandboxes' ground truth.

``take_census(world, platforms)`` returns, per (client, platform), the figures
``bench.floor`` counts calls from (record counts, records per parent, record times for
the platforms that force date slices), plus the history window the onboarding plans.
"""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import datetime
from typing import Any

from bench.floor import Census, PlatformCensus
from sandbox.world import World

HISTORY_MARGIN_S = 31 * 86_400.0  # the bench connects with history_start 31 days early


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _amazon(world: World, c: PlatformCensus) -> None:
    gt = lambda r: world.ground_truth(c.client, "amazon", r)  # noqa: E731
    orders, items = gt("orders"), gt("order_items")
    per_order = Counter(i["AmazonOrderId"] for i in items)
    c.counts.update(orders=len(orders), returns=len(gt("returns")), order_items=len(items))
    c.per_parent["items_per_order"] = [per_order.get(o["AmazonOrderId"], 0) for o in orders]
    groups, events = gt("payouts"), gt("transactions")
    per_group = Counter(e["FinancialEventGroupId"] for e in events)
    c.per_parent["events_per_group"] = [
        per_group.get(g["FinancialEventGroupId"], 0) for g in groups
    ]
    c.times["groups"] = [_epoch(g["FinancialEventGroupStart"]) for g in groups]
    c.times["group_ends"] = [
        _epoch(g["FinancialEventGroupEnd"]) if g.get("FinancialEventGroupEnd") else 0.0
        for g in groups
    ]
    # a group listed by posted date (too old for ByGroupId) pages through every
    # marketplace's dated events of its span, its own undated ones too
    posted = sorted(_epoch(e["PostedDate"]) for e in events if e.get("PostedDate"))
    own_dated = Counter(e["FinancialEventGroupId"] for e in events if e.get("PostedDate"))
    c.per_parent["events_in_group_span"] = [
        per_group.get(g["FinancialEventGroupId"], 0)
        - own_dated.get(g["FinancialEventGroupId"], 0)
        + bisect.bisect_left(posted, end)
        - bisect.bisect_left(posted, start)
        for g, start, end in zip(groups, c.times["groups"], c.times["group_ends"], strict=True)
    ]
    stock = world.platforms["amazon"].data(c.client).stock
    markets = Counter(s.sku.marketplace.marketplace_id for s in stock.values())
    summaries = Counter()
    by_sku = {s.sku.sku: s.sku.marketplace.marketplace_id for s in stock.values()}
    for row in gt("inventory"):
        summaries[by_sku[row["sellerSku"]]] += 1
    c.per_parent["summaries_per_market"] = [summaries.get(m, 0) for m in markets]


def _shopify(world: World, c: PlatformCensus) -> None:
    gt = lambda r: world.ground_truth(c.client, "shopify", r)  # noqa: E731
    orders = len(gt("orders"))
    levels = gt("inventory")
    lines = Counter(i["orderId"] for i in gt("order_items"))
    refunded = sorted({r["orderId"] for r in gt("returns")})
    c.per_parent["lines_per_refunded_order"] = [lines.get(o, 0) for o in refunded]
    c.counts.update(
        orders=orders,
        order_items=orders,  # paged through orders with their line items nested
        returns=orders,  # paged through orders with their refunds nested
        transactions=len(gt("transactions")),
        payouts=len(gt("payouts")),
        inventory=len({lv["item"]["id"] for lv in levels}),
    )


def _ebay(world: World, c: PlatformCensus) -> None:
    gt = lambda r: world.ground_truth(c.client, "ebay", r)  # noqa: E731
    orders = len(gt("orders"))
    c.counts.update(
        orders=orders,
        order_items=orders,  # getOrders carries the line items
        returns=orders,  # and the refunds
        transactions=len(gt("transactions")),
        payouts=len(gt("payouts")),
        inventory=len(gt("inventory")),
    )


def _etsy(world: World, c: PlatformCensus) -> None:
    gt = lambda r: world.ground_truth(c.client, "etsy", r)  # noqa: E731
    c.counts.update(
        receipts=len(gt("orders")), lines=len(gt("order_items")), listings=len(gt("inventory"))
    )
    c.counts["refunded"] = len({r["receipt_id"] for r in gt("returns")})  # receipts with refunds
    entries = gt("transactions")
    c.times["ledger"] = [_epoch(e["create_date"]) for e in entries]


def _quiltt(world: World, c: PlatformCensus) -> None:
    c.counts["bank_transactions"] = len(world.ground_truth(c.client, "quiltt", "bank_transactions"))


_TAKERS = {"amazon": _amazon, "shopify": _shopify, "ebay": _ebay, "etsy": _etsy, "quiltt": _quiltt}


def take_census(world: World, platforms: tuple[str, ...]) -> Census:
    out: Census = {}
    now = world.clock.now()
    for spec in world.scenario.clients:
        for platform in platforms:
            if platform not in spec.platforms:
                continue
            census = PlatformCensus(
                spec.client_id, platform, spec.history_start - HISTORY_MARGIN_S, now
            )
            _TAKERS[platform](world, census)
            out[(spec.client_id, platform)] = census
    return out
