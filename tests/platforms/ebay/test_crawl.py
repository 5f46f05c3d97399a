"""A complete crawl of the tiny world through the eBay connector equals the ground truth.

Every resource is paged through ``EbayConnector`` chains driven by the patient loop,
normalized and compared with the sandbox's ground truth normalized the same way: same
natural keys, same records. eBay has no bulk path. A second crawl runs with the sandbox's
fault profile on — 5xx, eBay's transient 400/404, quota throttles, timeouts, early token
expiry, duplicated records, short pages and lost ``next`` links (the last two caught by
paging on ``total``) — and must still be complete. Only ``updated_during_sync`` is off: it
changes orders after they were read, which no crawl can see (the planner's overlap does).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from sandbox.faults import PROFILES, Faults
from shared.models import Record
from shared.platforms.base import Outcome
from tests.platforms.ebay.support import EbayEnv, records, truth_records

RESOURCES = ("orders", "order_items", "returns", "transactions", "payouts", "inventory")
FAULTS = replace(
    PROFILES["default"].scaled(4.0),
    token_expiry=0.05,
    lost_next_token=0.05,
    updated_during_sync=0.0,
)


def assert_same(crawled: list[Record], truth: list[Record], what: str) -> None:
    got = {r.natural_key: r for r in crawled}
    want = {r.natural_key: r for r in truth}
    assert want, f"the tiny world has {what}"
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing and not extra, f"{what}: missing {missing[:5]}, extra {extra[:5]}"
    differ = [k for k in want if got[k] != want[k]]
    assert not differ, f"{what}: {len(differ)} differ, e.g. {got[differ[0]]} != {want[differ[0]]}"


async def crawl(env: EbayEnv, page_limit: int | None = None) -> dict[str, list[Record]]:
    connector = env.connector(page_limit)
    window = env.history_window()
    out = {}
    try:
        for resource in RESOURCES:
            results = await env.drive(connector, connector.first_request(resource, window))
            out[resource] = records(results, resource, env.account)
            counts = {r.reported_count for r in results if r.reported_count}
            assert len(counts) <= 1, f"{resource}: total changed while paging: {counts}"
    finally:
        await connector.aclose()
    env.assert_still_quiet()
    return out


@pytest.fixture(scope="module")
async def crawled() -> tuple[EbayEnv, dict[str, list[Record]]]:
    env = EbayEnv()
    return env, await crawl(env)


@pytest.mark.parametrize("resource", RESOURCES)
async def test_crawl_equals_ground_truth(crawled, resource: str) -> None:
    env, result = crawled
    assert_same(result[resource], truth_records(env, resource), resource)


async def test_nested_resources_match_their_own_ground_truth(crawled) -> None:
    env, result = crawled
    items = {f"{i['orderId']}|{i['lineItemId']}" for i in env.truth("order_items")}
    assert {r.natural_key for r in result["order_items"]} == items
    refunds = {r.get("refundId") or r.get("refundReferenceId") for r in env.truth("returns")}
    assert {r.natural_key for r in result["returns"]} == refunds - {None}


async def test_fault_crawl_is_complete() -> None:
    env = EbayEnv(faults=Faults(FAULTS, seed=5))
    result = await crawl(env, page_limit=10)  # small pages: many requests for faults to hit
    for resource in RESOURCES:
        assert_same(result[resource], truth_records(env, resource), resource)
    faults = env.world.accounting.faults
    hit = {kind for (platform, kind), n in faults.items() if platform == "ebay" and n}
    wanted = {"server_error", "ebay_transient", "short_page", "lost_next_token", "token_expiry"}
    assert wanted <= hit, hit
    assert env.outcomes[Outcome.TRANSIENT] > 0 and env.outcomes["refreshed"] > 0
