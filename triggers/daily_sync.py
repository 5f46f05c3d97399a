"""Timer: the daily sync of every connected client, at 03:00 UTC.

One ``sync_client`` run of tier ``daily`` per client, over all its active connections,
under the fixed instance id ``daily|<client>|<yyyymmdd>``: a second trigger on the same
day finds the instance and adds no work.
"""

from __future__ import annotations

from collections import defaultdict

import azure.durable_functions as df
import azure.functions as func

from orchestrators import sync_client
from shared.flows.clock import utcnow
from shared.flows.http import daily_id
from shared.flows.models import ConnectionRef, SyncRequest
from shared.settings import get_settings
from shared.storage.ledger import ConnectionStatus, Ledger

bp = df.Blueprint()
NAME = "daily_sync"
SCHEDULE = "0 0 3 * * *"


@bp.function_name(NAME)
@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def daily_sync(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    now = utcnow()
    day = f"{now:%Y%m%d}"
    connections = await Ledger(get_settings()).list_connections(status=ConnectionStatus.ACTIVE)
    by_client: dict[str, list[ConnectionRef]] = defaultdict(list)
    for connection in connections:
        if connection.client.startswith("demo:"):
            continue  # a prospect's demo is not synced daily
        by_client[connection.client].append(
            ConnectionRef(platform=connection.platform, account=connection.account)
        )
    for client_id, refs in sorted(by_client.items()):
        instance = daily_id(client_id, day)
        existing = await client.get_status(instance)
        if existing is not None and existing.runtime_status is not None:
            continue
        run = SyncRequest(client=client_id, tier="daily", run_id=f"daily-{day}", connections=refs)
        await client.start_new(sync_client.NAME, instance, run.model_dump(mode="json"))
