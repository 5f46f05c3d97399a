"""Planning survives storage dropping a connection: ``plan_resource`` is retried by the
host (``sync_resource.PLAN_RETRY``) instead of failing the resource's run.

The failure is injected at the storage SDK's aiohttp transport, as aiohttp reports a
connection the server dropped while the response was on its way
(``ServiceResponseError`` from ``ServerDisconnectedError``; the SDK retries no POST
then): the first block-row inserts the planner makes fail. Everything above the
transport is the real code on real Azurite. Before the retry, the resource's
orchestration failed, the run ended without its records, and nothing alerted.
"""

from __future__ import annotations

import aiohttp
from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.transport import AioHttpTransport

from orchestrators.sync_resource import PLAN_RETRY
from shared.flows.chains import resources_of
from shared.storage.blocks import BlockState
from shared.storage.keys import table_name
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import assert_stored_truth
from tests.flows.test_onboarding import onboard

PLATFORM = "quiltt"


class DroppedInserts:
    """Fails the first ``failures`` inserts (POST) into the ledger's blocks table."""

    def __init__(self, monkeypatch, stack: Stack, failures: int) -> None:
        self.left, self.failed = failures, 0
        path = "/" + table_name(stack.settings.table_prefix, "blocks")
        real = AioHttpTransport.send

        async def send(transport, request, **kwargs):
            if self.left and request.method == "POST" and request.url.split("?")[0].endswith(path):
                self.left -= 1
                self.failed += 1
                dropped = aiohttp.ServerDisconnectedError()
                raise ServiceResponseError(dropped, error=dropped)
            return await real(transport, request, **kwargs)

        monkeypatch.setattr(AioHttpTransport, "send", send)


async def test_a_planning_call_that_storage_fails_is_retried_and_loses_nothing(
    monkeypatch, azurite
) -> None:
    failures = PLAN_RETRY.max_number_of_attempts - 1
    stack = Stack(monkeypatch, azurite.connection_string, platforms=(PLATFORM,))
    dropped = DroppedInserts(monkeypatch, stack, failures)
    async with stack.running():
        status = await onboard(stack, PLATFORM)
        assert status["runtimeStatus"] == "Completed", status
        assert dropped.failed == failures, "the planner's inserts failed"
        planning = [e for e in stack.host.activity_errors if e[0] == "plan_resource"]
        assert len(planning) >= 1, stack.host.activity_errors
        assert all("storage unreachable" in message for _, message in planning), planning
        assert "error" not in (status.get("output") or {}), status["output"]
        for resource in resources_of(PLATFORM):
            await assert_stored_truth(stack, PLATFORM, resource)
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks)
