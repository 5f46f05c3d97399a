"""Ground truth of the sandboxes as canonical records, keyed by natural key.

The bench's adapters (``bench.truth``) turn each sandbox's ground truth (the platform's
own shapes) into canonical records through the app's normalizers; here they read the
stack's world and client. Shopify's comes from its connector tests' support module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import truth as bench_truth
from shared.models import Record


def _bench(platform: str) -> Callable[[Any, str], list[Record]]:
    adapter = bench_truth.ADAPTERS[platform]

    def records(stack: Any, resource: str) -> list[Record]:
        return adapter(bench_truth.ClientView(stack.world, stack.client_id, platform), resource)

    return records


def _shopify(stack: Any, resource: str) -> list[Record]:
    from tests.platforms.shopify.support import truth

    return list(truth(stack.world, resource).values())


ADAPTERS: dict[str, Callable[[Any, str], list[Record]]] = {
    "amazon": _bench("amazon"),
    "ebay": _bench("ebay"),
    "shopify": _shopify,
    "etsy": _bench("etsy"),
    "quiltt": _bench("quiltt"),
}


def truth(stack: Any, platform: str, resource: str) -> dict[str, Record]:
    return {r.natural_key: r for r in ADAPTERS[platform](stack, resource)}
