"""Inventory levels over time: one level per (inventory item, location).

Two locations: the warehouse ships every order, the retail store only holds stock. At
the warehouse an order's creation moves its quantity from ``available`` to
``committed``; fulfilment takes it out of ``committed`` (``on_hand`` = available +
committed drops); a cancellation before fulfilment puts it back into ``available``. When
``available`` falls below 5 a restock of 60 is ordered: ``incoming`` rises at once and
becomes ``available`` three days later. The store's levels change on a monthly
restock only. A level exists from its variant's creation; ``updatedAt`` is its last change.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from sandbox.shopify.data import DAY, History, Variant

WAREHOUSE, STORE = 0, 1
LOCATIONS = ("Main Warehouse", "Retail Store")
QUANTITY_NAMES = ("available", "committed", "incoming", "on_hand", "reserved")


@dataclass
class Level:
    variant: Variant
    location: int
    level_id: int
    times: list[int] = field(default_factory=list)
    states: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # available, committed, incoming

    def at(self, t: float) -> tuple[int, int, int, int] | None:
        """(available, committed, incoming, updatedAt) at ``t``; None before the level exists."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0:
            return None
        return (*self.states[i], self.times[i])

    def created(self) -> int:
        return self.times[0]


def _apply(level: Level, changes: list[tuple[int, int, int, int]]) -> None:
    available, committed, incoming = level.variant.initial_stock, 0, 0
    level.times, level.states = [level.variant.created], [(available, 0, 0)]
    changes.sort()
    pending: list[tuple[int, int, int, int]] = []
    k = 0
    while k < len(changes) or pending:
        nxt = changes[k] if k < len(changes) else None
        if pending and (nxt is None or pending[0] <= nxt):
            change = pending.pop(0)
        else:
            assert nxt is not None
            change = nxt
            k += 1
        t, da, dc, di = change
        available, committed, incoming = available + da, committed + dc, incoming + di
        if level.location == WAREHOUSE and available < 5 and di == 0 and incoming == 0:
            incoming += 60
            bisect.insort(pending, (t + 3 * DAY, 60, 0, -60))
        if level.times[-1] == t:
            level.states[-1] = (available, committed, incoming)
        else:
            level.times.append(t)
            level.states.append((available, committed, incoming))


def build_stock(history: History, first_level_id: int) -> list[Level]:
    changes: dict[int, list[tuple[int, int, int, int]]] = {
        v.variant_id: [] for v in history.variants
    }
    for order in history.orders:
        for line in order.lines:
            if order.created < line.variant.created:
                continue
            out = changes[line.variant.variant_id]
            out.append((order.created, -line.quantity, line.quantity, 0))
            if order.fulfilled is not None:
                out.append((order.fulfilled, 0, -line.quantity, 0))
            elif order.cancelled is not None:
                out.append((order.cancelled, line.quantity, -line.quantity, 0))
    levels = []
    for n, variant in enumerate(history.variants):
        for location in (WAREHOUSE, STORE):
            level = Level(variant, location, first_level_id + 2 * n + location)
            if location == WAREHOUSE:
                own = changes[variant.variant_id]
            else:
                own = [
                    (t, 10, 0, 0)
                    for t in range(variant.created + 30 * DAY, history.horizon, 30 * DAY)
                ]
            _apply(level, [c for c in own if c[0] < history.horizon])
            levels.append(level)
    return levels
