"""A demo run's preview: the prospect's recent sales per marketplace, from Table storage.

Reads the orders the demo stored (no API calls) and sums them per platform and
currency: count, total, first and last order time, and the latest few orders.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import azure.durable_functions as df

from shared.flows.models import PreviewInput
from shared.settings import get_settings
from shared.storage.records import RecordStore

bp = df.Blueprint()
NAME = "demo_preview"


@bp.activity_trigger(input_name="payload", activity=NAME)
async def demo_preview(payload: dict) -> dict:
    task = PreviewInput.model_validate(payload)
    store = RecordStore(get_settings())
    out = {}
    for connection in task.connections:
        orders = await store.read(task.client, connection.platform, "orders")
        orders = [o for o in orders if o.get("account") == connection.account]
        orders.sort(key=lambda o: str(o.get("created_at")), reverse=True)
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for order in orders:
            money = order.get("total") or {}
            if money.get("amount") is not None:
                totals[money["currency"]] += Decimal(str(money["amount"]))
        out[connection.platform] = {
            "orders": len(orders),
            "totals": {currency: str(amount) for currency, amount in sorted(totals.items())},
            "latest": [
                {
                    "order_id": o.get("order_id"),
                    "created_at": str(o.get("created_at")),
                    "total": o.get("total"),
                    "status": o.get("status"),
                }
                for o in orders[: task.limit]
            ],
        }
    return out
