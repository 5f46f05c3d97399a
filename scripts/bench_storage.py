"""Record upsert throughput against a fresh Azurite: one batch in flight vs several; and
what a big neighbouring client costs one client's reads.

    .venv/bin/python -m scripts.bench_storage [--records 5000] [--concurrency 1 6]
    .venv/bin/python -m scripts.bench_storage --records 2000 --neighbours 30000

Each run writes ``--records`` order-like records (a dozen fields, Decimal money, UTC
datetimes, a nested total) spread over twelve months into a fresh table, through
``RecordStore.upsert`` in one call, and prints records/s. A private in-memory Azurite is
started (``ensure_azurite(reuse_default=False)``) unless TRIBUTARY_STORAGE_CONNECTION
names a storage account. Figures are for comparing settings on one machine.

With ``--neighbours N``, another client first stores N records of the same platform,
then the measured client stores ``--records``; the figures are wall time and Azurite's
CPU (its process's, when started here) per full read of the measured client's records,
and per small query (one record by key prefix: ``read_prefix``, as a link check reads an
order's items).
Run it on two layouts to see what storage isolation buys: a read that costs the same
whatever N is scans only its own client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from devhost.azurite import ensure_azurite
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.records import RecordStore

START = datetime(2024, 1, 1, tzinfo=UTC)


def make_records(count: int) -> list[dict[str, Any]]:
    minutes = 365 * 24 * 60 // count
    return [
        {
            "platform": "shopify",
            "account": "acme.myshopify.com",
            "resource": "orders",
            "natural_key": f"gid://shopify/Order/{5_000_000 + n}",
            "order_id": str(5_000_000 + n),
            "created_at": START + timedelta(minutes=n * minutes),
            "updated_at": START + timedelta(minutes=n * minutes + 7),
            "status": "paid",
            "cancelled": False,
            "marketplace": "online_store",
            "total": {"amount": f"{n % 500}.{n % 100:02d}", "currency": "USD"},
            "tax": Decimal(f"{n % 40}.{n % 100:02d}"),
            "items": n % 5 + 1,
        }
        for n in range(count)
    ]


async def measure(connection: str, records: list[dict[str, Any]], concurrency: int) -> dict:
    settings = Settings(storage_connection=connection, table_prefix=f"b{uuid.uuid4().hex[:8]}")
    async with StorageClients(connection) as clients:
        store = RecordStore(settings, clients=clients, concurrency=concurrency)
        await store.upsert("warmup", records[:10])  # creates the table, opens connections
        started = time.perf_counter()
        written = await store.upsert("bench", records)
        elapsed = time.perf_counter() - started
        stored = await store.count("bench", "shopify", "orders")
    assert written == stored == len(records), (written, stored)
    return {
        "concurrency": concurrency,
        "records": written,
        "seconds": round(elapsed, 2),
        "records_per_s": round(written / elapsed),
    }


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of process ``pid`` so far (0 if unknown)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_neighbours(
    connection: str, pid: int | None, records: list[dict[str, Any]], neighbours: int
) -> dict:
    settings = Settings(storage_connection=connection, table_prefix=f"n{uuid.uuid4().hex[:8]}")
    reads = 5
    async with StorageClients(connection) as clients:
        store = RecordStore(settings, clients=clients, concurrency=6)
        if neighbours:
            await store.upsert("neighbour", make_records(neighbours))
        await store.upsert("bench", records)
        started, cpu = time.perf_counter(), cpu_seconds(pid)
        for _ in range(reads):
            found = await store.read("bench", "shopify", "orders")
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
        assert len(found) == len(records), len(found)
        small = records[: len(records) // 10]  # one order each, as a verify's link check
        started_small, cpu_small = time.perf_counter(), cpu_seconds(pid)
        for record in small:
            period = record["created_at"].strftime("%Y-%m")
            head = record["natural_key"]
            one = await store.read_prefix(
                "bench", "shopify", "orders", period=period, account=record["account"], head=head
            )
            assert len(one) == 1, one
        elapsed_small = time.perf_counter() - started_small
        cpu_small = cpu_seconds(pid) - cpu_small
    return {
        "neighbour_records": neighbours,
        "records": len(records),
        "read_s": round(elapsed / reads, 3),
        "azurite_cpu_s_per_read": round(cpu / reads, 3),
        "small_queries": len(small),
        "small_query_ms": round(1000 * elapsed_small / len(small), 2),
        "azurite_cpu_ms_per_small_query": round(1000 * cpu_small / len(small), 2),
    }


async def main(count: int, levels: list[int], neighbours: int | None) -> None:
    records = make_records(count)
    with ensure_azurite(reuse_default=False) as azurite:
        if neighbours is not None:
            pid = azurite.process.pid if azurite.process else None
            for n in (0, neighbours):
                row = await measure_neighbours(azurite.connection_string, pid, records, n)
                print(json.dumps(row))
            return
        for level in levels:
            print(json.dumps(await measure(azurite.connection_string, records, level)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--neighbours", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.concurrency, args.neighbours))
