"""A re-load whose fetch fails without a verdict ends with its ledger row failed.

A re-load (``BlockSpec.heals``) makes one attempt; when its fetch gave up (a permanent
answer here: getOrders refused with 400 InvalidInput) no check ran, and its row stayed
``running`` — a load in flight to the next check and to the next run's planner
(``generations.reopen`` had to treat such rows as stale). It is now recorded failed,
with the error, so either plans the next generation as for any failed re-load.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from orchestrators import load_block
from shared.flows.models import BlockRun, BlockSpec
from shared.platforms.base import Window
from shared.storage.blocks import Block, BlockKey, BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_integrity_heal import stopped_onboarding

REFUSAL = {"errors": [{"code": "InvalidInput", "message": "Invalid Input", "details": ""}]}


class RefuseOrders(httpx.AsyncBaseTransport):
    """The world's transport, but every getOrders request is refused (400)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.refused = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/orders/v0/orders"):
            self.refused += 1
            return httpx.Response(400, json=REFUSAL, request=request)
        return await self.inner.handle_async_request(request)


async def test_a_reload_whose_fetch_fails_is_recorded_failed(monkeypatch, azurite) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    refusing = RefuseOrders(stack.world.transport())
    stack.transport = lambda _platform: refusing
    async with stack.running():
        await stopped_onboarding(stack)
        now = stack.now()
        window = Window(start=now - timedelta(days=1), end=now - timedelta(minutes=10))
        account = stack.account("amazon")
        spec = BlockSpec(
            client=stack.client_id,
            platform="amazon",
            account=account,
            resource="orders",
            block_id="daily.orders.test~2",
            window=window,
            tier="daily",
            phase="recent_day",
            heals="order_items.asking",
        )
        row = Block(
            client=spec.client,
            platform="amazon",
            account=account,
            resource="orders",
            block_id=spec.block_id,
            window_start=window.start,
            window_end=window.end,
            created_at=now,
            updated_at=now,
        )
        ledger = Ledger(stack.settings)
        assert await ledger.plan_blocks([row])
        run = BlockRun(spec=spec).model_dump(mode="json")
        status = await stack.host.run(load_block.NAME, run, f"{stack.client_id}|reload")
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"]["state"] == "failed", status["output"]
        assert refusing.refused == 1
        key = BlockKey(spec.client, "amazon", account, "orders", spec.block_id)
        block = await ledger.get_block(key)
        assert block is not None and block.state == BlockState.FAILED, block
        assert block.attempts == 1
        assert "permanent: 400" in (block.last_error or ""), block.last_error
