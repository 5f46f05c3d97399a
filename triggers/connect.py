"""POST /api/clients/{client_id}/connect: store a connection, start its onboarding.

Body: ``shared.api.ConnectRequest`` (platform, account, credentials, optional
history_start date). Bad input -> 400 with a JSON body naming every problem (never a
credential value), before anything is stored. The credentials are sealed
(``shared.vault``) into the ledger's ``Connection``; the onboarding runs under a fixed
instance id per (client, platform, account), so connecting the same account again
updates the credentials but starts no second backfill: 202 when a run was started,
200 when one exists already; both carry the status URLs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from orchestrators import sync_client
from shared.api import ConnectRequest, validate_client_id, validation_message, validation_problems
from shared.errors import ConfigurationError
from shared.flows.clock import utcnow
from shared.flows.connections import seal_context
from shared.flows.http import error, json_response, onboarding_id
from shared.flows.models import ConnectionRef, SyncRequest
from shared.settings import get_settings
from shared.storage.ledger import Connection, Ledger
from shared.vault import seal

bp = df.Blueprint()
NAME = "connect"
RESTARTABLE = (
    df.OrchestrationRuntimeStatus.Failed,
    df.OrchestrationRuntimeStatus.Terminated,
    df.OrchestrationRuntimeStatus.Canceled,
)


def status_links(client: df.DurableOrchestrationClient, req, instance: str, client_id: str):
    links = json.loads(client.create_check_status_response(req, instance).get_body())
    links["clientStatusUri"] = f"/api/clients/{client_id}/status"
    return links


def _start_of(day) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)


@bp.function_name(NAME)
@bp.route(route="clients/{client_id}/connect", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def connect(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    now = utcnow()
    try:
        client_id = validate_client_id(req.route_params.get("client_id", ""))
    except ValueError as exc:
        return error(400, f"client_id: {exc}")
    try:
        request = ConnectRequest.model_validate_json(
            req.get_body() or b"", context={"today": now.date()}
        )
    except ValidationError as exc:
        return error(400, validation_message(exc), problems=validation_problems(exc))
    settings = get_settings()
    connection = Connection(
        client=client_id,
        platform=request.platform,
        account=request.account,
        credentials_ref=f"ledger:{request.platform}/{request.account}",
        created_at=now,
        updated_at=now,
    )
    try:
        sealed = seal(
            settings.credentials_key, request.credentials, context=seal_context(connection)
        )
    except ConfigurationError as exc:
        return error(500, f"the service cannot store credentials: {exc}")
    await Ledger(settings).save_connection(
        connection.model_copy(update={"encrypted_credentials": sealed})
    )
    instance = onboarding_id(client_id, request.platform, request.account)
    existing = await client.get_status(instance)
    running = existing is not None and existing.runtime_status is not None
    started = not running or existing.runtime_status in RESTARTABLE
    if started:
        run = SyncRequest(
            client=client_id,
            tier="backfill",
            run_id=f"onboard-{now:%Y%m%dT%H%M%S}",
            connections=[
                ConnectionRef(
                    platform=request.platform,
                    account=request.account,
                    history_start=_start_of(request.history_start),
                )
            ],
        )
        await client.start_new(sync_client.NAME, instance, run.model_dump(mode="json"))
    body = {"started": started, **status_links(client, req, instance, client_id)}
    return json_response(202 if started else 200, body)
