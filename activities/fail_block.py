"""Record a block attempt that failed before any verdict (its fetch gave up, or the check
could not run): the ledger row moves from running to failed with the error.

``verify_block`` records the failures it finds itself. Without this, a re-load
(``BlockSpec.heals``) whose fetch failed ended with its row still running: it makes one
attempt and nothing else moves the row, so the next check and the next run's planner
saw a load in flight. A row found done or parked already is left as it is.
"""

from __future__ import annotations

import azure.durable_functions as df

from shared.flows.models import ParkInput
from shared.settings import get_settings
from shared.storage.blocks import BlockKey, BlockRejected, BlockState, BlockUpdate
from shared.storage.ledger import Ledger

bp = df.Blueprint()
NAME = "fail_block"
MAX_ERROR = 900


@bp.activity_trigger(input_name="payload", activity=NAME)
async def fail_block(payload: dict) -> dict:
    task = ParkInput.model_validate(payload)
    spec = task.spec
    key = BlockKey(spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    update = BlockUpdate(
        state=BlockState.FAILED, attempt=task.attempt, error=task.error[:MAX_ERROR]
    )
    try:
        block = await Ledger(get_settings()).update_block(key, update, now=task.now)
    except BlockRejected as exc:
        block = exc.current
    return {"state": block.state.value}
