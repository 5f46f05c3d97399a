"""A parked backfill block retried by a later daily run loads as the backfill would have.

Amazon's all-orders report (createReport, the bulk path of order and item history) is
refused for the whole onboarding: every history block of orders and order items fails
three times and is parked, one alert each. The daily run after it retries them as
successors (``<block_id>~2``): each lists its window by order date through the report
(``ORDERS_BY_DATE`` over exactly the parked block's window), not by update time (a
daily block's listing) and not through getOrders; the stored records equal the ground
truth, with no duplicates; no second mail.
"""

from __future__ import annotations

import json

import httpx

from sandbox.amazon.reports import ORDERS_BY_DATE, RETURNS_BY_DATE
from shared.flows.generations import base_of
from shared.platforms.base import Window, utc_iso
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_onboarding import AMAZON, assert_matches_truth, onboard

REPORTS_PATH = "/amazon/reports/2021-06-30/reports"
ORDERS_PATH = "/amazon/orders/v0/orders"


class Reports(httpx.AsyncBaseTransport):
    """The world's transport, noting every createReport body and every getOrders query;
    while ``refusing``, an all-orders report by order date is refused (400)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.refusing = inner, True
        self.created: list[dict] = []
        self.listed: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == REPORTS_PATH:
            body = json.loads(request.content or b"{}")
            self.created.append(body)
            if self.refusing and body.get("reportType") == ORDERS_BY_DATE:
                error = {"errors": [{"code": "InvalidInput", "message": "forced by the test"}]}
                return httpx.Response(400, json=error, request=request)
        if request.url.path == ORDERS_PATH:
            self.listed.append(dict(request.url.params))
        return await self.inner.handle_async_request(request)


async def test_a_parked_backfill_block_retried_by_a_daily_run_loads_as_the_backfill(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    reports = Reports(stack.world.transport())
    stack.transport = lambda _platform: reports
    async with stack.running():
        assert (await onboard(stack, "amazon"))["runtimeStatus"] == "Completed"
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        parked = {b.block_id: b for b in blocks if b.state == BlockState.PARKED}
        assert parked, "the refused reports parked the history blocks"
        assert {b.resource for b in parked.values()} == {"orders", "order_items"}
        assert all("forced by the test" in (b.last_error or "") for b in parked.values())
        assert all(b.state == BlockState.DONE for b in blocks if b.block_id not in parked)
        assert len(smtp.wait_for(len(parked))) == len(parked)

        reports.refusing = False
        reports.created.clear()
        reports.listed.clear()
        await stack.host.timer("daily_sync")
        daily = next(i for i in stack.host.instances if i.startswith("daily|"))
        assert (await stack.host.run_until_done(daily))["runtimeStatus"] == "Completed"

        after = {b.block_id: b for b in await ledger.list_blocks(stack.client_id)}
        for block_id, block in parked.items():
            successor = after[f"{block_id}~2"]
            assert successor.state == BlockState.DONE, (block_id, successor.last_error)
            assert base_of(successor.block_id) == (block_id, 2)
            assert (successor.window_start, successor.window_end) == (
                block.window_start,
                block.window_end,
            )
            assert after[block_id].state == BlockState.PARKED
        # each successor listed its window by order date, through the report
        windows = {(b.window_start, b.window_end) for b in parked.values()}
        made = {(r["reportType"], r["dataStartTime"], r["dataEndTime"]) for r in reports.created}
        for start, end in windows:
            assert (ORDERS_BY_DATE, utc_iso(start), utc_iso(end)) in made, (start, end, made)
        orders_reports = {kind for kind, _, _ in made if kind != RETURNS_BY_DATE}
        assert orders_reports == {ORDERS_BY_DATE}, made  # none by update
        # getOrders ran for the daily blocks only: never over a parked block's window
        history = [Window(start=s, end=e) for s, e in windows]
        for query in reports.listed:
            since = query.get("CreatedAfter") or query.get("LastUpdatedAfter")
            if since is not None:
                assert all(utc_iso(w.start) != since for w in history), query
        await assert_matches_truth(stack, "amazon", AMAZON)
        assert len(smtp.messages) == len(parked)  # no second mail
