"""Normalized records in Table storage: idempotent upserts, batched and overlapped.

Keys
----
One table per client, platform and resource,
``records_table(table_prefix, client, platform, resource)``::

    {table_prefix}rec{platform}{resource}{slug}{hash8}

``resource`` is the resource's name without its underscores (``orderitems``), ``slug`` the
client id's ASCII letters and digits, lowercased and cut short (at most
``SLUG_CHARS``, less if the name would pass Azure's 63 characters), ``hash8`` the first 8
hex digits of the SHA-256 of the client id: readable in a storage browser, and two
clients whose slugs agree still get different tables. A table is created by its first
write; reads never create one, and a read of a table never written finds nothing.
Within a table, for a record of ``client``::

    PartitionKey = client | platform | resource | period
    RowKey       = account | natural_key

each part escaped with ``keys.escape_key`` (so ``|`` only ever separates parts, and the
characters Azure forbids never reach a key). ``period`` is ``yyyy-mm`` of the record's
*business date* in UTC — the field named for its resource in ``BUSINESS_DATES`` (orders
by ``created_at``, transactions by ``posted_at`` …) — or ``-`` where the resource has
none (inventory levels, payouts) or the record lacks it. A RowKey too long for Azure is
shortened with a hash (``keys.bounded_key``); every field, ``natural_key`` included, is
also stored as a property, so reads never depend on decoding keys.

Why this shape
--------------
- *One table per client, platform and resource.* Tenants are isolated by name, not only
  by key: a client's data (or one platform's or resource's of it) is deleted by deleting
  its tables, and no scan of one client ever walks another's rows. Scans stay bounded by
  the data they are about — on Azurite, whose query filters every entity of the table for
  every page (and inserts into sorted key indices), a shared table made each page cost
  all clients' rows (quadratic at 50 clients), and a table per platform made a page of
  one month of Amazon's transactions cost every order and item too (the reference
  seller's 86,724 Amazon rows; a third of the emulator's time). Every read names one
  resource, so none spans tables. The PartitionKey still starts with client, platform
  and resource, so correctness never rests on the table name: a hash collision would
  share a table, never a row or a read.
- *Idempotent, duplicate-free.* (PartitionKey, RowKey) is a function of the record's
  identity only, and every write is an upsert that replaces the whole entity: a retried
  page, an overlapping daily window or a duplicate delivery lands on the same row. This
  holds as long as the business date is immutable and present in every delivery of a
  record (or in none) — the normalizers' contract; a mutable date (``updated_at``, a
  payout's ``issued_at``) must never be a business date.
- *Loading.* An entity-group transaction takes up to 100 operations of one partition. A
  block covers one resource over a window of days to months, so its records fall in one
  or a few partitions and batches fill to 100; blocks of other months or resources write
  other partitions, which Azure serves from different partition servers, so the several
  transactions in flight do not queue on one hot partition.
- *Statistics.* A month of one platform's sales (or fees, refunds …) of a client is one
  partition scan; a year is twelve scans that can run in parallel; all of a resource is
  one PartitionKey range (``prefix_range``). The account sits in the RowKey rather than
  the partition because per-client figures add up every account of a platform.

Throughput
----------
``upsert`` groups records by partition, cuts each group into transactions of at most
``MAX_BATCH_OPS`` operations and ``MAX_BATCH_BYTES`` (estimated; Azure's cap is 4 MiB),
and submits them concurrently, at most ``concurrency`` in flight (semaphore). On Azurite
this gives about 2,000 records/s with 4-8 in flight (see scripts/bench_storage.py).
Transactions are written by ``transactions.submit_upserts`` and queries read by
``queries.query`` — the SDK's pipeline without its ``email``-based multipart code and
generated deserializer, which cost more CPU than storage itself (order records over
twelve months, scripts/bench_storage.py's: upsert 490 -> 55 µs of CPU per record, read
124 -> 23 µs).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient
from pydantic import BaseModel

from shared import jsontext
from shared.settings import Settings
from shared.storage.clients import StorageClients, shared_clients
from shared.storage.codec import TYPES_PROPERTY, decode_fields, encode_fields, entity_bytes
from shared.storage.keys import MAX_KEY_BYTES, bounded_key, join_key, prefix_range, table_name
from shared.storage.queries import literal, query
from shared.storage.transactions import submit_upserts

TABLE_MARK = "rec"
SLUG_CHARS = 20
HASH_CHARS = 8
MAX_TABLE_CHARS = 63
MAX_BATCH_OPS = 100
MAX_BATCH_BYTES = 2 * 1024 * 1024  # UTF-16 estimate; JSON on the wire stays under 4 MiB
UNDATED = "-"
IDENTITY_FIELDS = ("platform", "account", "resource", "natural_key")

BUSINESS_DATES: Mapping[str, str] = {
    "orders": "created_at",
    "order_items": "created_at",
    "transactions": "posted_at",
    "returns": "created_at",
    "bank_transactions": "booked_at",
}
"""Resource -> the immutable field whose month partitions its records."""

Entity = dict[str, Any]


def period_of(value: datetime | date | str | None) -> str:
    """``yyyy-mm`` of a business date (datetime in UTC, date, or ISO 8601 string), or
    ``UNDATED`` for None. Raises ValueError for a naive datetime or a bad string."""
    if value is None:
        return UNDATED
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"business date {value!r} is naive; it must be timezone-aware")
        value = value.astimezone(UTC)
    return f"{value.year:04d}-{value.month:02d}"


@lru_cache(maxsize=4096)  # pure; asked for every write and read
def records_table(prefix: str, client: str, platform: str, resource: str) -> str:
    """The name of the table holding ``client``'s records of ``platform``'s ``resource``
    (see the module docstring). Raises ValueError for a platform that is not ASCII
    letters and digits or a resource that is not those and underscores,
    ConfigurationError if ``prefix`` leaves no valid name."""
    if not (platform.isascii() and platform.isalnum()):
        raise ValueError(f"platform {platform!r} must be ASCII letters and digits")
    kind = resource.replace("_", "")
    if not (kind.isascii() and kind.isalnum()):
        raise ValueError(f"resource {resource!r} must be ASCII letters, digits and underscores")
    digest = hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    head = f"{prefix}{TABLE_MARK}{platform.lower()}{kind.lower()}"
    room = max(0, min(SLUG_CHARS, MAX_TABLE_CHARS - len(head) - HASH_CHARS))
    slug = "".join(c for c in client.lower() if c.isascii() and c.isalnum())[:room]
    return table_name(head, slug + digest)


@lru_cache(maxsize=4096)  # pure; every record of a page asks it again
def resource_prefix(client: str, platform: str, resource: str) -> str:
    """The PartitionKey prefix shared by every period of (client, platform, resource)."""
    return join_key(client, platform, resource) + "|"


def record_keys(
    client: str, record: Mapping[str, Any], business_dates: Mapping[str, str] = BUSINESS_DATES
) -> tuple[str, str]:
    """``(PartitionKey, RowKey)`` of ``record`` for ``client`` (see the module docstring).

    Raises ValueError if an identity field is missing, not a string, or natural_key is
    empty, or if the PartitionKey would pass Azure's key size."""
    for name in IDENTITY_FIELDS:
        if not isinstance(record.get(name), str):
            raise ValueError(f"record lacks string field {name!r}: {dict(record)!r:.200}")
    if not record["natural_key"]:
        raise ValueError("record has an empty natural_key")
    resource = record["resource"]
    date_field = business_dates.get(resource)
    period = period_of(record.get(date_field) if date_field else None)
    partition = resource_prefix(client, record["platform"], resource) + period
    if len(partition.encode("utf-16-le")) > MAX_KEY_BYTES:
        raise ValueError(f"partition key {partition[:60]!r}… is too long")
    return partition, bounded_key(join_key(record["account"], record["natural_key"]))


def plan_batches(entities: Iterable[Entity]) -> list[list[Entity]]:
    """Entities grouped into transactions: one partition each, at most ``MAX_BATCH_OPS``
    operations and ``MAX_BATCH_BYTES`` estimated bytes. Keys must be distinct."""
    by_partition: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_partition[entity["PartitionKey"]].append(entity)
    batches: list[list[Entity]] = []
    for group in by_partition.values():
        batch: list[Entity] = []
        size = 0
        for entity in group:
            entity_size = entity_bytes(entity)
            if batch and (len(batch) == MAX_BATCH_OPS or size + entity_size > MAX_BATCH_BYTES):
                batches.append(batch)
                batch, size = [], 0
            batch.append(entity)
            size += entity_size
        batches.append(batch)
    return batches


class RecordStore:
    """Normalized records, one table per client, platform and resource (``records_table``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clients: StorageClients | None = None,
        concurrency: int = 6,
        business_dates: Mapping[str, str] = BUSINESS_DATES,
    ) -> None:
        # a prefix that leaves no room for the longest name fails here, not at a write
        records_table(settings.table_prefix, "", "shopify", "bank_transactions")
        self._settings = settings
        self._clients = clients
        self._business_dates = business_dates
        self._in_flight = asyncio.Semaphore(concurrency)

    def table_for(self, client: str, platform: str, resource: str) -> str:
        """The name of the table holding ``client``'s records of ``platform``'s
        ``resource``."""
        return records_table(self._settings.table_prefix, client, platform, resource)

    async def _table(
        self, client: str, platform: str, resource: str, *, create: bool = True
    ) -> TableClient:
        """The table's client; created on first use when writing (``create``), never
        when reading (a read of a missing table is a read of nothing)."""
        clients = self._clients or shared_clients(self._settings)
        return await clients.table(self.table_for(client, platform, resource), create=create)

    def to_entity(self, client: str, record: Mapping[str, Any] | BaseModel) -> Entity:
        """The entity stored for ``record`` (a mapping, or a pydantic model, dumped)."""
        fields = record.model_dump() if isinstance(record, BaseModel) else record
        partition, row = record_keys(client, fields, self._business_dates)
        return encode_fields(fields, keys={"PartitionKey": partition, "RowKey": row})

    async def upsert(self, client: str, records: Iterable[Mapping[str, Any] | BaseModel]) -> int:
        """Store ``records`` of ``client``, replacing any earlier version of each; return
        how many distinct records were written (a record given twice counts once: the
        last one wins). Safe to retry: the outcome is the same however often it runs.

        Raises ValueError / TypeError for a record that cannot be stored (nothing is
        written then), TransientError / ThrottledError when storage fails for now (some
        batches may have been written; retry the call)."""
        by_table: dict[tuple[str, str], dict[tuple[str, str], Entity]] = defaultdict(dict)
        for record in records:
            fields = record.model_dump() if isinstance(record, BaseModel) else record
            entity = self.to_entity(client, fields)
            where = fields["platform"], fields["resource"]
            by_table[where][entity["PartitionKey"], entity["RowKey"]] = entity
        for platform, resource in by_table:  # refused before anything is written
            self.table_for(client, platform, resource)
        writes = [
            (await self._table(client, platform, resource), batch)
            for (platform, resource), entities in by_table.items()
            for batch in plan_batches(entities.values())
        ]
        if writes:
            try:
                async with asyncio.TaskGroup() as group:
                    for table, batch in writes:
                        group.create_task(self._submit(table, batch))
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
        return sum(len(entities) for entities in by_table.values())

    async def submit_batch(
        self, client: str, platform: str, resource: str, entities: list[Entity]
    ) -> None:
        """Write ``entities`` — as ``to_entity`` made them, of one partition, at most
        ``MAX_BATCH_OPS``, distinct RowKeys — in one transaction to (client, platform,
        resource)'s table: all or none (``RecordBuffer`` fills them). Raises as
        ``upsert`` does."""
        await self._submit(await self._table(client, platform, resource), entities)

    async def _submit(self, table: TableClient, batch: list[Entity]) -> None:
        async with self._in_flight:
            await submit_upserts(table, batch)

    async def _rows(
        self,
        client: str,
        platform: str,
        resource: str,
        condition: str,
        *,
        select: str | None = None,
        fields: bool = False,
    ) -> AsyncIterator[Entity]:
        """The entities of (client, platform, resource)'s table matching ``condition`` (their
        ``decode_fields``, with ``fields``); none if the table was never written."""
        table = await self._table(client, platform, resource, create=False)
        try:
            async for entity in query(table, condition, select=select, fields=fields):
                yield entity
        except ResourceNotFoundError:  # only a missing table answers 404 to a query
            return

    def _query(self, client: str, platform: str, resource: str, period: str | None) -> str:
        prefix = resource_prefix(client, platform, resource)
        if period is not None:
            return f"PartitionKey eq {literal(prefix + period)}"
        low, high = prefix_range(prefix)
        return f"PartitionKey ge {literal(low)} and PartitionKey lt {literal(high)}"

    async def iter_records(
        self, client: str, platform: str, resource: str, *, period: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every stored record of (client, platform, resource) — of one ``period``
        (``yyyy-mm`` or ``UNDATED``) if given — as the fields it was written with,
        partition by partition, each in RowKey order."""
        condition = self._query(client, platform, resource, period)
        async for fields in self._rows(client, platform, resource, condition, fields=True):
            yield fields

    async def natural_keys(
        self, client: str, platform: str, resource: str, *, period: str | None = None
    ) -> AsyncIterator[str]:
        """The ``natural_key`` of every stored record ``iter_records`` would yield, in
        the same order, reading only that property (and the codec's markers) from
        storage: a tally of what is stored without decoding every field. A key long
        enough to be stored in chunks is read whole from its entity."""
        condition = self._query(client, platform, resource, period)
        wanted = f"PartitionKey,RowKey,natural_key,{TYPES_PROPERTY}"
        async for entity in self._rows(client, platform, resource, condition, select=wanted):
            markers = jsontext.loads(entity.get(TYPES_PROPERTY) or "{}")
            if "*" in markers.get("natural_key", ""):  # chunked: its parts are elsewhere
                where = (
                    f"PartitionKey eq {literal(entity['PartitionKey'])} "
                    f"and RowKey eq {literal(entity['RowKey'])}"
                )
                [whole] = [e async for e in self._rows(client, platform, resource, where)]
                yield decode_fields(whole)["natural_key"]
            else:  # a plain String property: the key as written
                yield entity["natural_key"]

    async def read(
        self, client: str, platform: str, resource: str, *, period: str | None = None
    ) -> list[dict[str, Any]]:
        """``iter_records`` as a list."""
        return [r async for r in self.iter_records(client, platform, resource, period=period)]

    async def read_prefix(
        self, client: str, platform: str, resource: str, *, period: str, account: str, head: str
    ) -> list[dict[str, Any]]:
        """The stored records of one ``period`` of (client, platform, resource) whose
        account is ``account`` and whose natural key starts with ``head`` (an order's items:
        ``f"{order_id}|"``). A RowKey range read, so it costs the rows found, not the
        partition. Keys shortened with a hash keep their first 96 characters: a ``head``
        longer than that may miss them."""
        low = join_key(account, head)
        high = low[:-1] + chr(ord(low[-1]) + 1)
        partition = resource_prefix(client, platform, resource) + period
        condition = (
            f"PartitionKey eq {literal(partition)} "
            f"and RowKey ge {literal(low)} and RowKey lt {literal(high)}"
        )
        rows = [r async for r in self._rows(client, platform, resource, condition, fields=True)]
        return [r for r in rows if r.get("account") == account]

    async def count(
        self, client: str, platform: str, resource: str, *, period: str | None = None
    ) -> int:
        """How many records of (client, platform, resource[, period]) are stored. Scans
        the keys (Table storage keeps no counts): about a second per 10,000 rows."""
        condition = self._query(client, platform, resource, period)
        return sum(
            [1 async for _ in self._rows(client, platform, resource, condition, select="RowKey")]
        )
