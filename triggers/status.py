"""GET /api/clients/{client_id}/status: the client's progress as JSON.

``shared.api.StatusReport``: platform -> resource -> blocks done / total / parked,
records stored, requests, 429s, retries, phase and ETA (``shared.flows.status``), plus
the custom status of the client's onboarding runs still going. 404 for a client with
no connection.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared.api import validate_client_id
from shared.flows.clock import utcnow
from shared.flows.http import error, json_response, onboarding_id
from shared.flows.status import client_status
from shared.settings import get_settings
from shared.storage.ledger import Ledger

bp = df.Blueprint()
NAME = "client_status"


@bp.function_name(NAME)
@bp.route(route="clients/{client_id}/status", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def client_status_http(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    try:
        client_id = validate_client_id(req.route_params.get("client_id", ""))
    except ValueError as exc:
        return error(400, f"client_id: {exc}")
    settings = get_settings()
    connections = await Ledger(settings).list_connections(client_id)
    if not connections:
        return error(404, f"client {client_id!r} has no connection")
    report = await client_status(settings, client_id, utcnow())
    runs = {}
    for connection in connections:
        instance = onboarding_id(client_id, connection.platform, connection.account)
        status = await client.get_status(instance)
        if status is not None and status.runtime_status is not None:
            runs[f"{connection.platform}/{connection.account}"] = {
                "runtimeStatus": status.runtime_status.value,
                "customStatus": status.custom_status,
            }
    body = report.model_dump(mode="json")
    body["onboarding"] = runs
    return json_response(200, body)
