"""A complete, patient crawl of the Shopify sandbox returns exactly the ground truth for
every resource, by paged GraphQL, by REST and by bulk operation; fault runs are
reproducible per seed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from sandbox.clock import ManualClock
from sandbox.faults import FaultRates, Faults
from sandbox.scenario import load
from sandbox.shopify.app import GRAPHQL
from sandbox.world import World
from tests.sandbox.shopify_support import (
    LEVEL_FIELDS,
    LINE_FIELDS,
    ORDER_FIELDS,
    PAGE,
    PAYOUT_FIELDS,
    REFUND_FIELDS,
    TXN_FIELDS,
    Crawler,
    by_id,
    orders_query,
)

CLIENT = "c-tiny"


def _world(faults: Faults | None = None) -> World:
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), faults=faults, platforms=("shopify",))
    world.clock.set(world.platforms["shopify"].quiet_time(CLIENT, scenario.now, 4 * 3600))
    return world


async def _graphql_crawl(crawler: Crawler) -> dict[str, list[dict[str, Any]]]:
    orders = await crawler.connection(orders_query(40), ("orders",))
    nested = await crawler.connection(
        orders_query(
            3,
            f"id lineItems(first: 10) {{ nodes {{ {LINE_FIELDS} }} pageInfo {{ hasNextPage }} }}"
            f" refunds {{ {REFUND_FIELDS} }}",
        ),
        ("orders",),
    )
    items, returns = [], []
    for order in nested:
        assert not order["lineItems"]["pageInfo"]["hasNextPage"]
        items += [{**line, "orderId": order["id"]} for line in order["lineItems"]["nodes"]]
        for refund in order["refunds"]:
            lines = refund.pop("refundLineItems")
            assert not lines["pageInfo"]["hasNextPage"]
            returns.append({**refund, "refundLineItems": lines["nodes"], "orderId": order["id"]})
    account = (
        "query($after: String) { shopifyPaymentsAccount {"
        " %s(first: %d, after: $after) { nodes { %s } %s } } }"
    )
    transactions = await crawler.connection(
        account % ("balanceTransactions", 100, TXN_FIELDS, PAGE),
        ("shopifyPaymentsAccount", "balanceTransactions"),
    )
    payouts = await crawler.connection(
        account % ("payouts", 50, PAYOUT_FIELDS, PAGE), ("shopifyPaymentsAccount", "payouts")
    )
    inventory_query = f"""query($after: String) {{ inventoryItems(first: 20, after: $after) {{
        nodes {{ id inventoryLevels(first: 5) {{ nodes {{ {LEVEL_FIELDS} }}
        pageInfo {{ hasNextPage }} }} }} {PAGE} }} }}"""
    levels = []
    for item in await crawler.connection(inventory_query, ("inventoryItems",)):
        assert not item["inventoryLevels"]["pageInfo"]["hasNextPage"]
        levels += item["inventoryLevels"]["nodes"]
    return {
        "orders": orders,
        "order_items": items,
        "returns": returns,
        "transactions": transactions,
        "payouts": payouts,
        "inventory": levels,
    }


async def test_graphql_crawl_equals_ground_truth() -> None:
    world = _world()
    sandbox = world.platforms["shopify"]
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        crawler = Crawler(http, world.clock, sandbox.credentials(CLIENT))
        crawled = await _graphql_crawl(crawler)
    assert set(crawled) == set(sandbox.resources)
    for resource, records in crawled.items():
        truth = sandbox.ground_truth(CLIENT, resource)
        assert truth, resource
        assert by_id(records) == by_id(truth), resource
    assert crawler.throttled > 0  # the nested-items crawl outruns the 100 points/s restore
    assert world.accounting.throttled[("shopify", GRAPHQL)] == crawler.throttled


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_rest_crawl_equals_ground_truth_in_shop_local_time() -> None:
    world = _world()
    sandbox = world.platforms["shopify"]
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        crawler = Crawler(http, world.clock, sandbox.credentials(CLIENT))
        orders = await crawler.rest_orders(status="any", limit=25)
        open_only = await crawler.rest_orders(limit=250)
    truth = by_id(sandbox.ground_truth(CLIENT, "orders"))
    rest = {o["admin_graphql_api_id"]: o for o in orders}
    assert rest.keys() == truth.keys() and len(orders) == len(truth)
    offsets = set()
    for gid, order in rest.items():
        expected = truth[gid]
        for rest_key, gql_key in (("created_at", "createdAt"), ("updated_at", "updatedAt")):
            offsets.add(order[rest_key][-6:])
            assert datetime.fromisoformat(order[rest_key]).timestamp() == _epoch(expected[gql_key])
        assert Decimal(order["total_price"]) == Decimal(
            expected["totalPriceSet"]["shopMoney"]["amount"]
        )
        assert order["total_price"].count(".") == 1 and len(order["total_price"].split(".")[1]) == 2
        assert order["name"] == expected["name"] and order["id"] == int(
            expected["legacyResourceId"]
        )
    assert offsets <= {"-05:00", "-04:00"} and offsets
    # without status=any only open orders (not archived, not cancelled) are listed
    assert {o["id"] for o in open_only} == {
        int(t["legacyResourceId"])
        for t in truth.values()
        if not t["closed"] and not t["cancelledAt"]
    }
    assert len(open_only) < len(truth)


async def test_bulk_crawl_equals_ground_truth() -> None:
    world = _world()
    sandbox = world.platforms["shopify"]
    inner = f"""{{ orders {{ edges {{ node {{ {ORDER_FIELDS}
        lineItems {{ edges {{ node {{ {LINE_FIELDS} }} }} }} }} }} }} }}"""
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        crawler = Crawler(http, world.clock, sandbox.credentials(CLIENT))
        began = world.clock.now()
        lines = await crawler.bulk(inner)
    orders = [line for line in lines if "__parentId" not in line]
    children = [line for line in lines if "__parentId" in line]
    # the result is a snapshot taken when the operation was accepted
    truth_at_start = World(load("tiny"), clock=ManualClock(began), platforms=("shopify",))
    assert by_id(orders) == by_id(truth_at_start.ground_truth(CLIENT, "shopify", "orders"))
    items = [
        {**{k: v for k, v in c.items() if k != "__parentId"}, "orderId": c["__parentId"]}
        for c in children
    ]
    assert by_id(items) == by_id(truth_at_start.ground_truth(CLIENT, "shopify", "order_items"))
    position = {line["id"]: i for i, line in enumerate(lines)}
    assert all(position[c["__parentId"]] < position[c["id"]] for c in children)  # parents first


FAULTY = FaultRates(
    server_error=0.05,
    throttle_despite_budget=0.05,
    slow=0.05,
    timeout=0.01,
    short_page=0.1,
    lost_next_token=0.0,
    duplicate=0.1,
    token_expiry=0.03,
)


async def _faulty_run(seed: int) -> tuple[dict[str, list[dict[str, Any]]], list, World]:
    world = _world(Faults("none", seed=seed, per_platform={"shopify": FAULTY}))
    sandbox = world.platforms["shopify"]
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        crawler = Crawler(http, world.clock, sandbox.credentials(CLIENT))
        crawled = await _graphql_crawl(crawler)
        crawled["rest"] = await crawler.rest_orders(status="any", limit=20)
    return crawled, crawler.transcript, world


async def test_fault_runs_are_reproducible_and_still_complete() -> None:
    first, transcript_1, world = await _faulty_run(11)
    second, transcript_2, _ = await _faulty_run(11)
    assert transcript_1 == transcript_2 and first == second
    sandbox = world.platforms["shopify"]
    faults = world.accounting.faults
    for kind in (
        "server_error",
        "throttle_despite_budget",
        "short_page",
        "duplicate",
        "token_expiry",
    ):
        assert faults[("shopify", kind)] > 0, kind
    for resource in sandbox.resources:
        assert by_id(first[resource]) == by_id(sandbox.ground_truth(CLIENT, resource)), resource
    _, transcript_3, _ = await _faulty_run(12)
    assert transcript_3 != transcript_1
