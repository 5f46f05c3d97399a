"""Ground truth of the sandboxes as canonical records, keyed by natural key."""

from __future__ import annotations

from shared.models import Record
from tests.flows.harness import Stack


class _AmazonView:
    """What ``tests.platforms.amazon.support.truth_records`` reads from its env."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.account = stack.account("amazon")
        self.sandbox = stack.world.platforms["amazon"]

    def truth(self, resource: str):
        return self.stack.world.ground_truth(self.stack.client_id, "amazon", resource)

    def markets_by_sku(self) -> dict[str, str]:
        stock = self.sandbox.data(self.stack.client_id).stock
        return {s.sku.sku: s.sku.marketplace.marketplace_id for s in stock.values()}


def truth(stack: Stack, platform: str, resource: str) -> dict[str, Record]:
    if platform == "amazon":
        from tests.platforms.amazon.support import truth_records

        return {r.natural_key: r for r in truth_records(_AmazonView(stack), resource)}
    raise KeyError(f"no ground-truth adapter for {platform}")
