"""Start the next attempt of a block: ledger row to running, old pages gone, first request.

Idempotent enough for retries: a block already done or parked is reported as such and
not touched; starting always names the next attempt, so a stale worker's writes lose.
"""

from __future__ import annotations

import azure.durable_functions as df

from shared.errors import ConfigurationError
from shared.flows.chains import first_request
from shared.flows.connections import connector_for
from shared.flows.models import BeginInput, Begun
from shared.settings import get_settings
from shared.storage.blocks import BlockKey, BlockState, BlockUpdate
from shared.storage.ledger import Ledger
from shared.storage.raw_pages import RawPageStore

bp = df.Blueprint()
NAME = "begin_block"


@bp.activity_trigger(input_name="payload", activity=NAME)
async def begin_block(payload: dict) -> dict:
    request = BeginInput.model_validate(payload)
    spec, settings = request.spec, get_settings()
    key = BlockKey(spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    ledger = Ledger(settings)
    block = await ledger.get_block(key)
    if block is None:
        raise ConfigurationError(f"block {spec.block_id!r} was never planned")
    if block.state in (BlockState.DONE, BlockState.PARKED):
        return Begun(attempt=0, state=block.state.value).model_dump(mode="json")
    attempt = block.attempts + 1
    await ledger.update_block(
        key, BlockUpdate(state=BlockState.RUNNING, attempt=attempt), now=request.now
    )
    await RawPageStore(settings).delete_block(
        spec.client, spec.platform, spec.account, spec.resource, spec.block_id
    )
    try:
        connector = await connector_for(settings, spec.client, spec.platform, spec.account)
        first = first_request(
            connector,
            spec.resource,
            spec.window,
            bulk=spec.bulk,
            now=request.now,
            by_update=spec.tier == "daily",
        )
    except ConfigurationError as exc:
        return Begun(attempt=attempt, state="running", error=str(exc)).model_dump(mode="json")
    begun = Begun(attempt=attempt, state="running", request=first, pacing=settings.pacing)
    return begun.model_dump(mode="json")
