"""A complete crawl of the tiny world through the Amazon connector equals the ground truth.

Every resource is fetched through ``AmazonConnector`` chains driven by a patient loop
(support.drive: waits as told, never sleeps), normalized with ``shared.normalize`` and
compared with the sandbox's ground truth normalized the same way: the same natural keys
and the same records, field for field. Orders and items are fetched by the paged path
(getOrders -> getOrderItems via ``dependent_request``) and by the bulk path (the
all-orders report); returns only exist as a report. A second crawl runs with the sandbox's
recoverable faults on (5xx, throttles despite budget, timeouts, slow answers, duplicated
records, early token expiry, empty finance pages with a NextToken) and must still be
complete. Faults that silently drop data (short pages, lost next tokens) are not
detectable by a connector — Amazon reports no counts — and are left to the overlap
windows of the planner, so they are off here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sandbox.faults import PROFILES, Faults
from shared.models import Record
from shared.platforms.base import Outcome
from tests.platforms.amazon.support import (
    AmazonEnv,
    by_key,
    crawl_bulk,
    crawl_paged,
    truth_records,
)

RECOVERABLE = replace(
    PROFILES["default"].scaled(4.0), short_page=0.0, lost_next_token=0.0, updated_during_sync=0.0
)


def dump(items: dict[str, Record]) -> dict[str, dict[str, Any]]:
    return {k: v.model_dump(mode="json") for k, v in items.items()}


def assert_same(crawled: list[Record], truth: list[Record], what: str) -> None:
    got, want = by_key(crawled), by_key(truth)
    assert want, f"the tiny world has {what}"
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing and not extra, f"{what}: missing {missing[:5]}, extra {extra[:5]}"
    differ = [k for k in want if got[k] != want[k]]
    assert not differ, (
        f"{what}: {len(differ)} records differ, e.g. {dump({differ[0]: got[differ[0]]})}"
    )


@pytest.fixture(scope="module")
async def paged() -> tuple[AmazonEnv, dict[str, list[Record]]]:
    env = AmazonEnv()
    return env, await crawl_paged(env)


@pytest.mark.parametrize(
    "resource", ["orders", "order_items", "payouts", "transactions", "inventory"]
)
async def test_paged_crawl_equals_ground_truth(paged, resource: str) -> None:
    env, crawled = paged
    assert_same(crawled[resource], truth_records(env, resource), resource)


async def test_paged_crawl_was_throttled_and_waited(paged) -> None:
    env, _ = paged
    assert env.outcomes[Outcome.THROTTLED] > 0, "getOrderItems exceeds its burst on tiny"
    assert env.outcomes[Outcome.PERMANENT] == 0


@pytest.fixture(scope="module")
async def bulk() -> tuple[AmazonEnv, dict[str, list[Record]]]:
    env = AmazonEnv()
    return env, await crawl_bulk(env)


def order_projection(items: list[Record]) -> dict[str, tuple]:
    return {
        o.natural_key: (o.order_id, o.created_at, o.updated_at, o.status, o.cancelled, o.total)
        for o in items
    }


def item_projection(items: list[Record]) -> dict[str, tuple]:
    return {
        i.natural_key: (
            i.order_id,
            i.sku,
            i.product_id,
            i.quantity,
            i.line_price,
            i.tax,
            i.shipping,
        )
        for i in items
    }


async def test_bulk_orders_equal_ground_truth(bulk) -> None:
    """The flat file has no OrderItemId, marketplace id or title: the fields both paths
    carry must agree, for every order and item."""
    env, crawled = bulk
    truth = truth_records(env, "orders")
    assert truth and order_projection(crawled["orders"]) == order_projection(truth)
    truth_items = truth_records(env, "order_items")
    assert truth_items and item_projection(crawled["order_items"]) == item_projection(truth_items)


async def test_bulk_returns_equal_ground_truth(bulk) -> None:
    env, crawled = bulk
    assert_same(crawled["returns"], truth_records(env, "returns"), "returns")


async def test_crawls_with_recoverable_faults_are_complete() -> None:
    env = AmazonEnv(faults=Faults(RECOVERABLE, seed=3))
    paged_records = await crawl_paged(env)
    bulk_records = await crawl_bulk(env)
    for resource in ("orders", "order_items", "payouts", "transactions", "inventory"):
        assert_same(paged_records[resource], truth_records(env, resource), resource)
    assert_same(bulk_records["returns"], truth_records(env, "returns"), "returns")
    assert order_projection(bulk_records["orders"]) == order_projection(
        truth_records(env, "orders")
    )
    assert item_projection(bulk_records["order_items"]) == item_projection(
        truth_records(env, "order_items")
    )
    faults = env.world.accounting.faults
    hit = {kind for (platform, kind), n in faults.items() if platform == "amazon" and n}
    assert {"server_error", "throttle_despite_budget", "empty_finance_page"} <= hit, hit
    assert env.outcomes[Outcome.TRANSIENT] > 0
