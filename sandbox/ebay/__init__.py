"""eBay Sell APIs sandbox (OAuth, Fulfillment v1, Finances v1, Inventory v1, Developer
Analytics v1_beta) with per-application daily quotas, faults and a ground truth.

Layout:
    formats.py        timestamps, amounts, identifiers
    data.py           seeded history: catalog, orders, shipments, refunds
    finance.py        monetary transactions and payouts derived from the history
    inventory.py      stock timelines per SKU
    views.py          the APIs' payloads at an instant
    limits.py         the policy (every number, overridable) and daily quotas
    auth.py           the token endpoint and access-token checks
    errors.py         eBay's error envelope and the OAuth error shape
    filters.py        the ``filter`` query syntax
    paging.py         offset pages and page faults
    app.py            the request pipeline and routes; api_*.py the methods
    facade.py         EbaySandbox: what the world and the tests use
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.ebay.facade import RESOURCES, EbaySandbox

if TYPE_CHECKING:
    from sandbox.world import World

__all__ = ["RESOURCES", "EbaySandbox", "build"]


def build(world: World) -> EbaySandbox:
    return EbaySandbox(world)
