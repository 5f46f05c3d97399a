"""Listing quantities over time (what getListingInventory shows as an offering's
``quantity`` and findAllActiveListingsByShop as ``quantity``).

A listing starts with its initial stock when created. Each sold transaction takes its
quantity at checkout; a cancellation puts it back. A maker restocks 10-40 units whenever
stock would fall below 2 (made to order, so the top-up lands just before the sale and
quantities never go negative). ``quantity(t)`` is a step function, evaluated by bisection.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from itertools import accumulate

from sandbox.etsy.data import History, Listing


@dataclass
class Stock:
    listing: Listing
    times: list[int]
    levels: list[int]

    def quantity(self, t: float) -> int:
        i = bisect.bisect_right(self.times, t) - 1
        return self.levels[i] if i >= 0 else 0


def build_stock(scenario_seed: int, client_id: str, history: History) -> dict[int, Stock]:
    rng = random.Random(repr(("etsy-stock", scenario_seed, client_id)))
    moves: dict[int, list[tuple[int, int]]] = {item.listing_id: [] for item in history.listings}
    for receipt in history.receipts:
        for line in receipt.lines:
            moves[line.listing.listing_id].append((receipt.created, -line.quantity))
            if receipt.canceled:
                moves[line.listing.listing_id].append((receipt.refunds[0].at, line.quantity))
    stocks = {}
    for item in history.listings:
        events, level = [(item.created, item.initial_stock)], item.initial_stock
        for at, delta in sorted(moves[item.listing_id]):
            if level + delta < 2:
                top_up = rng.randint(10, 40)
                events.append((at - 1, top_up))
                level += top_up
            level += delta
            events.append((at, delta))
        events.sort(key=lambda e: e[0])
        stocks[item.listing_id] = Stock(
            item, [t for t, _ in events], list(accumulate(d for _, d in events))
        )
    return stocks
