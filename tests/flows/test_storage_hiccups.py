"""Storage that fails for a while (Azurite dropping connections under load) costs retries,
not the block: the fetch run is run again from the same chain until storage answers."""

from __future__ import annotations

from shared.errors import TransientError
from shared.flows.chains import resources_of
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore
from tests.flows.harness import Stack
from tests.flows.test_onboarding import assert_matches_truth, onboard

FAILURES = 9  # more than load_block.MAX_TRANSIENT (6): the old loop parked the block


async def test_a_storage_outage_longer_than_the_transient_budget_loses_nothing(
    monkeypatch, azurite
) -> None:
    real = RecordStore.upsert
    calls = {"failed": 0}

    async def flaky(self, client, records):
        if calls["failed"] < FAILURES:
            calls["failed"] += 1
            raise TransientError("storage unreachable: Server disconnected")
        return await real(self, client, records)

    monkeypatch.setattr(RecordStore, "upsert", flaky)
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("quiltt",))
    async with stack.running():
        status = await onboard(stack, "quiltt")
        assert status["runtimeStatus"] == "Completed", status
        assert calls["failed"] == FAILURES
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks), [
            (b.block_id, b.state, b.last_error) for b in blocks
        ]
        # ridden out inside the attempt: the old loop gave the attempt up after 6
        assert all(b.attempts == 1 for b in blocks), [(b.block_id, b.attempts) for b in blocks]
        await assert_matches_truth(stack, "quiltt", resources_of("quiltt"))
