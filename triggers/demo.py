"""POST /api/demo: a demo run for a prospect, served ahead of all other work.

Body: ``shared.api.DemoRequest`` (prospect, platform -> account + credentials). Each
platform's connection is stored (credentials sealed) under the prospect's demo client,
and one ``sync_client`` run of tier ``demo`` loads the most recent orders — the
ambassadors cap a demo at 100 requests per marketplace and serve it first. The run's
output (status URL) carries the preview of recent sales. 202 with the status URLs;
a demo already running for the prospect answers 200 with the same URLs.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from orchestrators import sync_client
from shared.api import DemoRequest, validation_message, validation_problems
from shared.errors import ConfigurationError
from shared.flows.clock import utcnow
from shared.flows.connections import seal_context
from shared.flows.http import demo_client, demo_id, error, json_response
from shared.flows.models import ConnectionRef, SyncRequest
from shared.settings import get_settings
from shared.storage.ledger import Connection, Ledger
from shared.vault import seal
from triggers.connect import RESTARTABLE, status_links

bp = df.Blueprint()
NAME = "demo"


@bp.function_name(NAME)
@bp.route(route="demo", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def demo(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    now = utcnow()
    try:
        request = DemoRequest.model_validate_json(req.get_body() or b"")
    except ValidationError as exc:
        return error(400, validation_message(exc), problems=validation_problems(exc))
    settings = get_settings()
    client_id = demo_client(request.prospect)
    connections = []
    sealed = {}
    for platform, given in request.platforms.items():
        connection = Connection(
            client=client_id,
            platform=platform,
            account=given.account,
            credentials_ref=f"ledger:{platform}/{given.account}",
            created_at=now,
            updated_at=now,
        )
        try:
            token = seal(
                settings.credentials_key, given.credentials, context=seal_context(connection)
            )
        except ConfigurationError as exc:
            return error(500, f"the service cannot store credentials: {exc}")
        sealed[platform] = connection.model_copy(update={"encrypted_credentials": token})
        connections.append(ConnectionRef(platform=platform, account=given.account))
    ledger = Ledger(settings)
    for connection in sealed.values():
        await ledger.save_connection(connection)
    instance = demo_id(request.prospect)
    existing = await client.get_status(instance)
    running = existing is not None and existing.runtime_status is not None
    started = not running or existing.runtime_status in RESTARTABLE
    if started:
        run = SyncRequest(
            client=client_id,
            tier="demo",
            run_id=f"demo-{now:%Y%m%dT%H%M%S}",
            connections=connections,
            resources=["orders"],
        )
        await client.start_new(sync_client.NAME, instance, run.model_dump(mode="json"))
    body = {"started": started, **status_links(client, req, instance, client_id)}
    return json_response(202 if started else 200, body)
