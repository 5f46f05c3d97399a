"""A block reached through a driver the connector lists first
(``drivers_listed_first``) lists the driver's pages first, then walks the dependent
chains one after another on their own route (``activities.fetch_pages``).

Amazon transactions: a block lists the settlement groups of its window (one
listFinancialEventGroups call per 180-day slice) and walks each group's events; with
the groups all listed first, the events run on their lane without a groups call in
between (which would end the fetch run and hand that lane's planned permits back
unused). Checked on the tiny world's full onboarding (real devhost, sandbox, Azurite)
by a spy on the activity's request step (finance slices shortened, so a tiny window
needs several groups calls), and the records against the ground truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import activities.fetch_pages as fetch_pages
from shared.platforms.amazon import pagination
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import assert_stored_truth
from tests.flows.test_onboarding import onboard

DRIVER_ROUTES = {"transactions": "listFinancialEventGroups"}


async def test_driver_pages_come_first_then_the_dependent_chains(monkeypatch, azurite) -> None:
    routes: dict[tuple[str, str], list[str]] = defaultdict(list)
    real = fetch_pages._fetch_one

    async def spy(connector, settings, spec, run, request, *rest):
        routes[(spec.resource, spec.block_id)].append(request.route)
        return await real(connector, settings, spec, run, request, *rest)

    monkeypatch.setattr(fetch_pages, "_fetch_one", spy)
    # slices of 30 days instead of 180: the tiny world's windows span several
    monkeypatch.setattr(pagination, "FINANCE_SLICE", timedelta(days=30))
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("amazon",))
    async with stack.running():
        status = await onboard(stack, "amazon")
        assert status["runtimeStatus"] == "Completed", status
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks)

        driven = {key: seq for key, seq in routes.items() if key[0] in DRIVER_ROUTES}
        # a transactions block lists its groups in several slices
        sliced = [k for k, seq in driven.items() if seq.count(DRIVER_ROUTES[k[0]]) > 1]
        assert any(resource == "transactions" for resource, _ in sliced), driven
        for (resource, block), seq in driven.items():
            driver = DRIVER_ROUTES[resource]
            listed = seq.count(driver)
            assert seq[:listed] == [driver] * listed, (block, seq)
            assert driver not in seq[listed:], (block, seq)
        for resource in ("transactions", "payouts", "orders", "order_items"):
            await assert_stored_truth(stack, "amazon", resource)
