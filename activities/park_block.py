"""Park a block that failed three times and tell client support, exactly once.

The ledger's alert row is the dedupe: ``raise_alert`` creates it only once per block,
and the e-mail is sent while the row says it is unsent — so a retried activity neither
loses the mail nor sends it twice.
"""

from __future__ import annotations

import azure.durable_functions as df

from shared.flows.models import ParkInput
from shared.settings import get_settings
from shared.storage.blocks import BlockKey, BlockRejected, BlockState, BlockUpdate
from shared.storage.ledger import Alert, Ledger

bp = df.Blueprint()
NAME = "park_block"


@bp.activity_trigger(input_name="payload", activity=NAME)
async def park_block(payload: dict) -> dict:
    task = ParkInput.model_validate(payload)
    spec, settings = task.spec, get_settings()
    key = BlockKey(spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    ledger = Ledger(settings)
    update = BlockUpdate(state=BlockState.PARKED, error=task.error[:900])
    try:
        block = await ledger.update_block(key, update, now=task.now)
    except BlockRejected as exc:
        block = exc.current
        if block.state != BlockState.PARKED:
            return {"parked": False, "state": block.state.value, "alerted": False}
    from shared.alerts import deliver  # imported on use: SMTP is only needed here

    sent = await deliver(ledger, settings, Alert.block_parked(block, task.now), block=block)
    return {"parked": True, "state": "parked", "alerted": sent}
