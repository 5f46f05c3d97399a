"""The Shopify sandbox world, the connector pointed at it, and a block loop for crawls.

``drive`` plays the block orchestrator's part with generous waits on the sandbox's
``ManualClock`` (never real sleeps): it waits ``not_before_s``, waits out ``throttled``
(``retry_after_s``), ``transient`` (exponential backoff) and ``auth_expired`` answers
(one that survived fetch's own refresh) and retries the same request, keeps every ok
payload, and checks the block at the end — an orders block must hold as many distinct
orders as ``ordersCount`` reported, else the whole block is loaded again (as the
integrity activity does). A permanent answer fails the test.
"""

from __future__ import annotations

import json
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sandbox.clock import ManualClock
from sandbox.faults import Faults
from sandbox.scenario import load
from sandbox.world import World
from shared.models import Record
from shared.normalize import normalize
from shared.platforms.base import FetchResult, Outcome, PageRequest, Window
from shared.platforms.shopify.client import ShopifyConnector, build
from shared.settings import PlatformSettings

CLIENT = "c-tiny"
SANDBOX_URL = "http://sandbox/shopify"
MAX_ATTEMPTS = 10
MAX_BLOCK_TRIES = 3
MAX_STEPS = 2_000


def make_world(faults: Faults | None = None) -> World:
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), faults=faults, platforms=("shopify",))
    sandbox = world.platforms["shopify"]
    world.clock.set(sandbox.quiet_time(CLIENT, scenario.now, 6 * 3600))  # type: ignore[attr-defined]
    return world


def settings() -> PlatformSettings:
    return PlatformSettings(base_url=SANDBOX_URL)


def credentials(world: World) -> dict[str, str]:
    return world.credentials()[CLIENT]["shopify"]


def client_of(world: World) -> str:
    """The world's client: ``CLIENT`` on tiny, else the scenario's first (the demo's)."""
    ids = [spec.client_id for spec in world.scenario.clients]
    return CLIENT if CLIENT in ids else ids[0]


def account(world: World) -> str:
    return world.scenario.client(client_of(world)).account("shopify")


# world -> the shop's latest credentials. Weak keys, not id(world): a finished test's world
# is freed and a later world can reuse its id, which handed the new sandbox the old one's
# rotated refresh token (invalid_grant, a flaky test)
_VAULT: weakref.WeakKeyDictionary[World, dict[str, str]] = weakref.WeakKeyDictionary()


def connector(world: World, **options: Any) -> ShopifyConnector:
    """A connector on the shop's latest credentials (as the app's credential store
    would hand them out); ``release`` stores them back, rotated refresh token included.
    ``options`` go to ``build`` (``budget``, ``rest_limit`` for smaller pages)."""
    return build(
        settings(),
        _VAULT.get(world) or credentials(world),
        account(world),
        transport=world.transport(),
        now=world.clock.now,
        **options,
    )


async def release(world: World, conn: ShopifyConnector) -> None:
    _VAULT[world] = conn.credentials()
    await conn.aclose()


def windows(world: World, parts: int = 3) -> list[Window]:
    """Half-open windows covering the client's whole history up to just after now."""
    spec = world.scenario.client(CLIENT)
    start = datetime.fromtimestamp(spec.history_start, UTC) - timedelta(days=1)
    end = datetime.fromtimestamp(world.clock.now(), UTC) + timedelta(seconds=1)
    step = (end - start) / parts
    edges = [start + step * i for i in range(parts)] + [end]
    edges = [e.replace(microsecond=0) for e in edges]
    return [Window(start=a, end=b) for a, b in pairwise(edges)]


@dataclass
class Stats:
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    block_retries: int = 0
    refreshed: int = 0
    waited_s: float = 0.0
    cost_checked: int = 0  # GraphQL answers whose requested cost was compared
    max_throttled_in_a_row: int = 0
    widened: int = 0


async def drive(
    conn: ShopifyConnector, clock: ManualClock, first: PageRequest, stats: Stats
) -> list[Any]:
    """Every record-bearing payload of the block that starts with ``first``."""
    for _ in range(MAX_BLOCK_TRIES):
        payloads, reported = await _chain(conn, clock, first, stats)
        if reported is None or reported == _distinct_orders(payloads):
            return payloads
        stats.block_retries += 1  # the integrity check failed: load the block again
    raise AssertionError(f"block {first.resource} {first.window} incomplete after retries")


async def _chain(
    conn: ShopifyConnector, clock: ManualClock, first: PageRequest, stats: Stats
) -> tuple[list[Any], int | None]:
    payloads: list[Any] = []
    reported: int | None = None
    request: PageRequest | None = first
    attempts = 0
    for _ in range(MAX_STEPS):
        if request is None:
            return payloads, reported
        replayed = PageRequest.model_validate_json(request.model_dump_json())
        assert replayed == request  # plain JSON: it survives an orchestration history
        request = replayed
        if request.not_before_s:
            _wait(clock, request.not_before_s, stats)
        result: FetchResult = await conn.fetch(request)
        _no_secrets(conn, result)
        requested = result.classified.limit_headers.get("X-GraphQL-Cost-Requested")
        if requested is not None and result.request.route != "rest":
            # the permits asked for are exactly what Shopify debits before running the query
            assert int(requested) == request.cost, (request.step, requested, request.cost)
            stats.cost_checked += 1
        stats.requests += 1
        stats.outcomes[result.classified.outcome.value] += 1
        stats.refreshed += result.refreshed_token
        outcome = result.classified.outcome
        if outcome is Outcome.OK:
            if result.payload is not None:
                payloads.append(result.payload)
            elif request.step == "page":
                stats.widened += 1  # a partial page, asked for again wider
            if result.reported_count is not None:
                reported = result.reported_count
            request, attempts = result.next, 0
            continue
        attempts += 1
        if outcome is Outcome.THROTTLED:
            stats.max_throttled_in_a_row = max(stats.max_throttled_in_a_row, attempts)
        assert attempts <= MAX_ATTEMPTS, f"{request.step} kept failing: {result.classified}"
        if outcome is Outcome.THROTTLED:
            _wait(clock, result.classified.retry_after_s or 1.0, stats)
        elif outcome in (Outcome.TRANSIENT, Outcome.AUTH_EXPIRED):
            # auth_expired reaches the loop only when the token fetch had just refreshed
            # expired too (the token_expiry fault twice in a row): the next fetch refreshes again
            _wait(clock, min(60.0, 2.0**attempts), stats)
        else:
            raise AssertionError(f"{request.step} {request.resource}: {result.classified}")
    raise AssertionError("chain did not end")


def _no_secrets(conn: ShopifyConnector, result: FetchResult) -> None:
    """No credential in what crosses durable boundaries (the request, the outcome)."""
    shown = result.model_dump_json(exclude={"payload"})
    for key in ("access_token", "refresh_token", "client_secret"):
        secret = conn.credentials().get(key)
        assert not secret or secret not in shown, f"{key} leaked into a FetchResult"


def _wait(clock: ManualClock, seconds: float, stats: Stats) -> None:
    clock.advance(seconds)
    stats.waited_s += seconds


def _distinct_orders(payloads: list[Any]) -> int:
    ids: set[str] = set()
    for payload in payloads:
        if isinstance(payload, str):  # a bulk file: the top-level lines are the orders
            lines = [json.loads(line) for line in payload.splitlines() if line.strip()]
            ids |= {line["id"] for line in lines if "__parentId" not in line}
        elif isinstance(payload, dict) and "data" in payload:
            ids |= {e["node"]["id"] for e in payload["data"]["orders"]["edges"]}
        elif isinstance(payload, dict):
            ids |= {str(o["id"]) for o in payload.get("orders", [])}
    return len(ids)


def records(resource: str, payloads: list[Any], shop: str) -> dict[str, Record]:
    """Normalized records by natural key (a later copy of a record wins, as an upsert)."""
    out: dict[str, Record] = {}
    for payload in payloads:
        for record in normalize("shopify", resource, payload, account=shop):
            out[record.natural_key] = record
    return out


# --- the ground truth as pages --------------------------------------------------------


def _conn(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"edges": [{"node": n} for n in nodes], "pageInfo": {"hasNextPage": False}}


def truth(world: World, resource: str) -> dict[str, Record]:
    """The sandbox's ground truth, wrapped in the page shapes and normalized."""
    shop = account(world)
    gt = world.ground_truth(client_of(world), "shopify", resource)
    orders = world.ground_truth(client_of(world), "shopify", "orders")
    if resource == "orders":
        page = {"data": {"orders": _conn(orders)}}
    elif resource in ("order_items", "returns"):
        key = "lineItems" if resource == "order_items" else "refunds"
        children: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in gt:
            child = {k: v for k, v in row.items() if k != "orderId"}
            if isinstance(child.get("refundLineItems"), list):  # the API gives a connection
                child["refundLineItems"] = _conn(child["refundLineItems"])
            children[row["orderId"]].append(child)
        nodes = [
            {
                "id": o["id"],
                "createdAt": o["createdAt"],
                key: _conn(children[o["id"]]) if key == "lineItems" else children[o["id"]],
            }
            for o in orders
        ]
        page = {"data": {"orders": _conn(nodes)}}
    elif resource == "transactions":
        page = {"data": {"shopifyPaymentsAccount": {"balanceTransactions": _conn(gt)}}}
    elif resource == "payouts":
        page = {"data": {"shopifyPaymentsAccount": {"payouts": _conn(gt)}}}
    else:
        items: dict[str, dict[str, Any]] = {}
        for level in gt:
            item = items.setdefault(level["item"]["id"], {**level["item"], "levels": []})
            item["levels"].append(level)
        nodes = [
            {"id": i["id"], "sku": i.get("sku"), "inventoryLevels": _conn(i["levels"])}
            for i in items.values()
        ]
        page = {"data": {"inventoryItems": _conn(nodes)}}
    result = records(resource, [page], shop)
    assert len(result) == len(gt) or resource == "transactions", f"{resource}: keys collide"
    return result
