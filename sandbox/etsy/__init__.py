"""Etsy Open API v3 sandbox (OAuth refresh, shop receipts and their transactions, payments,
the payment-account ledger, active listings and their inventory) with per-application QPS
and sliding-24-hour QPD limits, faults and a ground truth.

Layout:
    data.py         seeded history: listings, receipts, shipments, refunds
    ledger.py       payments' ledger entries and weekly disbursements (payouts)
    stock.py        listing quantities over time
    views.py        the API's payloads at an instant
    limits.py       the policy (every number, overridable), QPS and sliding QPD
    auth.py         x-api-key and OAuth refresh grants
    errors.py       Etsy's error answers
    app.py          the request pipeline and routes; api.py the methods
    facade.py       EtsySandbox: what the world and the tests use
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.etsy.facade import RESOURCES, EtsySandbox

if TYPE_CHECKING:
    from sandbox.world import World

__all__ = ["RESOURCES", "EtsySandbox", "build"]


def build(world: World) -> EtsySandbox:
    return EtsySandbox(world)
