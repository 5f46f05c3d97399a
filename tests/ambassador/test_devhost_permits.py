"""The ambassador end to end: 20 concurrent block orchestrations, devhost, the sandbox.

``permit_app`` runs on devhost's real replay with the real ambassador entity; each block's
activity makes its HTTP request to the sandbox through ``World.transport()``. devhost's
``VirtualClock`` *is* the sandbox's clock (it has the ``now()`` / ``async sleep`` of
``sandbox.clock.Clock``), so the platform's bucket refills on the time the orchestrations'
durable timers run on. Measured from the sandbox's own accounting: no 429 served, and the
bucket's capacity over the run — ``burst + rate x (last call - first call)``, the most a
bucket that starts full can admit in that closed interval — used to at least 95 %.

Run (prints the figures)::

    .venv/bin/python -m pytest tests/ambassador/test_devhost_permits.py -q -s
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from devhost.clock import VirtualClock
from devhost.host import DevHost
from sandbox.clock import Clock
from sandbox.scenario import load
from sandbox.world import World
from shared.ambassador.protocol import entity_key
from tests.ambassador import permit_app

BLOCKS = 20
AMAZON_CALLS = 8 * BLOCKS  # 160 calls: 30 from the burst, 130 at 0.5/s (260 s)
SHOPIFY_CALLS = 16 * BLOCKS  # 320 calls: 40 from the bucket, 280 at 2/s (140 s)
BATCH = 10
T = TypeVar("T")


@dataclass
class Measured:
    served: int
    points: int  # GraphQL: the actual cost of every query
    throttled: int
    first: float
    last: float
    virtual_s: float
    wall_s: float
    entity_operations: int
    episodes: int
    blocks: list[dict[str, Any]]

    def utilization(self, rate: float, burst: int, points: bool = False) -> float:
        """Requests (or GraphQL cost points) served over the bucket's capacity in the run."""
        used = self.points if points else self.served
        return used / (burst + rate * (self.last - self.first))


async def run_blocks(
    world: World,
    clock: VirtualClock,
    key: str,
    platform: str,
    route: str,
    calls: list[dict],
    cost: int = 1,
) -> Measured:
    """Run ``BLOCKS`` blocks sharing ``calls`` equally, all on one ambassador lane."""
    per_block = len(calls) // BLOCKS
    assert isinstance(clock, Clock)  # one timeline: the sandbox runs on devhost's clock
    host = DevHost(permit_app.build_app(), clock=clock)
    log: list[tuple[float, int, int | None]] = []
    blocks = [
        {
            "entity": key,
            "platform": platform,
            "route": route,
            "client": "c-tiny",
            "tier": "daily",
            "resource": "order_items",
            "batch": BATCH,
            "cost": cost,
            "calls": calls[i * per_block : (i + 1) * per_block],
        }
        for i in range(BLOCKS)
    ]
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        permit_app.WIRING.update(http=http, clock=clock, log=log)
        started, wall = clock.now(), time.perf_counter()
        status = await host.run(permit_app.FANOUT, {"blocks": blocks})
        wall = time.perf_counter() - wall
    assert status["runtimeStatus"] == "Completed", status
    summary = world.accounting.summary(platform)
    times = [t for t, *_ in log]
    return Measured(
        served=sum(1 for _, s, _ in log if s == 200),
        points=sum(actual or 0 for *_, actual in log),
        throttled=summary["http_429"],
        first=min(times),
        last=max(times),
        virtual_s=clock.now() - started,
        wall_s=wall,
        entity_operations=host.counters.entity_operations,
        episodes=host.counters.episodes,
        blocks=status["output"],
    )


async def on_clock(clock: VirtualClock, awaitable: Awaitable[T]) -> T:
    """Await outside devhost on its virtual clock: the sandbox sleeps its latency on it."""
    task = asyncio.ensure_future(awaitable)
    while not task.done():
        await asyncio.sleep(0)
        if not task.done() and (wake := clock.next_wakeup()) is not None:
            clock.advance_to(wake)
    return task.result()


def report(name: str, m: Measured, rate: float, burst: int, points: bool = False) -> None:
    print(
        f"\n{name}: {m.served} calls served, {m.throttled} x 429, utilization "
        f"{m.utilization(rate, burst, points):.2%} of burst {burst} + {rate}/s over "
        f"{m.last - m.first:.1f} s; virtual {m.virtual_s:.1f} s, wall {m.wall_s:.1f} s, "
        f"{m.entity_operations} entity operations, {m.episodes} episodes, "
        f"{sum(b['waits'] for b in m.blocks)} denied asks, "
        f"{sum(b['missed'] for b in m.blocks)} leases missed"
    )


async def test_twenty_blocks_use_amazon_get_order_items_to_the_full_without_a_429() -> None:
    scenario = load("tiny")
    clock = VirtualClock(scenario.now)
    world = World(scenario, clock=clock, platforms=("amazon",))
    creds = world.platforms["amazon"].credentials("c-tiny")
    form = {k: creds[k] for k in ("refresh_token", "client_id", "client_secret")}
    form["grant_type"] = "refresh_token"
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        answer = await on_clock(clock, http.post("/amazon/auth/o2/token", data=form))
    token = answer.json()["access_token"]
    orders = [o["AmazonOrderId"] for o in world.ground_truth("c-tiny", "amazon", "orders")]
    calls = [
        {
            "path": f"/amazon/orders/v0/orders/{orders[n % len(orders)]}/orderItems",
            "headers": {"x-amz-access-token": token},
        }
        for n in range(AMAZON_CALLS)
    ]
    key = entity_key("amazon", creds["selling_partner_id"])
    m = await run_blocks(world, clock, key, "amazon", "getOrderItems", calls)
    report("amazon getOrderItems", m, 0.5, 30)
    assert world.accounting.throttled[("amazon", "getOrderItems")] == 0
    assert world.accounting.calls[("amazon", "getOrderItems")] == AMAZON_CALLS
    assert m.throttled == 0
    assert m.served == AMAZON_CALLS
    assert m.utilization(0.5, 30) >= 0.95


async def test_twenty_blocks_use_a_shopify_shops_rest_bucket_to_the_full_without_a_429() -> None:
    scenario = load("tiny")
    clock = VirtualClock(scenario.now)
    world = World(scenario, clock=clock, platforms=("shopify",))
    creds = world.platforms["shopify"].credentials("c-tiny")
    base = f"/shopify/{creds['shop']}/admin/api/{creds['api_version']}"
    calls = [
        {
            "path": f"{base}/orders.json?limit=5&status=any",
            "headers": {"X-Shopify-Access-Token": creds["access_token"]},
        }
        for _ in range(SHOPIFY_CALLS)
    ]
    m = await run_blocks(
        world, clock, entity_key("shopify", creds["shop"]), "shopify", "rest", calls
    )
    report("shopify REST", m, 2.0, 40)
    assert m.throttled == 0
    assert world.accounting.summary("shopify")["calls"] == SHOPIFY_CALLS  # none retried
    assert m.served == SHOPIFY_CALLS
    assert m.utilization(2.0, 40) >= 0.95


QUERY = "{ orders(first: 20) { nodes { id name createdAt } } }"


async def test_twenty_blocks_use_a_shopify_shops_graphql_cost_bucket_without_throttling() -> None:
    scenario = load("tiny")
    creds = World(scenario, platforms=("shopify",)).platforms["shopify"].credentials("c-tiny")
    base = f"/shopify/{creds['shop']}/admin/api/{creds['api_version']}"
    call = {
        "path": f"{base}/graphql.json",
        "headers": {"X-Shopify-Access-Token": creds["access_token"]},
        "json": {"query": QUERY},
    }
    probe_clock = VirtualClock(scenario.now)  # the query's cost, asked of a world of its own
    probe = World(scenario, clock=probe_clock, platforms=("shopify",))
    async with httpx.AsyncClient(transport=probe.transport(), base_url="http://sandbox") as http:
        answer = await on_clock(
            probe_clock, http.post(call["path"], headers=call["headers"], json=call["json"])
        )
    cost = answer.json()["extensions"]["cost"]["requestedQueryCost"]
    clock = VirtualClock(scenario.now)
    world = World(scenario, clock=clock, platforms=("shopify",))
    key = entity_key("shopify", creds["shop"])
    m = await run_blocks(world, clock, key, "shopify", "graphql", [call] * SHOPIFY_CALLS, cost)
    per_query = f"requested {cost}, actual {m.points / m.served:.1f} points per query"
    report(f"shopify GraphQL ({per_query})", m, 100.0, 2000, points=True)
    assert m.throttled == 0  # no THROTTLED answer (the sandbox counts them with the 429s)
    assert m.served == SHOPIFY_CALLS
    assert m.utilization(100.0, 2000, points=True) >= 0.95
