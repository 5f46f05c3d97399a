"""Records gathered over the pages of one fetch run and written as full transactions.

Why: an entity-group transaction holds up to 100 operations of one partition, but one
page often brings fewer records of a partition (a page of 25 or 60, a month boundary),
so a transaction per page and partition carried 64 rows on average in the reference
bench. Storage pays per transaction (on Azurite, HTTP handling is most of its CPU).
Gathering a run's pages first fills the transactions.

Contract:

- ``add(records)`` encodes each record (``RecordStore.to_entity``) and files it under its
  table (client, platform and resource) and partition. A partition whose open batch reaches
  ``MAX_BATCH_OPS`` operations, or would pass ``MAX_BATCH_BYTES``, has that batch written
  at once: the write starts, ``flush`` waits for it. A transaction never holds two
  partitions or two tables.
- A record added again while its batch is open replaces the earlier version (the last
  wins, as one upsert of both pages would); once its batch is written, a later version
  goes in a later batch.
- A record that cannot be stored (``ValueError`` / ``TypeError`` from encoding) is kept as
  the run's failure and raised by ``flush``; nothing of that record is written.
- ``flush()`` writes every open batch, waits for every write started, and raises the
  first failure (each write retried first by ``write``, e.g. ``storage_retry.retried``).
  **Nothing added may be claimed stored before ``flush`` has returned**: the caller
  (``fetch_pages``) reports its pages only after it, so a run that dies with records in
  the buffer reports nothing and is run again from the same chain: its pages are
  fetched again, not lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from shared.storage.codec import entity_bytes
from shared.storage.records import MAX_BATCH_BYTES, MAX_BATCH_OPS, Entity, RecordStore

Write = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


async def _once(operation: Callable[[], Awaitable[None]]) -> None:
    await operation()


class _Open:
    """One partition's batch being filled: entities by RowKey, and their byte estimate."""

    __slots__ = ("entities", "size")

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.size = 0


class RecordBuffer:
    """A fetch run's records for ``client``, written by ``store`` in full transactions."""

    def __init__(self, store: RecordStore, client: str, *, write: Write = _once) -> None:
        self._store, self._client, self._write = store, client, write
        self._open: dict[tuple[str, str, str], _Open] = {}  # (platform, resource, PK) -> batch
        self._writes: list[asyncio.Future[None]] = []
        self._failure: BaseException | None = None
        self.batches = 0  # transactions started so far
        self.added = 0  # records accepted so far

    def add(self, records: Iterable[Mapping[str, Any] | BaseModel]) -> None:
        """File ``records``; write the batches they fill (see the module docstring)."""
        for record in records:
            fields = record.model_dump() if isinstance(record, BaseModel) else record
            try:
                entity = self._store.to_entity(self._client, fields)
                self._store.table_for(self._client, fields["platform"], fields["resource"])
            except (ValueError, TypeError) as exc:
                self._failure = self._failure or exc
                continue
            self._file(fields["platform"], fields["resource"], entity)

    def _file(self, platform: str, resource: str, entity: Entity) -> None:
        where = (platform, resource, entity["PartitionKey"])
        batch = self._open.get(where)
        if batch is None:
            batch = self._open[where] = _Open()
        size = entity_bytes(entity)
        earlier = batch.entities.pop(entity["RowKey"], None)
        if earlier is not None:  # the last version wins
            batch.size -= entity_bytes(earlier)
        if batch.entities and batch.size + size > MAX_BATCH_BYTES:
            self._start(where, batch)
            batch = self._open[where] = _Open()
        batch.entities[entity["RowKey"]] = entity
        batch.size += size
        self.added += 1
        if len(batch.entities) == MAX_BATCH_OPS:  # full: written now
            self._start(where, batch)
            del self._open[where]

    def _start(self, where: tuple[str, str, str], batch: _Open) -> None:
        platform, resource, entities = where[0], where[1], list(batch.entities.values())
        submit = self._store.submit_batch
        client = self._client

        async def write() -> None:
            await self._write(lambda: submit(client, platform, resource, entities))

        self._writes.append(asyncio.ensure_future(write()))
        self.batches += 1

    async def flush(self) -> None:
        """Write every open batch and wait for every write; raise the first failure (a
        record refused by ``add`` included). The buffer is empty afterwards."""
        for where, batch in list(self._open.items()):
            self._start(where, batch)
        self._open.clear()
        writes, self._writes = self._writes, []
        results = await asyncio.gather(*writes, return_exceptions=True)
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome
