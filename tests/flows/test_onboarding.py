"""Onboarding end to end: connect over HTTP, backfill through devhost, compare to truth.

Faults: the Amazon sandbox's recoverable faults (5xx, throttles despite budget,
timeouts, slow answers, duplicated records, early token expiry, empty finance pages)
at four times the default rate. Short pages and lost next tokens are off: Amazon
reports no counts, so no check can see them (see tests/platforms/amazon/test_crawl.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sandbox.faults import PROFILES, Faults
from shared.models import record_from_json
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import BULK_RENDERED, report_truth
from tests.flows.truth import truth

AMAZON = ("orders", "order_items", "payouts", "transactions", "inventory", "returns")
RECOVERABLE = replace(
    PROFILES["default"].scaled(4.0), short_page=0.0, lost_next_token=0.0, updated_during_sync=0.0
)


async def assert_matches_truth(stack: Stack, platform: str, resources) -> None:
    for resource in resources:
        want = truth(stack, platform, resource)
        rows = await stack.stored(platform, resource)
        got = {r["natural_key"]: record_from_json(r) for r in rows}
        assert want, f"the tiny world has {platform} {resource}"
        assert len(rows) == len(got), f"{resource}: duplicate rows"
        missing, extra = set(want) - set(got), set(got) - set(want)
        assert not missing and not extra, (resource, sorted(missing)[:3], sorted(extra)[:3])
        if (platform, resource) in BULK_RENDERED:  # history from a report: other fields
            alt = report_truth(stack, resource)
            want = {k: got[k] if got[k] == alt.get(k) else v for k, v in want.items()}
        assert got == want, resource


async def onboard(stack: Stack, platform: str) -> dict:
    response = await stack.connect(platform)
    assert response.status_code == 202, response.get_body()
    links = json.loads(response.get_body())
    return await stack.host.run_until_done(links["id"])


@pytest.mark.parametrize("faults", [None, Faults(RECOVERABLE, seed=11)], ids=["clean", "faults"])
async def test_amazon_onboarding_stores_exactly_the_ground_truth(
    monkeypatch, azurite, faults
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, faults=faults)
    async with stack.running():
        status = await onboard(stack, "amazon")
        assert status["runtimeStatus"] == "Completed", status
        await assert_matches_truth(stack, "amazon", AMAZON)
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks)
        if faults is not None:
            assert sum(stack.world.accounting.faults.values()) > 0, "faults were injected"


async def test_crash_mid_backfill_resumes_from_the_ledger(monkeypatch, azurite) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    async with stack.running():
        response = await stack.connect("amazon")
        instance = json.loads(response.get_body())["id"]
        await stack.host.run_until_idle(max_virtual_s=30)  # the process dies here
        assert stack.host.status(instance)["runtimeStatus"] == "Running"
        ledger = Ledger(stack.settings)
        before = {b.block_id: b for b in await ledger.list_blocks(stack.client_id)}
        done_before = {k: b for k, b in before.items() if b.state == BlockState.DONE}
        assert done_before and len(done_before) < len(before), "stopped mid-backfill"

        stack.new_host()  # a new process: no instances, no entity state; same storage
        status = await onboard(stack, "amazon")
        assert status["runtimeStatus"] == "Completed", status
        after = {b.block_id: b for b in await ledger.list_blocks(stack.client_id)}
        assert all(b.state == BlockState.DONE for b in after.values())
        for block_id, block in done_before.items():  # never started again
            assert after[block_id].attempts == block.attempts
            assert after[block_id].updated_at == block.updated_at
        await assert_matches_truth(stack, "amazon", AMAZON)


async def test_connecting_the_same_account_twice_starts_no_second_backfill(
    monkeypatch, azurite
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    async with stack.running():
        first = await stack.connect("amazon")
        second = await stack.connect("amazon")
        assert first.status_code == 202 and second.status_code == 200
        one, two = json.loads(first.get_body()), json.loads(second.get_body())
        assert one["id"] == two["id"] and two["started"] is False
        await stack.host.run_until_done(one["id"])
        onboardings = [
            i for i in stack.host.instances if i.startswith("onboard|") and i.count("|") == 3
        ]
        assert onboardings == [one["id"]]
        third = await stack.connect("amazon")
        assert third.status_code == 200 and json.loads(third.get_body())["started"] is False
