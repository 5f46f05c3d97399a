"""A payout its transactions name but no payouts listing stored: found, healed, or parked.

Amazon, the tiny world. A short page of listFinancialEventGroups drops a settlement
group without a trace (Amazon gives no counts). The payouts block then lacks the payout
and its events stay stored through the transactions block's own walk of the groups,
but the money check starts from stored payouts, so nothing compared it: a silent hole
(a reference harsh run lost one Amazon record with every block done). The link is now
checked the other way too (``integrity.payouts_unlisted``): a payout named by stored
transactions must be stored once done payouts listings cover the month before its
first transaction.

(a) The transactions run first; then the payouts run, and its first listing of the
    groups drops one group. The payouts block fails its check, its retry lists the
    group, and every payout equals the ground truth; no alert.
(b) The same, but every listing drops the group: the payouts block is parked after its
    third attempt, with exactly one alert naming the group; every other payout is
    stored.
(c) The payouts run first; then the group's payout is lost from Table storage and the
    transactions run. A transactions block names the lost payout, fails, and the done
    payouts block (the link's other end) is loaded again as a new generation before the
    retry: healed, no alert.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from shared.integrity import PAYOUT_STARTS_BEFORE
from shared.models import Payout, Transaction
from shared.storage.blocks import Block, BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_integrity_heal import forget, run_narrowed, stopped_onboarding
from tests.flows.test_onboarding import assert_matches_truth
from tests.flows.truth import truth

GROUPS_PATH = "/amazon/finances/v0/financialEventGroups"
UNLISTED = "payouts named by stored transactions are not stored: {}"


class DroppingGroup(httpx.AsyncBaseTransport):
    """The world's transport, but listFinancialEventGroups leaves out group ``victim``
    from its next ``times`` answers that hold it (None: from every one)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.victim, self.times, self.dropped = inner, None, None, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != GROUPS_PATH or self.victim is None or response.status_code != 200:
            return response
        if self.times is not None and self.dropped >= self.times:
            return response
        await response.aread()
        body = response.json()
        groups = body["payload"].get("FinancialEventGroupList", [])
        kept = [g for g in groups if g.get("FinancialEventGroupId") != self.victim]
        if len(kept) == len(groups):
            return response
        body["payload"]["FinancialEventGroupList"] = kept
        self.dropped += 1
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(200, headers=headers, json=body, request=request)


def victim_group(stack: Stack) -> Payout:
    """A settled payout in the middle of the history whose transactions are dated and
    begin more than ``PAYOUT_STARTS_BEFORE`` after the history's start (so done
    listings cover the span its start lies in)."""
    payouts = {p.payout_id: p for p in truth(stack, "amazon", "payouts").values()}
    earliest: dict[str, datetime] = {}
    for t in truth(stack, "amazon", "transactions").values():
        if not (isinstance(t, Transaction) and t.payout_id in payouts and t.posted_at):
            continue
        earliest[t.payout_id] = min(t.posted_at, earliest.get(t.payout_id, t.posted_at))
    history = stack.history_start()
    before = PAYOUT_STARTS_BEFORE["amazon"]
    fit = sorted(
        (p for p in payouts.values() if isinstance(p, Payout) and p.payout_id in earliest),
        key=lambda p: p.period_start,
    )
    fit = [p for p in fit if (earliest[p.payout_id] - before).date() > history]
    assert fit, "the tiny world has settlement groups well inside its history"
    return fit[len(fit) // 2]


def payouts_block(blocks: list[Block], group: Payout) -> Block:
    [block] = [
        b
        for b in blocks
        if b.resource == "payouts"
        and "~" not in b.block_id
        and b.window_start <= group.period_start < b.window_end
    ]
    return block


async def test_a_payout_dropped_from_its_listing_is_found_and_listed_again(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    dropping = DroppingGroup(stack.world.transport())
    stack.transport = lambda _platform: dropping
    async with stack.running():
        request = await stopped_onboarding(stack)
        await run_narrowed(stack, request, "transactions")
        group = victim_group(stack)
        dropping.victim, dropping.times = group.payout_id, 1

        await run_narrowed(stack, request, "payouts")
        assert dropping.dropped == 1
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        block = payouts_block(blocks, group)
        assert block.state == BlockState.DONE and block.attempts == 2, block
        assert UNLISTED.format(group.payout_id) in (block.last_error or "")
        assert all(b.state == BlockState.DONE for b in blocks)
        await assert_matches_truth(stack, "amazon", ["payouts", "transactions"])
        assert smtp.messages == []


async def test_a_payout_its_listing_always_drops_parks_the_block_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    dropping = DroppingGroup(stack.world.transport())
    stack.transport = lambda _platform: dropping
    async with stack.running():
        request = await stopped_onboarding(stack)
        await run_narrowed(stack, request, "transactions")
        group = victim_group(stack)
        dropping.victim = group.payout_id

        await run_narrowed(stack, request, "payouts")
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        block = payouts_block(blocks, group)
        assert block.state == BlockState.PARKED and block.attempts == 3, block
        assert UNLISTED.format(group.payout_id) in (block.last_error or "")
        rest = [b for b in blocks if b.block_id != block.block_id]
        assert rest and all(b.state == BlockState.DONE for b in rest)
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and group.payout_id in mails[0].body
        assert len(await ledger.list_alerts(stack.client_id)) == 1
        want = set(truth(stack, "amazon", "payouts"))
        stored = {r["natural_key"] for r in await stack.stored("amazon", "payouts")}
        assert stored == want - {group.payout_id}


async def test_a_lost_payout_named_by_transactions_heals_by_loading_its_listing_again(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string)
    async with stack.running():
        request = await stopped_onboarding(stack)
        await run_narrowed(stack, request, "payouts")
        group = victim_group(stack)
        [row] = [
            r for r in await stack.stored("amazon", "payouts") if r["payout_id"] == group.payout_id
        ]
        await forget(stack, row)

        await run_narrowed(stack, request, "transactions")
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        retried = [b for b in blocks if b.attempts > 1]
        assert retried and all(b.resource == "transactions" for b in retried), retried
        assert all(UNLISTED.format(group.payout_id) in (b.last_error or "") for b in retried)
        listing = payouts_block(blocks, group)
        reloads = [b for b in blocks if b.block_id.startswith(listing.block_id + "~")]
        assert [b.block_id for b in reloads] == [f"{listing.block_id}~2"]
        assert all(b.state == BlockState.DONE for b in blocks)
        await assert_matches_truth(stack, "amazon", ["payouts", "transactions"])
        assert smtp.messages == []
