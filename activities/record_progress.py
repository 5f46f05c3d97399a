"""Store what one execution of a block orchestration spent (requests, 429s, retries)."""

from __future__ import annotations

import azure.durable_functions as df

from shared.flows.models import ProgressInput
from shared.flows.store import FlowStore
from shared.settings import get_settings

bp = df.Blueprint()
NAME = "record_progress"


@bp.activity_trigger(input_name="payload", activity=NAME)
async def record_progress(payload: dict) -> None:
    task = ProgressInput.model_validate(payload)
    spec = task.spec
    counters = {"requests": task.requests, "throttled": task.throttled, "retries": task.retries}
    await FlowStore(get_settings()).record_progress(
        spec.client,
        spec.platform,
        spec.account,
        spec.resource,
        spec.block_id,
        task.attempt,
        task.execution,
        counters,
        task.now,
    )
