"""The vertical slice's parent: fans out one block sub-orchestration per block."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators import slice_block

bp = df.Blueprint()
NAME = "slice_client"


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def slice_client(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    client_id, blocks = spec["client_id"], spec["blocks"]
    context.set_custom_status({"phase": "loading", "blocks": blocks})
    tasks = [
        context.call_sub_orchestrator(
            slice_block.NAME,
            {"client_id": client_id, "block": i},
            f"{context.instance_id}:block:{i}",
        )
        for i in range(blocks)
    ]
    results = yield context.task_all(tasks)
    context.set_custom_status({"phase": "done", "blocks": blocks})
    return {"client_id": client_id, "blocks": len(results), "records": sum(results)}
