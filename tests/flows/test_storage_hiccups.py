"""Storage that fails for a moment (Azurite dropping connections under load) costs a
retry, not the page and not the block.

The failures are injected where they happen: at the storage SDK's HTTP transport
(``FlakyStorage``), which fails chosen record writes (Table ``$batch`` requests) the way
aiohttp reports a connection the server dropped; everything above it — the SDK pipeline,
``shared.storage``, the fetch activity, devhost, the orchestrations — is the real code
on real Azurite. A short hiccup is retried inside the fetch activity
(``shared.flows.storage_retry``): no fetch run fails, and a report is downloaded once.
A longer outage fails fetch runs, which the block orchestration runs again from the
same chain until storage answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import AioHttpTransport

from shared.errors import ConfigurationError, ThrottledError, TransientError
from shared.flows.chains import resources_of
from shared.flows.storage_retry import PAUSES_S, retried
from shared.flows.store import FlowStore
from shared.planning import PlannedBlock
from shared.platforms.base import Window
from shared.storage.blocks import BlockState
from shared.storage.clients import StorageClients, close_shared_clients
from shared.storage.keys import container_name, table_name
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore
from tests.flows.harness import Stack
from tests.flows.test_bulk_history import assert_stored_truth
from tests.flows.test_bulk_history import onboard as onboard_logged
from tests.flows.test_onboarding import assert_matches_truth, onboard

ATTEMPTS = len(PAUSES_S) + 1
DOCUMENT_PATH = re.compile(r"/reports/2021-06-30/documents/([^/]+)$")
FIRST_ROW = re.compile(rb"RowKey='[^']*'")


class FlakyStorage:
    """Fails ``failures`` record writes (a Table ``$batch`` of one of the stack's records tables)
    at the SDK's aiohttp transport, as it reports a connection the server dropped
    (``ServiceRequestError`` from ``ServerDisconnectedError``): the first write that
    ``when`` lets through, and then the same write (the batch holding the same first
    row) each time it is made again, until ``failures`` are spent. Every other request
    goes to Azurite. One write failing again and again makes the count of failed fetch
    runs certain whatever else is in flight."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        stack: Stack,
        failures: int,
        when: Callable[[], bool] = lambda: True,
    ) -> None:
        self.left, self.failed = failures, 0
        store = RecordStore(stack.settings)
        self.tables = [
            f"/{store.table_for(stack.client_id, p, r)}(".encode()
            for p in stack.platforms
            for r in resources_of(p)
        ]
        self.when = when
        self.target: bytes | None = None
        real = AioHttpTransport.send

        async def send(transport, request, **kwargs):
            if self.left and self._targeted(request):
                self.left -= 1
                self.failed += 1
                dropped = aiohttp.ServerDisconnectedError()
                raise ServiceRequestError(dropped, error=dropped)
            return await real(transport, request, **kwargs)

        monkeypatch.setattr(AioHttpTransport, "send", send)

    def _targeted(self, request) -> bool:
        if request.method != "POST" or not request.url.split("?")[0].endswith("/$batch"):
            return False
        body = _body(request)
        if not any(table in body for table in self.tables):
            return False
        if self.target is None:
            row = FIRST_ROW.search(body)
            if row is None or not self.when():
                return False
            self.target = row.group(0)
        return self.target in body


def _body(request) -> bytes:
    body = getattr(request, "content", None) or b""
    return body if isinstance(body, bytes) else str(body).encode()


async def _stored_downloads(stack: Stack) -> int:
    """Raw pages stored by a report download step, over every block."""
    async with StorageClients(stack.settings.storage_connection.get_secret_value()) as clients:
        container = await clients.container(container_name(stack.settings.raw_container))
        pages = container.list_blobs(include=["metadata"])
        return sum([(b.metadata or {}).get("step") == "bulk_download" async for b in pages])


async def _blocks(stack: Stack):
    return await Ledger(stack.settings).list_blocks(stack.client_id)


async def test_a_dropped_connection_while_storing_a_report_is_retried_in_place(
    monkeypatch, azurite
) -> None:
    """A record write right after the first report document came down fails five times:
    it is made again inside the fetch activity, no fetch run fails, and no report is
    downloaded twice (a failed run would fetch its chain's download step again)."""
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("amazon",))
    ops = stack.world.accounting.calls
    after_a_download = lambda: ops[("amazon", "downloadReportDocument")] > 0  # noqa: E731
    flaky = FlakyStorage(monkeypatch, stack, ATTEMPTS - 1, when=after_a_download)
    calls = await onboard_logged(stack, "amazon")
    assert flaky.failed == ATTEMPTS - 1, "a write after the first download failed"
    assert [e for e in stack.host.activity_errors if e[0] == "fetch_pages"] == []
    documents = [m.group(1) for _, path, _ in calls if (m := DOCUMENT_PATH.search(path))]
    # one download per report page stored (a block's download step writes one page)
    assert len(documents) == ops[("amazon", "downloadReportDocument")]
    assert len(documents) == await _stored_downloads(stack) > 0
    blocks = await _blocks(stack)
    assert all(b.attempts == 1 for b in blocks), [(b.block_id, b.attempts) for b in blocks]
    for resource in ("orders", "order_items", "returns"):
        await assert_stored_truth(stack, "amazon", resource)


FAILURES = 9  # more than one activity's attempts (6) and than load_block.MAX_TRANSIENT (6)


async def test_a_storage_outage_longer_than_the_activity_retries_loses_nothing(
    monkeypatch, azurite
) -> None:
    """One record write fails nine times: the fetch run gives up after its six attempts,
    the block orchestration runs it again from the same chain, and that run rides out
    the rest in place; the block still loads in its first attempt."""
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("quiltt",))
    flaky = FlakyStorage(monkeypatch, stack, FAILURES)
    async with stack.running():
        status = await onboard(stack, "quiltt")
        assert status["runtimeStatus"] == "Completed", status
        assert flaky.failed == FAILURES
        failed_runs = [m for name, m in stack.host.activity_errors if name == "fetch_pages"]
        assert len(failed_runs) == 1, failed_runs
        assert all("storage unreachable" in m for m in failed_runs), failed_runs
        blocks = await _blocks(stack)
        assert blocks and all(b.state == BlockState.DONE for b in blocks), [
            (b.block_id, b.state, b.last_error) for b in blocks
        ]
        assert all(b.attempts == 1 for b in blocks), [(b.block_id, b.attempts) for b in blocks]
        await assert_matches_truth(stack, "quiltt", resources_of("quiltt"))


async def test_the_flows_rows_ride_out_dropped_connections(monkeypatch, settings) -> None:
    """Plans and progress rows (``FlowStore``: plan_resource, record_progress and the
    status endpoint) are written and read through the same retry: each of the first
    calls on their tables fails once at the transport (the table's creation among them,
    a POST the SDK does not retry) and every call still answers."""
    dropped: list[str] = []
    real = AioHttpTransport.send
    names = (
        table_name(settings.table_prefix, "plans"),
        table_name(settings.table_prefix, "progress"),
    )

    async def send(transport, request, **kwargs):
        url = request.url.split("?")[0]
        tables = {n for n in names if n in url or n.encode() in _body(request)}
        if tables and url not in dropped:
            dropped.append(url)
            failed = aiohttp.ServerDisconnectedError()
            raise ServiceRequestError(failed, error=failed)
        return await real(transport, request, **kwargs)

    monkeypatch.setattr(AioHttpTransport, "send", send)
    store, now = FlowStore(settings), datetime(2026, 3, 1, tzinfo=UTC)
    window = Window(start=now - timedelta(days=1), end=now)
    plan = [
        PlannedBlock(
            block_id="orders.b0", resource="orders", window=window, phase="recent_day", order=0
        )
    ]
    try:
        await store.save_plan("c1", "amazon", "a1", "orders", plan, now)
        assert await store.get_plan("c1", "amazon", "a1", "orders") == plan
        await store.record_progress(
            "c1", "amazon", "a1", "orders", "orders.b0", 1, 0, {"requests": 3}, now
        )
        totals = await store.totals("c1")
    finally:
        await close_shared_clients(settings)
    assert totals[("amazon", "orders")]["requests"] == 3
    assert len(dropped) >= 4, dropped  # creations, the upserts, the read and the query


# --- the retry itself (pure: a scripted operation, no sleeping) ---------------------------


class Script:
    """An operation that raises the given errors one call after the other, then
    returns the number of calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


async def _no_sleep(seconds: float, slept: list[float]) -> None:
    slept.append(seconds)


@pytest.mark.parametrize(
    "error",
    [
        TransientError("storage unreachable: Server disconnected"),
        ThrottledError("storage throttled: 503"),
        ServiceRequestError("Can not write request body"),
        ServiceResponseError("Server disconnected"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_transient_storage_errors_are_retried_with_the_pauses(error) -> None:
    slept: list[float] = []
    operation = Script(error, error)
    assert await retried(operation, sleep=lambda s: _no_sleep(s, slept)) == 3
    assert slept == list(PAUSES_S[:2])


async def test_the_retries_are_bounded_and_the_last_error_raised() -> None:
    slept: list[float] = []
    errors = [TransientError(f"failure {i}") for i in range(ATTEMPTS + 2)]
    operation = Script(*errors)
    with pytest.raises(TransientError, match=f"failure {ATTEMPTS - 1}"):
        await retried(operation, sleep=lambda s: _no_sleep(s, slept))
    assert operation.calls == ATTEMPTS
    assert slept == list(PAUSES_S)


@pytest.mark.parametrize(
    "error", [ConfigurationError("bad table name"), ValueError("record lacks natural_key")]
)
async def test_other_errors_are_not_retried(error) -> None:
    slept: list[float] = []
    operation = Script(error)
    with pytest.raises(type(error)):
        await retried(operation, sleep=lambda s: _no_sleep(s, slept))
    assert operation.calls == 1 and slept == []
