"""Record upsert throughput against a fresh Azurite: one batch in flight vs several.

    .venv/bin/python -m scripts.bench_storage [--records 5000] [--concurrency 1 6]

Each run writes ``--records`` order-like records (a dozen fields, Decimal money, UTC
datetimes, a nested total) spread over twelve months into a fresh table, through
``RecordStore.upsert`` in one call, and prints records/s. A private in-memory Azurite is
started (``ensure_azurite(reuse_default=False)``) unless TRIBUTARY_STORAGE_CONNECTION
names a storage account. Figures are for comparing settings on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


async def main(count: int, levels: list[int]) -> None:
    records = make_records(count)
    with ensure_azurite(reuse_default=False) as azurite:
        for level in levels:
            print(json.dumps(await measure(azurite.connection_string, records, level)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 6])
    args = parser.parse_args()
    asyncio.run(main(args.records, args.concurrency))
