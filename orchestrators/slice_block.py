"""The vertical slice's block: ask the permit entity, wait if denied, write, release."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from activities import write_slice_record
from entities import slice_permits

bp = df.Blueprint()
NAME = "slice_block"


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def slice_block(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    permits = df.EntityId(slice_permits.NAME, spec["client_id"])
    while True:
        grant = yield context.call_entity(permits, "acquire", {"holder": context.instance_id})
        if grant["granted"]:
            break
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
    try:
        written = yield context.call_activity(write_slice_record.NAME, spec)
    finally:
        context.signal_entity(permits, "release", {"holder": context.instance_id})
    return written
