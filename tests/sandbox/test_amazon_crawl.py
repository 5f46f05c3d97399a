"""A naive complete crawl of the tiny world returns exactly the ground truth.

The crawl runs in a quiet stretch of the world's timeline (no record changes during it),
waits out every 429, validates every response against the official specs, and covers each
resource by the paged path and, for orders with items and for returns, by the report path.
Fault runs are reproducible: the same seed gives the same accounting and the same results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from sandbox.amazon.finance import natural_key
from sandbox.amazon.formats import iso, parse_iso
from sandbox.amazon.reports import ORDERS_BY_DATE, RETURNS_BY_DATE
from sandbox.faults import FaultRates, Faults
from tests.sandbox.amazon_support import MARKETS, Env

SINCE = "2020-01-01T00:00:00Z"
DAY = 86_400


async def crawl(env: Env) -> dict[str, Any]:
    crawler = env.crawler()
    out: dict[str, Any] = {"orders": await crawler.orders(SINCE)}
    order_ids = dict.fromkeys(o["AmazonOrderId"] for o in out["orders"])
    out["order_items"] = [i for oid in order_ids for i in await crawler.order_items(oid)]
    out["payouts"] = await crawler.groups(SINCE)
    group_ids = dict.fromkeys(g["FinancialEventGroupId"] for g in out["payouts"])
    out["transactions"] = [e for gid in group_ids for e in await crawler.group_events(gid)]
    out["inventory"] = [s for market in MARKETS for s in await crawler.inventory(market)]
    start = env.scenario.clients[0].history_start - 20 * DAY
    end = env.clock.now() - 180
    out["events_by_date"] = []
    for after in range(int(start), int(end), 90 * DAY):
        before = min(after + 90 * DAY, end)
        out["events_by_date"] += await crawler.events(iso(after), iso(before))
    out["order_report"] = await crawler.report(ORDERS_BY_DATE, SINCE, iso(env.clock.now() - 180))
    out["returns"] = await crawler.report(RETURNS_BY_DATE, SINCE, iso(env.clock.now() - 180))
    out["checked"] = crawler.check.checked
    out["empty_pages_with_token"] = crawler.empty_pages_with_token
    return out


def utc(text: str) -> str:
    return iso(parse_iso(text))


def report_projection(rows: list[dict[str, str]]) -> list[tuple]:
    return sorted(
        (
            r["amazon-order-id"],
            utc(r["purchase-date"]),
            utc(r["last-updated-date"]),
            r["order-status"],
            "AFN" if r["fulfillment-channel"] == "Amazon" else "MFN",
            r["sku"],
            r["asin"],
            int(r["quantity"]),
            Decimal(r["item-price"]) if r["item-price"] else None,
        )
        for r in rows
    )


def truth_projection(orders: list[dict], items: list[dict]) -> list[tuple]:
    by_id = {o["AmazonOrderId"]: o for o in orders}
    return sorted(
        (
            i["AmazonOrderId"],
            by_id[i["AmazonOrderId"]]["PurchaseDate"],
            by_id[i["AmazonOrderId"]]["LastUpdateDate"],
            by_id[i["AmazonOrderId"]]["OrderStatus"],
            by_id[i["AmazonOrderId"]]["FulfillmentChannel"],
            i["SellerSKU"],
            i["ASIN"],
            i["QuantityOrdered"],
            Decimal(i["ItemPrice"]["Amount"]) if "ItemPrice" in i else None,
        )
        for i in items
    )


def amounts(value: Any, key: str = "") -> Decimal:
    """Every CurrencyAmount in an event, except the per-item detail of adjustments."""
    if isinstance(value, dict):
        if "CurrencyAmount" in value:
            return Decimal(str(value["CurrencyAmount"]))
        return sum((amounts(v, k) for k, v in value.items()), Decimal(0))
    if isinstance(value, list) and key != "AdjustmentItemList":
        return sum((amounts(v) for v in value), Decimal(0))
    return Decimal(0)


@pytest.fixture(scope="module")
async def crawled() -> AsyncIterator[tuple[Env, dict[str, Any]]]:
    """One crawl of a fault-free tiny world, in a quiet hour."""
    async with Env(quiet_for=3600) as env:
        yield env, await crawl(env)


async def test_naive_crawl_equals_ground_truth_for_every_resource(crawled) -> None:
    env, result = crawled
    truth = {r: env.truth(r) for r in env.amazon.resources}
    assert all(truth[r] for r in truth), "the tiny world has every resource"
    assert result["orders"] == truth["orders"]
    assert result["order_items"] == truth["order_items"]
    assert result["payouts"] == truth["payouts"]
    assert sorted(map(natural_key, result["transactions"])) == sorted(
        map(natural_key, truth["transactions"])
    )
    assert sorted(result["inventory"], key=lambda s: s["sellerSku"]) == truth["inventory"]
    by_date = Counter(
        natural_key({**e, "FinancialEventGroupId": ""}) for e in result["events_by_date"]
    )
    assert by_date == Counter(
        natural_key({**e, "FinancialEventGroupId": ""}) for e in truth["transactions"]
    )
    assert report_projection(result["order_report"]) == truth_projection(
        truth["orders"], truth["order_items"]
    )
    assert result["returns"] == truth["returns"]
    assert env.world.accounting.summary("amazon")["faults_injected"] == 0
    statuses = {status for _, status in result["checked"]}
    assert {200, 202, 429} <= statuses


async def test_closed_groups_add_up_and_become_payout_facts(crawled) -> None:
    env, result = crawled
    facts = {f.payout_id: f for f in env.amazon.payouts(env.client_id)}
    events: dict[str, Decimal] = {}
    for event in result["transactions"]:
        gid = event["FinancialEventGroupId"]
        body = {k: v for k, v in event.items() if k not in ("FinancialEventGroupId", "EventList")}
        events[gid] = events.get(gid, Decimal(0)) + amounts(body)
    closed = [g for g in result["payouts"] if g["ProcessingStatus"] == "Closed"]
    assert closed and any(g["OriginalTotal"]["CurrencyCode"] == "JPY" for g in closed)
    for group in closed:
        gid = group["FinancialEventGroupId"]
        assert Decimal(str(group["OriginalTotal"]["CurrencyAmount"])) == events.get(gid, Decimal(0))
        if "FundTransferDate" in group:
            fact = facts[gid]
            assert fact.paid_at == parse_iso(group["FundTransferDate"])
            assert fact.amount == Decimal(str(group["ConvertedTotal"]["CurrencyAmount"]))
            assert fact.currency == group["ConvertedTotal"]["CurrencyCode"] == "USD"


async def test_fault_runs_are_identical_for_the_same_seed() -> None:
    runs = []
    for _ in range(2):
        async with Env(faults=Faults("default", seed=11)) as env:
            result = await crawl(env)
            accounting = env.world.accounting
            runs.append(
                (result, accounting.calls, accounting.throttled, accounting.faults, env.clock.now())
            )
    assert runs[0] == runs[1]
    assert sum(runs[0][3].values()) > 0, "the default profile injects faults"


async def test_empty_finance_pages_still_carry_a_next_token() -> None:
    faults = Faults(per_platform={"amazon": FaultRates(empty_finance_page=0.5)}, seed=5)
    async with Env(faults=faults, quiet_for=3600) as env:
        crawler = env.crawler()
        groups = await crawler.groups(SINCE)
        events = [e for g in groups for e in await crawler.group_events(g["FinancialEventGroupId"])]
        assert crawler.empty_pages_with_token > 0
        assert env.world.accounting.faults[("amazon", "empty_finance_page")] > 0
        assert groups == env.truth("payouts")
        assert sorted(map(natural_key, events)) == sorted(
            map(natural_key, env.truth("transactions"))
        )


async def test_orders_updated_during_a_sync_are_caught_by_the_next_overlap() -> None:
    faults = Faults(per_platform={"amazon": FaultRates(updated_during_sync=1.0)}, seed=2)
    async with Env(faults=faults, quiet_for=3600) as env:
        crawler = env.crawler()
        started = env.clock.now()
        first = {o["AmazonOrderId"]: o for o in await crawler.orders(SINCE)}
        truth = {o["AmazonOrderId"]: o for o in env.truth("orders")}
        assert first != truth, "orders changed while the sync ran"
        env.world.faults.per_platform["amazon"] = FaultRates()
        await env.clock.sleep(180)
        params = {"MarketplaceIds": ",".join(MARKETS), "LastUpdatedAfter": iso(started - 300)}
        delta = await crawler.pages("getOrders", "/orders/v0/orders", params)
        first.update({o["AmazonOrderId"]: o for page in delta for o in page["Orders"]})
        assert first == {o["AmazonOrderId"]: o for o in env.truth("orders")}


async def test_a_later_sync_sees_the_new_activity() -> None:
    async with Env(quiet_for=3600) as env:
        crawler = env.crawler()
        known = {o["AmazonOrderId"]: o for o in await crawler.orders(SINCE)}
        watermark = env.clock.now() - 120
        await env.clock.sleep(2 * DAY)
        params = {"MarketplaceIds": ",".join(MARKETS), "LastUpdatedAfter": iso(watermark - 600)}
        pages = await crawler.pages("getOrders", "/orders/v0/orders", params)
        changed = {o["AmazonOrderId"]: o for page in pages for o in page["Orders"]}
        assert changed, "two days bring new or updated orders"
        known.update(changed)
        visible = {
            o["AmazonOrderId"]: o
            for o in env.truth("orders")
            if parse_iso(o["PurchaseDate"]) <= env.clock.now() - 120
        }
        recent = {k: v for k, v in known.items() if k in visible}
        assert recent == visible
