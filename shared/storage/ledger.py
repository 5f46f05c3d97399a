"""The ledger in Table storage: connections, blocks, watermarks and alerts.

A restarted run reads here what is done and skips it; many instances write here at
once, so every change that must not be lost is a compare-and-set: read the row with its
ETag, decide the new row from it (a pure function), write it only if the ETag still
matches (or create it only if absent), and on a lost race decide again on the winner's
row. Rows only move forward: blocks by the rule in ``shared.storage.blocks``,
watermarks never go back, an alert row exists once per dedupe key.

Tables (``{table_prefix}`` + name) and keys, parts escaped with ``keys.join_key``:

=============  ===========================  ==========================
table          PartitionKey                 RowKey
=============  ===========================  ==========================
connections    client                       platform | account
blocks         client | platform | account  resource | block_id
watermarks     client | platform            account | resource
alerts         client                       dedupe key
=============  ===========================  ==========================

Every method that writes takes ``now`` (aware, UTC); when omitted the wall clock is used.
Storage faults surface as TransientError / ThrottledError (shared.errors).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import TransientError
from shared.settings import Settings
from shared.storage.blocks import AwareDatetime, Block, BlockKey, BlockUpdate, advance
from shared.storage.clients import StorageClients, shared_clients, storage_errors
from shared.storage.codec import decode_fields, encode_fields
from shared.storage.keys import bounded_key, escape_key, join_key, prefix_range, table_name

CAS_ROUNDS = 25
"""Lost races tolerated per change before giving up with TransientError."""
TRANSACTION_ROWS = 100
"""Rows of one partition inserted per transaction (the Table service's limit)."""

Fields = dict[str, Any]


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    FAILING = "failing"


class Connection(BaseModel):
    """A client's connected account on one platform.

    ``credentials_ref`` names where the credentials live (a Key Vault secret or app
    setting), resolved inside activities. ``encrypted_credentials`` is an opaque
    ciphertext (for instance under ``settings.credentials_key``) — never plaintext; it is
    kept out of ``repr``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client: str
    platform: str
    account: str
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    credentials_ref: str
    encrypted_credentials: str | None = Field(default=None, repr=False)
    created_at: AwareDatetime
    updated_at: AwareDatetime


class Watermark(BaseModel):
    """Everything of (client, platform, account, resource) changed before ``value`` (UTC)
    is stored; the daily sync starts there, minus its overlap."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client: str
    platform: str
    account: str
    resource: str
    value: AwareDatetime
    updated_at: AwareDatetime


class Alert(BaseModel):
    """One alert for client support. ``dedupe_key`` identifies the condition: raising an
    alert whose key exists already does nothing. ``sent_at`` is set once e-mailed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client: str
    dedupe_key: str = Field(min_length=1)
    kind: str
    subject: str
    body: str
    platform: str | None = None
    account: str | None = None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None = None

    @classmethod
    def block_parked(cls, block: Block, now: datetime) -> Alert:
        """The alert for a block parked after failing; one per block, whatever retries."""
        key = "block-parked|" + join_key(
            block.platform, block.account, block.resource, block.block_id
        )
        return cls(
            client=block.client,
            dedupe_key=key,
            kind="block_parked",
            subject=f"{block.platform} {block.resource} of {block.client} stopped loading",
            body=(
                f"Block {block.block_id} ({block.window_start.isoformat()} to "
                f"{block.window_end.isoformat()}) of account {block.account!r} failed "
                f"{block.attempts} times and was parked. Last error: {block.last_error}"
            ),
            platform=block.platform,
            account=block.account,
            created_at=now,
        )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _block_keys(key: BlockKey) -> tuple[str, str]:
    return join_key(key.client, key.platform, key.account), join_key(key.resource, key.block_id)


class Ledger:
    """Progress and connections of every client (see the module docstring)."""

    def __init__(
        self, settings: Settings, *, clients: StorageClients | None = None, concurrency: int = 8
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._names = {
            name: table_name(settings.table_prefix, name)
            for name in ("connections", "blocks", "watermarks", "alerts")
        }
        self._concurrency = concurrency
        self.conflicts = 0
        """Lost compare-and-set races so far (each was decided again)."""

    async def _table(self, name: str) -> TableClient:
        clients = self._clients or shared_clients(self._settings)
        return await clients.table(self._names[name])

    # --- compare-and-set -------------------------------------------------------------

    async def _get(self, table: TableClient, partition: str, row: str) -> Any | None:
        try:
            with storage_errors():
                return await table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    async def _compare_and_set(
        self, name: str, partition: str, row: str, decide: Callable[[Fields | None], Fields | None]
    ) -> Fields | None:
        """Apply ``decide`` (current fields or None -> new fields, or None for no change)
        atomically to one row; return the row's fields afterwards (None if absent)."""
        table = await self._table(name)
        keys = {"PartitionKey": partition, "RowKey": row}
        for _ in range(CAS_ROUNDS):
            entity = await self._get(table, partition, row)
            current = None if entity is None else decode_fields(entity)
            wanted = decide(current)
            if wanted is None:
                return current
            try:
                with storage_errors():
                    if entity is None:
                        await table.create_entity(encode_fields(wanted, keys=keys))
                    else:
                        await table.update_entity(
                            encode_fields(wanted, keys=keys),
                            mode=UpdateMode.REPLACE,
                            etag=entity.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified,
                        )
                return wanted
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                self.conflicts += 1
        raise TransientError(f"ledger row {partition}/{row} kept changing; try again later")

    async def _query(self, name: str, query: str, parameters: dict[str, str]) -> list[Fields]:
        table = await self._table(name)
        found = (
            table.query_entities(query, parameters=parameters) if query else table.list_entities()
        )
        with storage_errors():
            return [decode_fields(entity) async for entity in found]

    async def _by_prefix(self, name: str, prefix: str, extra: str = "", **params: str):
        low, high = prefix_range(prefix)
        query = "PartitionKey ge @low and PartitionKey lt @high" + extra
        return await self._query(name, query, {"low": low, "high": high, **params})

    # --- connections -----------------------------------------------------------------

    async def save_connection(self, connection: Connection) -> Connection:
        """Create or replace a connection; an existing row keeps its ``created_at``."""

        def decide(current: Fields | None) -> Fields:
            fields = connection.model_dump()
            if current is not None:
                fields["created_at"] = current["created_at"]
            return fields

        partition = join_key(connection.client)
        row = join_key(connection.platform, connection.account)
        stored = await self._compare_and_set("connections", partition, row, decide)
        return Connection.model_validate(stored)

    async def update_connection(
        self,
        client: str,
        platform: str,
        account: str,
        change: Callable[[Connection], Connection | None],
    ) -> Connection | None:
        """Compare-and-set one connection: ``change`` gets the stored row and returns the
        row to write (same client, platform and account) or None to leave it; the write
        is conditional on the row's ETag (if-match), and after a lost race ``change`` is
        asked again on the winner's row. Returns the connection as stored afterwards,
        None if there is no such connection (nothing is created)."""

        def decide(current: Fields | None) -> Fields | None:
            if current is None:
                return None
            changed = change(Connection.model_validate(current))
            if changed is None:
                return None
            if (changed.client, changed.platform, changed.account) != (client, platform, account):
                raise ValueError("update_connection cannot move a connection to other keys")
            return {**changed.model_dump(), "created_at": current["created_at"]}

        row = join_key(platform, account)
        stored = await self._compare_and_set("connections", join_key(client), row, decide)
        return None if stored is None else Connection.model_validate(stored)

    async def get_connection(self, client: str, platform: str, account: str) -> Connection | None:
        table = await self._table("connections")
        entity = await self._get(table, join_key(client), join_key(platform, account))
        return None if entity is None else Connection.model_validate(decode_fields(entity))

    async def list_connections(
        self, client: str | None = None, *, status: ConnectionStatus | None = None
    ) -> list[Connection]:
        """Connections of ``client`` (all clients if None), optionally of one status."""
        clauses, params = [], {}
        if client is not None:
            clauses.append("PartitionKey eq @pk")
            params["pk"] = join_key(client)
        if status is not None:
            clauses.append("status eq @status")
            params["status"] = status.value
        rows = await self._query("connections", " and ".join(clauses), params)
        return [Connection.model_validate(r) for r in rows]

    async def set_connection_status(
        self,
        client: str,
        platform: str,
        account: str,
        status: ConnectionStatus,
        *,
        now: datetime | None = None,
    ) -> Connection:
        """Change a connection's status. Raises KeyError if there is no such connection."""

        def decide(current: Fields | None) -> Fields | None:
            if current is None:
                raise KeyError((client, platform, account))
            if current["status"] == status:
                return None
            return {**current, "status": status.value, "updated_at": _now(now)}

        row = join_key(platform, account)
        stored = await self._compare_and_set("connections", join_key(client), row, decide)
        return Connection.model_validate(stored)

    # --- blocks ----------------------------------------------------------------------

    async def plan_blocks(self, blocks: Iterable[Block]) -> int:
        """Insert the blocks not yet in the ledger; rows that exist (in any state) are
        left alone, so planning again after a restart keeps all progress. Returns how
        many were inserted. A partition's blocks go in one transaction (up to
        ``TRANSACTION_ROWS``), row by row only when one of them exists already: one
        round trip for a new plan instead of one per block."""
        table = await self._table("blocks")
        gate = asyncio.Semaphore(self._concurrency)

        def entity(block: Block) -> Fields:
            partition, row = _block_keys(block.key)
            keys = {"PartitionKey": partition, "RowKey": row}
            return encode_fields(block.model_dump(), keys=keys)

        async def insert(block: Block) -> int:
            async with gate:
                try:
                    with storage_errors():
                        await table.create_entity(entity(block))
                except ResourceExistsError:
                    return 0
            return 1

        async def together(group: list[Block]) -> int:
            """One transaction inserting all of ``group`` (one partition); row by row if
            storage refused it (a row exists already: the transaction wrote nothing)."""
            if len(group) > 1:
                try:
                    async with gate:
                        with storage_errors():
                            operations = [("create", entity(b)) for b in group]
                            await table.submit_transaction(operations)
                    return len(group)
                except TableTransactionError:
                    pass  # refused as a whole (a row there already): row by row below
            return sum(await asyncio.gather(*(insert(b) for b in group)))

        groups: dict[str, list[Block]] = {}
        for block in blocks:
            groups.setdefault(_block_keys(block.key)[0], []).append(block)
        chunks = [
            group[i : i + TRANSACTION_ROWS]
            for group in groups.values()
            for i in range(0, len(group), TRANSACTION_ROWS)
        ]
        return sum(await asyncio.gather(*(together(c) for c in chunks)))

    async def get_block(self, key: BlockKey) -> Block | None:
        table = await self._table("blocks")
        entity = await self._get(table, *_block_keys(key))
        return None if entity is None else Block.model_validate(decode_fields(entity))

    async def list_blocks(
        self, client: str, platform: str | None = None, account: str | None = None
    ) -> list[Block]:
        """Blocks of a client, narrowed to a platform and then an account if given
        (``account`` needs ``platform``)."""
        if account is not None and platform is None:
            raise ValueError("account needs platform")
        if account is not None and platform is not None:
            rows = await self._query(
                "blocks", "PartitionKey eq @pk", {"pk": join_key(client, platform, account)}
            )
        else:
            parts = (client,) if platform is None else (client, platform)
            rows = await self._by_prefix("blocks", join_key(*parts) + "|")
        return [Block.model_validate(r) for r in rows]

    async def update_block(
        self, key: BlockKey, update: BlockUpdate, *, now: datetime | None = None
    ) -> Block:
        """Apply ``update`` by the forward-only rule (``blocks.advance``) and return the
        block as stored afterwards. Raises BlockRejected if the stored state is ahead of
        the update, KeyError if the block was never planned."""
        at = _now(now)

        def decide(current: Fields | None) -> Fields | None:
            if current is None:
                raise KeyError(key)
            after = advance(Block.model_validate(current), update, at)
            return None if after is None else after.model_dump()

        stored = await self._compare_and_set("blocks", *_block_keys(key), decide)
        return Block.model_validate(stored)

    # --- watermarks ------------------------------------------------------------------

    async def get_watermark(
        self, client: str, platform: str, account: str, resource: str
    ) -> Watermark | None:
        table = await self._table("watermarks")
        entity = await self._get(table, join_key(client, platform), join_key(account, resource))
        return None if entity is None else Watermark.model_validate(decode_fields(entity))

    async def advance_watermark(
        self,
        client: str,
        platform: str,
        account: str,
        resource: str,
        value: datetime,
        *,
        now: datetime | None = None,
    ) -> Watermark:
        """Move the watermark to ``value`` unless it is there or beyond already; return
        the watermark as stored afterwards (``value`` or later)."""
        wanted = Watermark(
            client=client,
            platform=platform,
            account=account,
            resource=resource,
            value=value,
            updated_at=_now(now),
        )

        def decide(current: Fields | None) -> Fields | None:
            if current is not None and current["value"] >= wanted.value:
                return None
            return wanted.model_dump()

        partition, row = join_key(client, platform), join_key(account, resource)
        stored = await self._compare_and_set("watermarks", partition, row, decide)
        return Watermark.model_validate(stored)

    # --- alerts ----------------------------------------------------------------------

    async def raise_alert(self, alert: Alert) -> bool:
        """Record ``alert`` unless one with its dedupe key exists; True if it is new (the
        caller should send it), False if it was raised before."""
        table = await self._table("alerts")
        keys = {"PartitionKey": join_key(alert.client), "RowKey": _alert_row(alert.dedupe_key)}
        try:
            with storage_errors():
                await table.create_entity(encode_fields(alert.model_dump(), keys=keys))
        except ResourceExistsError:
            return False
        return True

    async def list_alerts(
        self, client: str | None = None, *, unsent_only: bool = False
    ) -> list[Alert]:
        """Alerts of ``client`` (all if None), oldest key first; only unsent ones if asked."""
        if client is not None:
            rows = await self._query("alerts", "PartitionKey eq @pk", {"pk": join_key(client)})
        else:
            rows = await self._query("alerts", "", {})  # every client: a full scan
        alerts = [Alert.model_validate(r) for r in rows]
        return [a for a in alerts if a.sent_at is None] if unsent_only else alerts

    async def mark_alert_sent(
        self, client: str, dedupe_key: str, *, now: datetime | None = None
    ) -> Alert:
        """Record that an alert was sent (keeps the first time). KeyError if absent."""

        def decide(current: Fields | None) -> Fields | None:
            if current is None:
                raise KeyError((client, dedupe_key))
            return None if current["sent_at"] is not None else {**current, "sent_at": _now(now)}

        row = _alert_row(dedupe_key)
        stored = await self._compare_and_set("alerts", join_key(client), row, decide)
        return Alert.model_validate(stored)


def _alert_row(dedupe_key: str) -> str:
    return bounded_key(escape_key(dedupe_key))
