"""A resource whose run fails is alerted once and does not stop the client's others.

Planning of one eBay resource fails on every attempt: storage drops each insert of
its block rows (``ServiceResponseError`` at the SDK's aiohttp transport, as in
``test_plan_retry``), so its ``sync_resource`` fails after ``PLAN_RETRY``. Before,
``sync_client`` failed fast on the first crashed resource, returned an ``error`` and
nothing alerted: the missing records went unnoticed. Now every other resource loads
exactly its ground truth, the run ends with phase ``failed`` and the resource listed,
and client support gets one mail naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.transport import AioHttpTransport

from activities.alert_resource import ResourceAlertInput, resource_alert
from orchestrators.sync_client import _not_loaded
from orchestrators.sync_resource import PLAN_RETRY
from shared.flows.chains import resources_of
from shared.flows.models import ResourceRun
from shared.storage.keys import table_name
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import assert_stored_truth
from tests.flows.test_onboarding import onboard

PLATFORM, BROKEN = "ebay", "inventory"


def drop_block_inserts_of(monkeypatch, stack: Stack, resource: str) -> list[int]:
    """Every insert of a block row of ``resource`` fails as a dropped connection; the
    returned list counts them."""
    dropped: list[int] = []
    path = "/" + table_name(stack.settings.table_prefix, "blocks")
    real = AioHttpTransport.send

    async def send(transport, request, **kwargs):
        body = request.body if isinstance(request.body, (bytes, str)) else b""
        body = body.encode() if isinstance(body, str) else body
        if (
            request.method == "POST"
            and request.url.split("?")[0].endswith(path)
            and f'"{resource}'.encode() in body
        ):
            dropped.append(1)
            error = aiohttp.ServerDisconnectedError()
            raise ServiceResponseError(error, error=error)
        return await real(transport, request, **kwargs)

    monkeypatch.setattr(AioHttpTransport, "send", send)
    return dropped


async def test_a_failed_resource_is_alerted_once_and_the_others_load(
    monkeypatch, azurite, smtp
) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=(PLATFORM,))
    dropped = drop_block_inserts_of(monkeypatch, stack, BROKEN)
    async with stack.running():
        status = await onboard(stack, PLATFORM)
        assert status["runtimeStatus"] == "Completed", status
        assert len(dropped) >= PLAN_RETRY.max_number_of_attempts, "every planning attempt failed"
        output = status["output"]
        assert [(f["resource"], f["kind"]) for f in output["failed"]] == [(BROKEN, "failed")]
        assert "storage unreachable" in output["failed"][0]["reason"]
        custom = status["customStatus"]
        assert custom["phase"] == "failed" and custom["resources_failed"] == 1, custom
        assert custom["resources_done"] == len(resources_of(PLATFORM)) - 1, custom
        for resource in resources_of(PLATFORM):
            if resource != BROKEN:
                await assert_stored_truth(stack, PLATFORM, resource)
        assert await stack.stored(PLATFORM, BROKEN) == []

        smtp.wait_for(1)
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert BROKEN in mail.subject and stack.client_id in mail.subject, mail.subject
        assert "Resource:    inventory" in mail.raw.decode(), mail.raw.decode()
        secret = stack.connect_body(PLATFORM)["credentials"]["refresh_token"]
        assert secret not in mail.raw.decode()
        alerts = await Ledger(stack.settings).list_alerts(stack.client_id)
        assert [a.kind for a in alerts] == ["resource_failed"] and alerts[0].sent_at is not None


def test_blocks_in_no_final_state_make_a_finished_resource_incomplete() -> None:
    summary = {"phase": "done", "blocks_total": 9, "blocks_done": 5, "parked": 1, "capped": 1}
    assert _not_loaded(summary) == 2
    assert _not_loaded({**summary, "blocks_done": 7}) == 0
    assert _not_loaded({"phase": "done", "blocks_total": 0}) == 0


def test_the_alert_is_keyed_per_run_so_a_retry_mails_once_and_the_next_run_again() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    run = ResourceRun(
        client="c-1",
        platform="ebay",
        account="ebay-c-1",
        resource="payouts",
        tier="backfill",
        run_id="r1",
        now=now,
    )
    first = resource_alert(ResourceAlertInput(run=run, kind="failed", reason="x", now=now))
    again = resource_alert(ResourceAlertInput(run=run, kind="failed", reason="y", now=now))
    later = run.model_copy(update={"run_id": "r2"})
    next_run = resource_alert(ResourceAlertInput(run=later, kind="failed", reason="x", now=now))
    assert first.dedupe_key == again.dedupe_key != next_run.dedupe_key
    assert "payouts" in first.subject and "c-1" in first.subject
