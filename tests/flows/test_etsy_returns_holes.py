"""Etsy returns under the faults that made silent holes: healed, or parked with one alert.

Etsy returns are reached through receipts: a returns block lists the receipts of its
window and fetches the payment of each receipt that lists refunds (its
``payment_adjustments`` are the returns). Two ways a return could go missing without a
check seeing it, on the ``tiny`` world's Etsy shop:

(a) ``updated_during_sync`` touches every receipt served (a seller's note: the receipt's
    last modification moves to 1-600 s after the request). The backfill used to list
    returns by modification, so a refunded receipt that the orders or items blocks
    served (and so touched) before its returns block read its window left that window
    and, its modification now lying after the plan's end, every window of the backfill:
    its returns were lost with every block done (the reference harsh run lost one such
    return). History windows now list returns by receipt creation, which never moves:
    the stored returns equal the ground truth exactly.
(b) One refunded receipt's payment comes without its adjustments, every time (a
    platform that lags or drops them). The receipt lists its refunds, so the visit
    expects as many adjustments and retries the payment while it holds fewer; the
    returns block fails three attempts and is parked, with exactly one alert naming the
    receipt, and every return outside its window is stored. Once the platform answers
    again, the next run loads the parked block's successor and the hole is gone, with no
    second mail.
(c) Pages of five receipts: a returns listing whose last index pages list no refunded
    receipt ends on pages that are not stored (only the payments are data). The chain's
    end is stored as an empty page, so the block is done, not failed as "cut short"
    (three failures of the same data parked a reference harsh run's returns block).
"""

from __future__ import annotations

import functools
import json
import re

import httpx

from sandbox.faults import FaultRates, Faults
from shared.platforms.etsy import client as etsy_client
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_integrity_heal import run_narrowed
from tests.flows.test_onboarding import assert_matches_truth, onboard
from tests.flows.truth import truth

PAYMENTS_PATH = re.compile(r"^/etsy/v3/application/shops/\d+/receipts/(\d+)/payments$")


def refunded_receipts(stack: Stack) -> list:
    """The Etsy receipts of the stack's client that have refunds (at the world's now)."""
    data = stack.world.platforms["etsy"].data(stack.client_id)
    now = stack.clock.now()
    return [r for r in data.history.receipts if r.created <= now and r.refunds]


class QuickTouches(Faults):
    """Every receipt served is touched, one second after the request (the sandbox draws
    1-600 s: a tiny backfill ends within that, a reference one lasts half an hour)."""

    def __init__(self) -> None:
        super().__init__(FaultRates(updated_during_sync=1.0), seed=0)

    def uniform(self, *key: object) -> float:
        return 0.0 if key[:2] == ("etsy", "touch") else super().uniform(*key)


async def test_refunded_receipts_touched_mid_backfill_keep_their_returns(
    monkeypatch, azurite
) -> None:
    touching = QuickTouches()
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("etsy",), faults=touching)
    async with stack.running():
        planned_end = stack.clock.now()  # the backfill plans its windows up to about here
        status = await onboard(stack, "etsy")
        assert status["runtimeStatus"] == "Completed", status
        moved = [
            r for r in refunded_receipts(stack) if r.last_modified(stack.clock.now()) > planned_end
        ]
        assert moved, "refunded receipts were modified past the plan's end: the test bites"
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks), [
            (b.block_id, b.state, b.last_error) for b in blocks if b.state != BlockState.DONE
        ]
        # returns do not change with a touch (orders and items do: not compared here)
        await assert_matches_truth(stack, "etsy", ["returns"])


class NoAdjustmentsFor(httpx.AsyncBaseTransport):
    """The world's transport, but the payment of receipt ``victim`` comes without its
    adjustments (``stripped`` counts those answers)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.victim, self.stripped = inner, None, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        match = PAYMENTS_PATH.match(request.url.path)
        if not match or match.group(1) != self.victim or response.status_code != 200:
            return response
        await response.aread()
        body = response.json()
        for payment in body["results"]:
            payment["payment_adjustments"] = []
        self.stripped += 1
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(200, headers=headers, json=body, request=request)


async def test_a_payment_lacking_its_refunds_parks_its_returns_block_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("etsy",))
    stripping = NoAdjustmentsFor(stack.world.transport())
    stack.transport = lambda _platform: stripping
    async with stack.running():
        refunded = refunded_receipts(stack)
        assert refunded, "the tiny world's Etsy shop has refunds"
        victim = refunded[len(refunded) // 2]
        stripping.victim = str(victim.receipt_id)
        lost = {str(f.adjustment_id) for f in victim.refunds}

        response = await stack.connect("etsy")
        assert response.status_code == 202, response.get_body()
        instance = json.loads(response.get_body())["id"]
        status = await stack.host.run_until_done(instance)
        assert status["runtimeStatus"] == "Completed", status

        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        parked = [b for b in blocks if b.state == BlockState.PARKED]
        assert [(b.resource, b.attempts) for b in parked] == [("returns", 3)], parked
        [block] = parked
        assert block.window_start.timestamp() <= victim.created < block.window_end.timestamp()
        assert f"payment of receipt {victim.receipt_id} holds 0 adjustments" in block.last_error
        rest = [b for b in blocks if b is not block]
        assert rest and all(b.state == BlockState.DONE for b in rest)
        assert stripping.stripped > 3, "the payment was retried within the attempts"
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and str(victim.receipt_id) in mails[0].body
        assert len(await ledger.list_alerts(stack.client_id)) == 1
        # the parked block's window is incomplete (its chain stopped at the victim), and
        # flagged; every return outside it is stored, none twice, none made up
        created = {str(r.receipt_id): r.created for r in refunded}
        span = (block.window_start.timestamp(), block.window_end.timestamp())
        want = truth(stack, "etsy", "returns")
        outside = {k for k, r in want.items() if not span[0] <= created[r.order_id] < span[1]}
        stored = {r["natural_key"] for r in await stack.stored("etsy", "returns")}
        assert lost <= set(want) and not lost & stored
        assert outside <= stored <= set(want) - lost

        # the platform answers again: the next run loads the parked block's successor
        stripping.victim = None
        request = status["input"]
        await run_narrowed(stack, request, "returns", tier="daily")
        after = {b.block_id: b for b in await ledger.list_blocks(stack.client_id)}
        assert after[f"{block.block_id}~2"].state == BlockState.DONE
        await assert_matches_truth(stack, "etsy", ["returns"])
        assert len(smtp.messages) == 1  # no second mail


async def test_a_returns_listing_ending_on_receipts_without_refunds_is_done(
    monkeypatch, azurite, smtp
) -> None:
    built = etsy_client.build

    @functools.wraps(built)
    def small_pages(*args, **kwargs):
        return built(*args, **{**kwargs, "page_limit": 5})

    monkeypatch.setattr(etsy_client, "build", small_pages)
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("etsy",))
    async with stack.running():
        receipts = stack.world.platforms["etsy"].data(stack.client_id).history.receipts
        visible = sorted(
            (r for r in receipts if r.created <= stack.clock.now()),
            key=lambda r: (r.created, r.receipt_id),
        )
        oldest = visible[:5]  # the returns chain's last index page (newest first)
        assert not any(r.refunds for r in oldest), "the listing's tail has no refund"
        status = await onboard(stack, "etsy")
        assert status["runtimeStatus"] == "Completed", status
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        returns = [b for b in blocks if b.resource == "returns"]
        assert returns and all(b.state == BlockState.DONE for b in blocks), [
            (b.block_id, b.state, b.last_error) for b in blocks if b.state != BlockState.DONE
        ]
        assert all(b.attempts == 1 for b in returns)
        await assert_matches_truth(stack, "etsy", ["returns"])
        assert smtp.messages == []
