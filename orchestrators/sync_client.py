"""One run for one client: every resource of every given account, side by side.

Onboarding (tier ``backfill``, one connection), the daily sync (tier ``daily``, every
connection of the client) and demo runs (tier ``demo``, orders only, then a preview)
are all this orchestration with different input (``SyncRequest``). Each (account,
resource) is a ``sync_resource`` sub-orchestration; the run plans its newest window
``SETTLE`` before its start (Amazon's two-minute rule; records that young are not
final).

Custom status: ``{"phase", "tier", "resources_total", "resources_done"}``; output:
the per-resource summaries (and ``preview`` for a demo).
"""

from __future__ import annotations

import azure.durable_functions as df

from activities import demo_preview
from orchestrators import sync_resource
from shared.flows.chains import SETTLE, resources_of
from shared.flows.models import PreviewInput, ResourceRun, SyncRequest

bp = df.Blueprint()
NAME = "sync_client"


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def sync_client(context: df.DurableOrchestrationContext):
    request = SyncRequest.model_validate(context.get_input())
    now = request.now or context.current_utc_datetime - SETTLE
    tasks = []
    for connection in request.connections:
        for resource in resources_of(connection.platform):
            if request.resources is not None and resource not in request.resources:
                continue
            run = ResourceRun(
                client=request.client,
                platform=connection.platform,
                account=connection.account,
                resource=resource,
                tier=request.tier,
                run_id=request.run_id,
                now=now,
                history_start=connection.history_start,
            )
            child = f"{context.instance_id}|{connection.platform}|{connection.account}|{resource}"
            tasks.append(
                context.call_sub_orchestrator(
                    sync_resource.NAME, {"run": run.model_dump(mode="json")}, child
                )
            )
    status = {"phase": "loading", "tier": request.tier, "resources_total": len(tasks)}
    context.set_custom_status({**status, "resources_done": 0})
    try:
        results = yield context.task_all(tasks)
    except Exception as exc:  # a resource orchestration crashed; the ledger keeps progress
        context.set_custom_status({**status, "phase": "failed"})
        return {"client": request.client, "tier": request.tier, "error": str(exc)[:500]}
    output = {"client": request.client, "tier": request.tier, "resources": results}
    if request.tier == "demo":
        context.set_custom_status({**status, "phase": "preview", "resources_done": len(results)})
        preview = PreviewInput(client=request.client, connections=request.connections)
        output["preview"] = yield context.call_activity(
            demo_preview.NAME, preview.model_dump(mode="json")
        )
    context.set_custom_status({**status, "phase": "done", "resources_done": len(results)})
    return output
