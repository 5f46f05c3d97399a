"""Onboarding end to end: connect over HTTP, backfill through devhost, compare to truth."""

from __future__ import annotations

import json

import pytest

from shared.models import record_from_json
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.truth import truth

AMAZON = ("orders", "order_items", "payouts", "transactions", "inventory", "returns")


@pytest.fixture
def stack(monkeypatch, azurite) -> Stack:
    return Stack(monkeypatch, azurite.connection_string)


async def test_amazon_onboarding_stores_exactly_the_ground_truth(stack: Stack) -> None:
    async with stack.running():
        response = await stack.connect("amazon")
        assert response.status_code == 202, response.get_body()
        links = json.loads(response.get_body())
        status = await stack.host.run_until_done(links["id"])
        assert status["runtimeStatus"] == "Completed", status
        for resource in AMAZON:
            want = truth(stack, "amazon", resource)
            rows = await stack.stored("amazon", resource)
            got = {r["natural_key"]: record_from_json(r) for r in rows}
            assert want, resource
            assert len(rows) == len(got)
            missing, extra = set(want) - set(got), set(got) - set(want)
            assert not missing and not extra, (resource, sorted(missing)[:3], sorted(extra)[:3])
            assert got == want, resource
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks)
