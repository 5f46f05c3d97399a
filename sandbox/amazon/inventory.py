"""FBA inventory ("remains") per seller SKU, as a timeline of quantity changes.

Only AFN (fulfilled-by-Amazon) SKUs have FBA inventory. Every change is an event at a
whole epoch second:
- a paid AFN order reserves its units (pendingCustomerOrderQuantity), its shipment takes
  them from fulfillable and reserved, a cancellation releases them;
- a returned AFN unit comes back as fulfillable (sellable) or customer-damaged
  (unfulfillable) when received;
- restocks replace what sells until the next restock: inbound-shipped 7 days before
  they arrive, fulfillable on arrival; the opening stock is what keeps fulfillable >= 0.
The state at ``t`` is the sum of the events at or before ``t``. ``lastUpdatedTime`` is the
last change at or before ``t`` except inbound changes, which Amazon documents as not
detected; a SKU with no change yet shows its launch time.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.amazon.data import DAY, History, Sku
from sandbox.amazon.formats import iso

# event vector: (fulfillable, inbound shipped, reserved, customer damaged)
_FIELDS = 4


@dataclass
class Stock:
    sku: Sku
    initial: int
    times: list[int] = field(default_factory=list)
    cumulative: list[tuple[int, ...]] = field(default_factory=list)
    bumps: list[int] = field(default_factory=list)  # times that move lastUpdatedTime

    def state(self, t: float) -> tuple[int, ...]:
        n = bisect.bisect_right(self.times, t)
        base = self.cumulative[n - 1] if n else (0,) * _FIELDS
        return (self.initial + base[0], *base[1:])

    def last_updated(self, t: float) -> int:
        n = bisect.bisect_right(self.bumps, t)
        return self.bumps[n - 1] if n else self.sku.launched

    def summary(self, t: float, details: bool) -> dict[str, Any]:
        fulfillable, inbound, reserved, damaged = self.state(t)
        out: dict[str, Any] = {
            "asin": self.sku.asin,
            "fnSku": self.sku.fnsku,
            "sellerSku": self.sku.sku,
            "condition": "NewItem",
        }
        if details:
            out["inventoryDetails"] = {
                "fulfillableQuantity": fulfillable,
                "inboundWorkingQuantity": 0,
                "inboundShippedQuantity": inbound,
                "inboundReceivingQuantity": 0,
                "reservedQuantity": {
                    "totalReservedQuantity": reserved,
                    "pendingCustomerOrderQuantity": reserved,
                    "pendingTransshipmentQuantity": 0,
                    "fcProcessingQuantity": 0,
                },
                "researchingQuantity": {
                    "totalResearchingQuantity": 0,
                    "researchingQuantityBreakdown": [],
                },
                "unfulfillableQuantity": {
                    "totalUnfulfillableQuantity": damaged,
                    "customerDamagedQuantity": damaged,
                    "warehouseDamagedQuantity": 0,
                    "distributorDamagedQuantity": 0,
                    "carrierDamagedQuantity": 0,
                    "defectiveQuantity": 0,
                    "expiredQuantity": 0,
                },
            }
        out["lastUpdatedTime"] = iso(self.last_updated(t))
        out["productName"] = self.sku.title
        out["totalQuantity"] = fulfillable + inbound + reserved + damaged
        return out


def _demand_events(history: History) -> dict[str, list[tuple[int, tuple[int, ...], bool]]]:
    out: dict[str, list[tuple[int, tuple[int, ...], bool]]] = {}
    for order in history.orders:
        if order.channel != "AFN":
            continue
        previous = None
        for v in order.versions:
            for item, shipped in zip(order.items, v.shipped, strict=True):
                delta = None
                if v.status == "Unshipped" and not (previous and previous.paid):
                    delta = (0, 0, item.quantity, 0)
                elif v.status == "Canceled" and previous and previous.paid:
                    delta = (0, 0, -item.quantity, 0)
                elif v.status == "Shipped" and previous and previous.status != "Shipped":
                    delta = (-shipped, 0, -shipped, 0)
                if delta:
                    out.setdefault(item.sku.sku, []).append((v.at, delta, True))
            previous = v
    for ret in history.returns:
        if ret.order.channel == "AFN" and ret.received is not None:
            delta = (ret.quantity, 0, 0, 0) if ret.sellable else (0, 0, 0, ret.quantity)
            out.setdefault(ret.item.sku.sku, []).append((ret.received, delta, True))
    return out


def _restocks(
    rng: random.Random, sku: Sku, demand: list[tuple[int, tuple[int, ...], bool]], horizon: int
) -> list[tuple[int, tuple[int, ...], bool]]:
    sold = sorted((t, -d[0]) for t, d, _ in demand if d[0] < 0)
    times = [t for t, _ in sold]

    def units(a: int, b: int) -> int:
        return sum(q for _, q in sold[bisect.bisect_left(times, a) : bisect.bisect_left(times, b)])

    out = []
    arrival = sku.launched + rng.randint(14, 28) * DAY
    while arrival < horizon:
        following = arrival + rng.randint(14, 28) * DAY
        qty = units(arrival, following) + rng.randint(0, 5)
        out.append((arrival - 7 * DAY, (0, qty, 0, 0), False))
        out.append((arrival, (qty, -qty, 0, 0), True))
        arrival = following
    return out


def build_stock(scenario_seed: int, history: History) -> dict[str, Stock]:
    """Stock timelines of every AFN SKU, keyed by seller SKU."""
    rng = random.Random(f"amazon-inventory/{scenario_seed}/{history.client_id}")
    demand = _demand_events(history)
    stocks = {}
    for sku in history.skus:
        if sku.channel != "AFN":
            continue
        events = demand.get(sku.sku, [])
        events = sorted(events + _restocks(rng, sku, events, history.horizon), key=lambda e: e[0])
        stock = Stock(sku, initial=0)
        running, lowest = (0,) * _FIELDS, 0
        for t, delta, bump in events:
            running = tuple(a + b for a, b in zip(running, delta, strict=True))
            lowest = min(lowest, running[0])
            stock.times.append(t)
            stock.cumulative.append(running)
            if bump:
                stock.bumps.append(t)
        stock.initial = -lowest + rng.randint(10, 40)
        stocks[sku.sku] = stock
    return stocks
