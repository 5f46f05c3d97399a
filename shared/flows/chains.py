"""How a block's page chain starts, per platform and resource. Pure.

Most resources are listed by window directly. Some are reached through another
resource's pages (a *driver*): Amazon lists order items per order, so an order-items
block walks getOrders pages over its window and, for each page, the getOrderItems chain
of its orders (``connector.dependent_request``); Amazon transactions are complete only
per financial event group, so a transactions block walks the groups of its window and
each group's events. Driver pages are fetched but not stored as the block's records
(the orders block stores the orders).

The daily sync lists orders by update time; resources without such a listing look back
``DAILY_LOOKBACK`` instead (the upserts absorb the overlap).

``SETTLE`` is how far behind ``now`` a run plans its newest window: Amazon refuses a
``*Before`` later than two minutes ago, and records younger than that are not final.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.normalize import supported
from shared.planning import BULK_RECORDS
from shared.platforms.base import Connector, PageRequest, Window

SETTLE = timedelta(minutes=5)
DAILY_OVERLAP = timedelta(hours=6)
DAILY_LOOKBACK: dict[str, timedelta] = {
    "transactions": timedelta(days=31),
    "payouts": timedelta(days=31),
    "returns": timedelta(days=31),
}
"""Resource -> how far before the watermark a daily window reaches when the platform
lists it by creation (or, Amazon, by settlement group) rather than by change: a payout
or settlement group stays open and changes for up to a month, a return moves through
its states for weeks. Orders and items are listed by update time: ``DAILY_OVERLAP``."""


def daily_overlap(resource: str) -> timedelta:
    return max(DAILY_OVERLAP, DAILY_LOOKBACK.get(resource, DAILY_OVERLAP))


DRIVERS: dict[tuple[str, str], str] = {
    ("amazon", "order_items"): "orders",
    ("amazon", "transactions"): "payouts",
}
"""(platform, resource) -> the resource whose pages lead to the block's pages (paged path)."""

WINDOW_SLACK: dict[tuple[str, str], timedelta] = {
    ("amazon", "transactions"): timedelta(days=31),
}
"""(platform, resource) -> how long after the window's end records reached through a
driver may lie (a settlement group started in the window closes within a month)."""


@dataclass(frozen=True)
class BulkPath:
    """How one (platform, resource) loads its history in bulk (the planner's ``history``
    phase; the recent day and daily windows stay on the per-record path).

    ``job`` names the platform's bulk path; ``records`` is how many records one job
    should hold at most (the planner's ``bulk_records``; None: the whole history is one
    job); ``max_span`` the longest window the platform accepts for one job (None: any)."""

    job: str
    records: int | None = BULK_RECORDS
    max_span: timedelta | None = None


BULK_PATHS: dict[tuple[str, str], BulkPath] = {
    ("amazon", "orders"): BulkPath("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"),
    ("amazon", "order_items"): BulkPath("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"),
    ("amazon", "returns"): BulkPath("GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"),
    ("shopify", "orders"): BulkPath("bulkOperationRunQuery"),
    ("shopify", "order_items"): BulkPath("bulkOperationRunQuery"),
    ("shopify", "returns"): BulkPath("bulkOperationRunQuery"),
    ("etsy", "order_items"): BulkPath("getShopReceiptTransactionsByShop", records=None),
}
"""(platform, resource) -> its bulk path for history.

Amazon: the all-orders report serves orders and order items (getOrderItems is one call
per order at 0.5/s), the returns report returns (Amazon lists no returns: even the
recent day is a report). The flat file has no OrderItemId and no item discount, and
adds order subtotals the Orders API lacks: records loaded from it differ in those
fields (same natural keys). Shopify: one bulk query (orders with line items) serves
orders and order items; a shop runs one bulk query at a time, and blocks of the two
resources over the same window share the job (``shared.platforms.shopify.bulk``).
Shopify returns share that file too, as the index of the refunds: a bulk query allows
no connection inside a list field, so the file's refunds lack their lines, and the
block asks for the refunds of the orders it shows with some (``nodes(ids:)``,
``shared.platforms.shopify.refunds``). Etsy: getShopReceiptTransactionsByShop
lists every transaction of the shop, newest first, without a date filter, in pages of
100 instead of one getShopReceiptTransactionsByReceipt call per receipt. A job over a
window reads from the newest transaction down to the first page below the window and
keeps the window's records only (``shared.platforms.etsy.pagination``), so every job
would re-read the pages of the newer ones: the history is one job (``records=None``).
eBay and Quiltt have no bulk path."""

ONLY_BULK: frozenset[tuple[str, str]] = frozenset({("amazon", "returns")})
"""(platform, resource) that every window reaches through a bulk job, the recent day
too (Amazon lists no returns): the recent-day block is no quick measure of density, so
the plan is made at once (``activities.plan_resource``) and its reports queue together
instead of the history's waiting for the recent day's."""

BULK_HISTORY: frozenset[tuple[str, str]] = frozenset(BULK_PATHS)
"""(platform, resource) loaded through the platform's bulk path for history."""


def resources_of(platform: str) -> list[str]:
    """The resources synced for ``platform``, in the ambassador's priority order."""
    from shared.ambassador.protocol import OTHER_RANK, RESOURCE_RANK

    names = [resource for _, resource in supported(platform)]
    return sorted(names, key=lambda r: (RESOURCE_RANK.get(r, OTHER_RANK), names.index(r)))


def driver_of(platform: str, resource: str, bulk: bool) -> str:
    """The resource whose chain a block of ``resource`` starts with."""
    return resource if bulk else DRIVERS.get((platform, resource), resource)


def first_request(
    connector: Connector,
    resource: str,
    window: Window,
    *,
    bulk: bool,
    now: datetime,
    by_update: bool = False,
) -> PageRequest:
    """The block's first request; ``now`` is passed to connectors that check windows,
    ``by_update`` (a daily window: what changed, not what was created) to connectors
    that list by update time."""
    driver = driver_of(connector.platform, resource, bulk)
    kwargs: dict[str, Any] = {"bulk": bulk}
    params = inspect.signature(connector.first_request).parameters
    if "now" in params:
        kwargs["now"] = now
    for name in ("by_update", "changed"):  # connectors name the update window either way
        if by_update and name in params:
            kwargs[name] = True
    return connector.first_request(driver, window, **kwargs)
