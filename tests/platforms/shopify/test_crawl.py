"""Complete crawls of the sandbox's ``tiny`` shop through the connector, on every path.

Every resource is fetched window by window (three windows covering the whole history;
inventory as one snapshot), normalized, and compared with the sandbox's ground truth
normalized the same way: the same natural keys and equal records, field for field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.faults import PROFILES, Faults
from shared.models import Record
from shared.platforms.base import Window
from tests.platforms.shopify.support import (
    Stats,
    account,
    connector,
    drive,
    make_world,
    records,
    release,
    truth,
    windows,
)

RESOURCES = ("orders", "order_items", "returns", "transactions", "payouts", "inventory")


def assert_same(resource: str, got: dict[str, Record], want: dict[str, Record]) -> None:
    assert want, f"the scenario has {resource}"
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing and not extra, f"{resource}: missing {missing[:3]}, extra {extra[:3]}"
    differ = [k for k in want if got[k] != want[k]]
    assert not differ, (
        f"{resource}: {len(differ)} differ, e.g. {got[differ[0]]} != {want[differ[0]]}"
    )


def small(resource: str) -> dict[str, int]:
    """Small pages, so that every chain is long enough for the faults to hit."""
    budget = {"payouts": 12, "transactions": 40, "inventory": 60}.get(resource, 200)
    return {"budget": budget, "rest_limit": 15}


TIME_FIELD = {
    "orders": "created_at",
    "order_items": "created_at",  # the order's creation
    "transactions": "posted_at",
    "payouts": "issued_at",
}


def assert_inside(resource: str, window: Window | None, got: dict[str, Record]) -> None:
    """Every record of a block lies in the block's window (half-open)."""
    name = TIME_FIELD.get(resource)
    if window is None or name is None:
        return
    outside = [k for k, r in got.items() if not window.start <= getattr(r, name) < window.end]
    assert not outside, f"{resource}: {len(outside)} records outside {window}"


async def crawl(world, resource: str, stats: Stats, options=None, **path) -> dict[str, Record]:
    conn = connector(world, **(options or {}))
    try:
        blocks = [None] if resource == "inventory" else windows(world)
        payloads = []
        for window in blocks:
            first = conn.first_request(resource, window, **path)
            block = await drive(conn, world.clock, first, stats)
            assert_inside(resource, window, records(resource, block, account(world)))
            payloads += block
        return records(resource, payloads, account(world))
    finally:
        await release(world, conn)


@pytest.mark.parametrize("resource", RESOURCES)
async def test_paged_graphql_crawl_equals_ground_truth(resource: str) -> None:
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats)
    assert_same(resource, got, truth(world, resource))
    assert stats.cost_checked == stats.requests  # every PageRequest.cost was Shopify's
    assert stats.max_throttled_in_a_row <= 1  # the computed wait was long enough


@pytest.mark.parametrize("resource", ["orders", "order_items", "returns"])
async def test_rest_crawl_equals_ground_truth(resource: str) -> None:
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats, rest=True)
    assert_same(resource, got, truth(world, resource))


@pytest.mark.parametrize("resource", ["order_items", "inventory"])  # tiny refunds: 1 line
async def test_truncated_nested_connections_are_asked_again_wider(resource: str) -> None:
    """With one line item (inventory level) per node, orders (items) with more
    are truncated: the page is asked for again with wider nested connections."""
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats, {"nested": 1})
    assert_same(resource, got, truth(world, resource))
    assert stats.widened > 0


@pytest.mark.parametrize("resource", ["orders", "order_items", "returns"])
async def test_bulk_crawl_equals_ground_truth(resource: str) -> None:
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats, bulk=True)
    want = truth(world, resource)
    # bulk refunds carry no refund lines (no connection inside a list field): a returns
    # block asks for the refunds of the orders the file shows with some, lines and all
    assert resource != "returns" or any(r.lines for r in got.values())
    assert_same(resource, got, want)
    assert stats.outcomes["ok"] >= 3 * 3  # create, poll(s), download per window
    assert stats.cost_checked == stats.requests and stats.max_throttled_in_a_row <= 1


async def crawl_with_delta(world, resource: str, stats: Stats, **path) -> dict[str, Record]:
    """A backfill, then the daily sync's pass (same path) over what changed while it ran (the
    ``updated_during_sync`` fault touches orders mid-crawl), merged by natural key."""
    began = world.clock.now()
    got = await crawl(world, resource, stats, small(resource), **path)
    if resource in ("orders", "order_items", "returns"):
        conn = connector(world, **small(resource))
        try:
            start = datetime.fromtimestamp(began - 60, UTC).replace(microsecond=0)
            end = datetime.fromtimestamp(world.clock.now() + 1, UTC).replace(microsecond=0)
            delta = Window(start=start, end=end)
            first = conn.first_request(resource, delta, by_update=True, **path)
            got |= records(resource, await drive(conn, world.clock, first, stats), account(world))
        finally:
            await release(world, conn)
    return got


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("resource", "path"),
    [(r, {}) for r in RESOURCES]
    + [(r, {"rest": True}) for r in ("orders", "order_items", "returns")]
    + [(r, {"bulk": True}) for r in ("orders", "order_items", "returns")],
)
async def test_crawls_with_faults_are_still_complete(resource: str, path: dict, seed: int) -> None:
    world, stats = make_world(Faults(PROFILES["harsh"].scaled(3.0), seed=seed)), Stats()
    got = await crawl_with_delta(world, resource, stats, **path)
    want = truth(world, resource)
    assert_same(resource, got, want)
    assert world.accounting.summary("shopify")["faults_injected"] > 0
