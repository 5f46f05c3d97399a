"""A block that keeps failing: three attempts, one alert e-mail, parked; the rest
completes; the next run retries it. Then the daily sync after new sandbox activity."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_onboarding import AMAZON, assert_matches_truth, onboard

INVENTORY_PATH = "/amazon/fba/inventory/v1/summaries"


class Refusing(httpx.AsyncBaseTransport):
    """The world's transport, except that requests ``refuse(request)`` picks get a 400:
    the platform refusing one block's calls for good."""

    def __init__(self, inner: httpx.AsyncBaseTransport, refuse) -> None:
        self.inner, self.refuse, self.refused = inner, refuse, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse(request):
            self.refused += 1
            body = {"errors": [{"code": "InvalidInput", "message": "forced by the test"}]}
            return httpx.Response(400, json=body, request=request)
        return await self.inner.handle_async_request(request)


async def test_a_block_failing_three_times_is_parked_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    refusing = Refusing(stack.world.transport(), lambda r: r.url.path == INVENTORY_PATH)
    stack.transport = lambda _platform: refusing
    async with stack.running():
        status = await onboard(stack, "amazon")
        assert status["runtimeStatus"] == "Completed"
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        parked = [b for b in blocks if b.state == BlockState.PARKED]
        assert [b.resource for b in parked] == ["inventory"]
        assert parked[0].attempts == 3 and "forced by the test" in (parked[0].last_error or "")
        assert all(b.state == BlockState.DONE for b in blocks if b.resource != "inventory")
        assert refusing.refused == 3
        smtp.wait_for(1)
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert "inventory" in mail.subject and stack.client_id in mail.subject
        secret = stack.connect_body("amazon")["credentials"]["refresh_token"]
        assert secret not in mail.raw.decode()
        alerts = await ledger.list_alerts(stack.client_id)
        assert len(alerts) == 1 and alerts[0].sent_at is not None
        await assert_matches_truth(stack, "amazon", [r for r in AMAZON if r != "inventory"])
        assert await stack.stored("amazon", "inventory") == []

        # the platform answers again: the next run (the daily sync) retries the block
        refusing.refuse = lambda _r: False
        await stack.host.timer("daily_sync")
        daily = next(i for i in stack.host.instances if i.startswith("daily|"))
        assert (await stack.host.run_until_done(daily))["runtimeStatus"] == "Completed"
        inventory = [
            b for b in await ledger.list_blocks(stack.client_id) if b.resource == "inventory"
        ]
        states = sorted((b.block_id.partition("~")[2], b.state) for b in inventory)
        assert states == [("", BlockState.PARKED), ("2", BlockState.DONE)]
        await assert_matches_truth(stack, "amazon", ["inventory"])
        assert len(smtp.messages) == 1  # no second mail


async def test_daily_sync_picks_up_exactly_the_changes(monkeypatch, azurite) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    async with stack.running():
        assert (await onboard(stack, "amazon"))["runtimeStatus"] == "Completed"
        before = {r: len(await stack.stored("amazon", r)) for r in AMAZON}
        ledger = Ledger(stack.settings)
        marks = {
            r: await ledger.get_watermark(stack.client_id, "amazon", stack.account("amazon"), r)
            for r in AMAZON
        }
        assert all(m is not None for m in marks.values())

        later = stack.now() + timedelta(days=2)  # the seller keeps selling
        stack.clock.advance_to(stack.quiet_start(later.timestamp() + 300, 12 * 3600 + 300) + 300)
        await stack.host.timer("daily_sync")
        await stack.host.timer("daily_sync")  # a second trigger the same day adds nothing
        daily = [i for i in stack.host.instances if i.startswith("daily|") and i.count("|") == 2]
        assert len(daily) == 1
        assert (await stack.host.run_until_done(daily[0]))["runtimeStatus"] == "Completed"
        after = {r: len(await stack.stored("amazon", r)) for r in AMAZON}
        assert after["orders"] > before["orders"], "new orders arrived"
        await assert_matches_truth(stack, "amazon", AMAZON)
        for resource in AMAZON:
            mark = await ledger.get_watermark(
                stack.client_id, "amazon", stack.account("amazon"), resource
            )
            assert mark.value > marks[resource].value
        blocks = await ledger.list_blocks(stack.client_id)
        assert all(b.state == BlockState.DONE for b in blocks)
        assert any(b.block_id.startswith("daily.") for b in blocks)
        status = await stack.host.http("GET", f"/api/clients/{stack.client_id}/status")
        assert json.loads(status.get_body())["platforms"]["amazon"]["orders"]["phase"] is None
