"""Amazon Selling Partner API sandbox (LWA, Orders v0, Finances v0, Reports 2021-06-30,
FBA Inventory v1) with per-operation token buckets, faults and a ground truth.

Layout:
    formats.py      timestamps, money, marketplaces (US, JP)
    data.py         seeded history: catalog, orders and their versions, items, returns
    finance.py      financial events and event groups (payouts) derived from the history
    inventory.py    FBA stock timelines per SKU
    view.py         the API's view of orders, items and returns at an instant
    limits.py       usage plans and token buckets
    auth.py         Login with Amazon token exchange and access-token checks
    reports.py      report jobs, flat files and presigned document URLs
    paging.py       page tokens, keyset pages and page faults
    app.py          the request pipeline and routes; api_*.py the operations
    facade.py       AmazonSandbox: what the world and the tests use
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.amazon.facade import RESOURCES, AmazonSandbox

if TYPE_CHECKING:
    from sandbox.world import World

__all__ = ["RESOURCES", "AmazonSandbox", "build"]


def build(world: World) -> AmazonSandbox:
    return AmazonSandbox(world)
