"""POST /api/slice/{client_id}: start the vertical-slice orchestration (foundation check).

Body: ``{"blocks": n}`` with 1 <= n <= 500. Answers 202 with the status URLs, or 400
with a JSON body naming what is wrong. The instance id is fixed per client, so a second
call while one runs answers 409 instead of starting twice.
"""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, Field, ValidationError

from orchestrators import slice_client

bp = df.Blueprint()
NAME = "start_slice"


class SliceRequest(BaseModel):
    blocks: int = Field(ge=1, le=500)


def _error(status: int, message: str, **extra: object) -> func.HttpResponse:
    body = json.dumps({"error": message, **extra})
    return func.HttpResponse(body, status_code=status, mimetype="application/json")


@bp.function_name(NAME)
@bp.route(route="slice/{client_id}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_slice(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    client_id = req.route_params["client_id"]
    try:
        request = SliceRequest.model_validate_json(req.get_body() or b"{}")
    except ValidationError as exc:
        problems = [
            {"field": ".".join(map(str, e["loc"])) or "(body)", "problem": e["msg"]}
            for e in exc.errors()
        ]
        return _error(400, "invalid request body", problems=problems)
    instance_id = f"slice-{client_id}"
    existing = await client.get_status(instance_id)
    if existing and existing.runtime_status in (
        df.OrchestrationRuntimeStatus.Running,
        df.OrchestrationRuntimeStatus.Pending,
    ):
        return _error(409, f"a slice run for client {client_id!r} is already running")
    await client.start_new(
        slice_client.NAME, instance_id, {"client_id": client_id, "blocks": request.blocks}
    )
    return client.create_check_status_response(req, instance_id)
