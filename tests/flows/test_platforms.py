"""Every platform onboarded end to end: stored records equal the ground truth exactly."""

from __future__ import annotations

import pytest

from shared.flows.chains import resources_of
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_onboarding import assert_matches_truth, onboard


@pytest.mark.parametrize("platform", ["ebay", "etsy", "shopify", "quiltt"])
async def test_onboarding_stores_exactly_the_ground_truth(monkeypatch, azurite, platform) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=(platform,))
    async with stack.running():
        status = await onboard(stack, platform)
        assert status["runtimeStatus"] == "Completed", status
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        problems = [
            (b.block_id, b.state, b.last_error) for b in blocks if b.state != BlockState.DONE
        ]
        assert not problems, problems[:3]
        await assert_matches_truth(stack, platform, resources_of(platform))
