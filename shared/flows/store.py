"""The flows' own rows in Table storage: stored plans and per-execution counters.

``plans``     PartitionKey client|platform|account, RowKey resource: the backfill plan
              as first made (the planner's blocks as JSON), so a resumed run loads the
              same blocks whatever ``now`` it resumes at.
``progress``  PartitionKey client|platform|account, RowKey resource|block|attempt|exec:
              what one execution of a block orchestration spent (requests, 429s,
              retries). Written with upsert-replace per key, so a retried write counts
              once; the status endpoint sums them.

Every call is idempotent (a read, or an upsert that replaces the whole row), so a
transient storage failure is retried in place (``shared.flows.storage_retry``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.flows.storage_retry import retried
from shared.planning import PlannedBlock
from shared.settings import Settings
from shared.storage.clients import shared_clients, storage_errors
from shared.storage.codec import decode_fields, encode_fields
from shared.storage.keys import join_key, table_name

COUNTERS = ("requests", "throttled", "retries")


class FlowStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._plans = table_name(settings.table_prefix, "plans")
        self._progress = table_name(settings.table_prefix, "progress")

    async def _table(self, name: str):
        return await shared_clients(self._settings).table(name)

    async def get_plan(
        self, client: str, platform: str, account: str, resource: str
    ) -> list[PlannedBlock] | None:
        async def read():
            table = await self._table(self._plans)
            try:
                with storage_errors():
                    return await table.get_entity(
                        join_key(client, platform, account), join_key(resource)
                    )
            except ResourceNotFoundError:
                return None

        entity = await retried(read)
        if entity is None:
            return None
        blocks = decode_fields(entity)["blocks"]
        return [PlannedBlock.model_validate(b) for b in blocks]

    async def _upsert(self, name: str, entity: dict[str, Any]) -> None:
        async def write():
            table = await self._table(name)
            with storage_errors():
                await table.upsert_entity(entity, mode=UpdateMode.REPLACE)

        await retried(write)

    async def save_plan(
        self,
        client: str,
        platform: str,
        account: str,
        resource: str,
        blocks: list[PlannedBlock],
        now: datetime,
    ) -> None:
        fields = {"blocks": [b.model_dump(mode="json") for b in blocks], "planned_at": now}
        keys = {"PartitionKey": join_key(client, platform, account), "RowKey": join_key(resource)}
        await self._upsert(self._plans, encode_fields(fields, keys=keys))

    async def record_progress(
        self,
        client: str,
        platform: str,
        account: str,
        resource: str,
        block_id: str,
        attempt: int,
        execution: int,
        counters: dict[str, int],
        now: datetime,
    ) -> None:
        keys = {
            "PartitionKey": join_key(client, platform, account),
            "RowKey": join_key(resource, block_id, str(attempt), str(execution)),
        }
        fields: dict[str, Any] = {
            "resource": resource,
            "platform": platform,
            "block_id": block_id,
            **{k: int(counters.get(k, 0)) for k in COUNTERS},
            "at": now,
        }
        await self._upsert(self._progress, encode_fields(fields, keys=keys))

    async def totals(self, client: str) -> dict[tuple[str, str], dict[str, int]]:
        """(platform, resource) -> summed counters over every block and execution."""
        low = join_key(client) + "|"
        high = low[:-1] + chr(ord("|") + 1)
        query = "PartitionKey ge @low and PartitionKey lt @high"

        async def read() -> list[dict[str, Any]]:
            table = await self._table(self._progress)
            with storage_errors():
                rows = table.query_entities(query, parameters={"low": low, "high": high})
                return [decode_fields(entity) async for entity in rows]

        out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
        for row in await retried(read):
            sums = out[(row["platform"], row["resource"])]
            for name in COUNTERS:
                sums[name] += int(row.get(name) or 0)
        return dict(out)
