"""Complete crawls of the sandbox's ``tiny`` shop through the connector, on every path.

Every resource is fetched window by window (three windows covering the whole history;
inventory as one snapshot), normalized, and compared with the sandbox's ground truth
normalized the same way: the same natural keys and equal records, field for field."""

from __future__ import annotations

import pytest

from shared.models import Record
from tests.platforms.shopify.support import (
    Stats,
    account,
    connector,
    drive,
    make_world,
    records,
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


async def crawl(world, resource: str, stats: Stats, **path) -> dict[str, Record]:
    conn = connector(world)
    try:
        blocks = [None] if resource == "inventory" else windows(world)
        payloads = []
        for window in blocks:
            first = conn.first_request(resource, window, **path)
            payloads += await drive(conn, world.clock, first, stats)
        return records(resource, payloads, account(world))
    finally:
        await conn.aclose()


@pytest.mark.parametrize("resource", RESOURCES)
async def test_paged_graphql_crawl_equals_ground_truth(resource: str) -> None:
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats)
    assert_same(resource, got, truth(world, resource))
    assert stats.outcomes["permanent"] == 0


@pytest.mark.parametrize("resource", ["orders", "order_items", "returns"])
async def test_rest_crawl_equals_ground_truth(resource: str) -> None:
    world, stats = make_world(), Stats()
    got = await crawl(world, resource, stats, rest=True)
    assert_same(resource, got, truth(world, resource))
