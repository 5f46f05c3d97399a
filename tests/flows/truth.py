"""Ground truth of the sandboxes as canonical records, keyed by natural key.

Each platform's connector tests already turn the sandbox's ground truth (the platform's
own shapes) into canonical records through the app's normalizers; this module reuses
those adapters (``tests/platforms/<platform>``) with the stack's world and account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.models import Record
from shared.normalize import normalize
from tests.flows.harness import Stack


class _View:
    """What the connector tests' ``truth_records(env, resource)`` read from their env."""

    def __init__(self, stack: Stack, platform: str) -> None:
        self.stack, self.platform = stack, platform
        self.account = stack.account(platform)
        self.sandbox = stack.world.platforms[platform]

    def truth(self, resource: str) -> list[dict[str, Any]]:
        return self.stack.world.ground_truth(self.stack.client_id, self.platform, resource)

    def markets_by_sku(self) -> dict[str, str]:
        stock = self.sandbox.data(self.stack.client_id).stock
        return {s.sku.sku: s.sku.marketplace.marketplace_id for s in stock.values()}


def _amazon(stack: Stack, resource: str) -> list[Record]:
    from tests.platforms.amazon.support import truth_records

    return truth_records(_View(stack, "amazon"), resource)


def _ebay(stack: Stack, resource: str) -> list[Record]:
    from tests.platforms.ebay.support import truth_records

    return truth_records(_View(stack, "ebay"), resource)


def _shopify(stack: Stack, resource: str) -> list[Record]:
    from tests.platforms.shopify.support import truth

    return list(truth(stack.world, resource).values())


def _etsy(stack: Stack, resource: str) -> list[Record]:
    view = _View(stack, "etsy")
    source = {"payouts": "transactions", "returns": "payments"}.get(resource, resource)
    rows = view.truth(source)
    if resource == "inventory":
        pages: list[Any] = rows  # one getListingInventory answer per listing
    else:
        if resource == "payouts":
            rows = [e for e in rows if e["ledger_type"] == "DISBURSE2"]
        pages = [{"count": len(rows), "results": rows}]
    return [r for page in pages for r in normalize("etsy", resource, page, account=view.account)]


def _quiltt(stack: Stack, resource: str) -> list[Record]:
    view = _View(stack, "quiltt")
    rows = view.truth(resource)
    page = {"data": {"transactions": {"count": len(rows), "nodes": rows}}}
    return normalize("quiltt", resource, page, account=view.account)


ADAPTERS: dict[str, Callable[[Stack, str], list[Record]]] = {
    "amazon": _amazon,
    "ebay": _ebay,
    "shopify": _shopify,
    "etsy": _etsy,
    "quiltt": _quiltt,
}


def truth(stack: Stack, platform: str, resource: str) -> dict[str, Record]:
    return {r.natural_key: r for r in ADAPTERS[platform](stack, resource)}
