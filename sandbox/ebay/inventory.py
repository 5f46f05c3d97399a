"""Stock levels per SKU over time (what getInventoryItems shows as
``availability.shipToLocationAvailability.quantity``).

A SKU starts with its initial stock at launch. Every sold line takes its quantity at
checkout; a cancellation puts it back. When stock falls below a reorder point a restock
of 40-150 units arrives 2-6 days later; if a sale would drive stock negative, the seller
restocks just before it (so quantities are never negative). Quantities change only at
event times, so ``quantity(t)`` is a step function, evaluated by bisection.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from itertools import accumulate

from sandbox.ebay.data import DAY, History, Sku

REORDER_POINT = 10


@dataclass
class Stock:
    sku: Sku
    times: list[int]
    levels: list[int]  # quantity from times[i] on

    def quantity(self, t: float) -> int:
        i = bisect.bisect_right(self.times, t) - 1
        return self.levels[i] if i >= 0 else 0


def _movements(history: History) -> dict[str, list[tuple[int, int]]]:
    moves: dict[str, list[tuple[int, int]]] = {s.sku: [] for s in history.skus}
    for order in history.orders:
        for line in order.lines:
            moves[line.sku.sku].append((order.created, -line.quantity))
            if order.canceled is not None:
                moves[line.sku.sku].append((order.canceled, line.quantity))
    return moves


def _timeline(rng: random.Random, sku: Sku, moves: list[tuple[int, int]]) -> Stock:
    events = [(sku.launched, sku.initial_stock)]
    level, restock_at = sku.initial_stock, None
    for at, delta in sorted(moves):
        if restock_at is not None and restock_at <= at:
            level += (arrived := rng.randint(40, 150))
            events.append((restock_at, arrived))
            restock_at = None
        if level + delta < 0:
            top_up = -(level + delta) + rng.randint(5, 20)
            events.append((at - 1, top_up))
            level += top_up
        level += delta
        events.append((at, delta))
        if level < REORDER_POINT and restock_at is None:
            restock_at = at + rng.randint(2 * DAY, 6 * DAY)
    events.sort(key=lambda e: e[0])
    times = [t for t, _ in events]
    return Stock(sku, times, list(accumulate(d for _, d in events)))


def build_stock(scenario_seed: int, client_id: str, history: History) -> dict[str, Stock]:
    rng = random.Random(repr(("ebay-stock", scenario_seed, client_id)))
    moves = _movements(history)
    return {s.sku: _timeline(rng, s, moves[s.sku]) for s in history.skus}
