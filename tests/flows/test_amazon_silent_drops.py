"""Records an Amazon listing drops without a count to tell: found, loaded again, complete.

Amazon, the tiny world; the sandbox's own page faults, aimed at one listing
(``Faults.force``): ``short_page`` drops the record in the middle of a page.

(a) getInventorySummaries states no count and nothing else names every SKU: a short
    page lost a SKU without a trace. Each marketplace is now listed twice in a row; the
    first listing of the first marketplace drops a SKU, once. The inventory block fails
    its first attempt naming the SKU the other listing held, and its retry passes:
    stored levels equal the ground truth, no alert.
(b) An event dropped from a settlement group still open was judged only once the group
    closed and a later listing re-read it. The groups page states the open group's
    running total; the transactions block now lists the open group's events against
    it. Its first events page drops an event, once: the block fails its first attempt
    on the running total and its retry passes; stored transactions equal the ground
    truth, no alert. Always dropped: parked after three attempts with one alert.
    Amazon transactions are planned at once (the recent-day block may wait for an open
    group: measuring on it would hold the rest of the plan).
"""

from __future__ import annotations

from sandbox.faults import Faults
from shared.flows.models import BlockSpec
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_amazon_items_dated import planned_once
from tests.flows.test_bulk_history import resource_run, stage
from tests.flows.test_integrity_heal import run_narrowed
from tests.flows.test_onboarding import assert_matches_truth

GROUP_EVENTS = "/amazon/finances/v0/financialEventGroups/{}/financialEvents"
OPEN_OFF = "open payouts differ from the sum of their transactions listed"


async def test_a_sku_one_inventory_listing_drops_is_found_by_the_other_and_loaded_again(
    monkeypatch, azurite, smtp
) -> None:
    faults = Faults("none", seed=5)
    drop = faults.force("amazon", "short_page", "getInventorySummaries", times=1)
    stack = Stack(monkeypatch, azurite.connection_string, faults=faults)
    async with stack.running():
        request = await planned_once(stack)
        await run_narrowed(stack, request, "inventory")
        assert drop.hits == 1
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        [block] = [b for b in blocks if b.resource == "inventory"]
        assert block.state == BlockState.DONE and block.attempts == 2, block
        assert "lacks 1 records another listing of" in (block.last_error or ""), block
        await assert_matches_truth(stack, "amazon", ["inventory"])
        assert await Ledger(stack.settings).list_alerts(stack.client_id) == []
        assert smtp.messages == []


def open_group(stack: Stack) -> str:
    """The id of a settlement group open at the stack's time with more than two events
    (a short page drops one of at least three)."""
    now = stack.now().timestamp()
    ledger = stack.world.platforms["amazon"].data(stack.client_id).ledger
    groups = [
        g
        for g in ledger.groups
        if g.start <= now < g.end and sum(1 for e in g.events if e.posted <= now - 300) > 2
    ]
    assert groups, "the tiny world has an open group with events"
    return groups[0].group_id


async def load_transactions(monkeypatch, azurite, times: int | None):
    faults = Faults("none", seed=5)
    stack = Stack(monkeypatch, azurite.connection_string, faults=faults)
    group = open_group(stack)
    path = GROUP_EVENTS.format(group)
    drop = faults.force("amazon", "short_page", "listFinancialEventsByGroupId", path, times=times)
    return stack, group, drop


async def test_an_event_dropped_from_an_open_settlement_group_fails_its_running_total(
    monkeypatch, azurite, smtp
) -> None:
    stack, group, drop = await load_transactions(monkeypatch, azurite, times=1)
    async with stack.running():
        request = await planned_once(stack)
        await run_narrowed(stack, request, "transactions")
        assert drop.hits == 1
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        failed = [b for b in blocks if b.resource == "transactions" and b.attempts > 1]
        assert len(failed) == 1, [(b.block_id, b.attempts, b.last_error) for b in blocks]
        [block] = failed
        assert block.state == BlockState.DONE and block.attempts == 2, block
        assert OPEN_OFF in block.last_error
        assert group in block.last_error
        assert all(b.state == BlockState.DONE for b in blocks)
        await assert_matches_truth(stack, "amazon", ["transactions"])
        assert await Ledger(stack.settings).list_alerts(stack.client_id) == []
        assert smtp.messages == []


async def test_an_event_an_open_group_always_drops_parks_its_block_with_one_alert(
    monkeypatch, azurite, smtp
) -> None:
    stack, group, drop = await load_transactions(monkeypatch, azurite, times=None)
    async with stack.running():
        request = await planned_once(stack)
        await run_narrowed(stack, request, "transactions")
        assert drop.hits == 3, "each attempt listed the open group once"
        ledger = Ledger(stack.settings)
        blocks = await ledger.list_blocks(stack.client_id)
        [parked] = [b for b in blocks if b.state == BlockState.PARKED]
        assert parked.resource == "transactions" and parked.attempts == 3, parked
        assert OPEN_OFF in (parked.last_error or "")
        assert group in (parked.last_error or "")
        rest = [b for b in blocks if b.block_id != parked.block_id]
        assert all(b.state == BlockState.DONE for b in rest)
        mails = smtp.wait_for(1)
        assert len(mails) == 1 and group in mails[0].body
        assert len(await ledger.list_alerts(stack.client_id)) == 1


async def test_amazon_transactions_are_planned_at_once_not_measured_on_the_recent_day(
    monkeypatch, azurite
) -> None:
    """The recent-day block may wait for an open group (``OPEN_GROUP_WAIT``): measuring
    on it would hold the rest of the plan that long, so the whole plan comes at once."""
    stack = Stack(monkeypatch, azurite.connection_string)
    now = stack.now()
    first = await stage(resource_run(stack, now, "transactions"), "recent")
    assert first["final"] is True and len(first["blocks"]) > 1, first
    assert BlockSpec.model_validate(first["blocks"][0]).phase == "recent_day"
    orders = await stage(resource_run(stack, now, "orders"), "recent")
    assert orders["final"] is False and len(orders["blocks"]) == 1, "orders are measured"
