"""Orders API v0: getOrders, getOrder, getOrderItems.

getOrders rules (ordersV0 spec): MarketplaceIds is required; exactly one of CreatedAfter /
LastUpdatedAfter (unless AmazonOrderIds is given); Created* and LastUpdated* never mix;
a *Before must be >= its *After and at least 2 minutes before now (it defaults to now - 2
min and is echoed in the payload); MaxResultsPerPage 1-100 (default 100). Both bounds are
inclusive. Orders come sorted by PurchaseDate (Created*) or LastUpdateDate (LastUpdated*).
The NextToken carries the resolved query, so a later page only needs MarketplaceIds and the
token; the other filters are taken from the token. The ``updated_during_sync`` fault
bumps the LastUpdateDate of one order of the page served, as a seller edit would.
getOrderItems pages by 10 items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.amazon import paging
from sandbox.amazon.errors import invalid, not_found
from sandbox.amazon.formats import iso
from sandbox.amazon.view import order_items, order_payload

if TYPE_CHECKING:
    from sandbox.amazon.app import Call, Reply
    from sandbox.amazon.data import Order

TWO_MINUTES = 120
ITEMS_PAGE_SIZE = 10
_STATUSES = {
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
}


def _query(call: Call) -> dict[str, Any]:
    created_after, created_before = call.date("CreatedAfter"), call.date("CreatedBefore")
    updated_after, updated_before = call.date("LastUpdatedAfter"), call.date("LastUpdatedBefore")
    ids = call.params("AmazonOrderIds")
    if len(ids) > 50:
        raise invalid("AmazonOrderIds accepts at most 50 values.")
    created = created_after is not None or created_before is not None
    updated = updated_after is not None or updated_before is not None
    if created and updated:
        raise invalid(
            "LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter "
            "or CreatedBefore is set."
        )
    after, before = (created_after, created_before) if created else (updated_after, updated_before)
    name = "Created" if created else "LastUpdated"
    if after is None and not ids:
        raise invalid("Either CreatedAfter or LastUpdatedAfter must be specified.")
    latest = call.now - TWO_MINUTES
    if before is None:
        before = latest
    elif before > latest:
        raise invalid(f"{name}Before must be a date at least 2 minutes before the current time.")
    if after is not None and after > before:
        raise invalid(
            f"{name}After must be before {name}Before (which defaults to two minutes "
            "before the current time)."
        )
    statuses = call.params("OrderStatuses")
    if set(statuses) - _STATUSES:
        raise invalid(f"Invalid OrderStatuses: {sorted(set(statuses) - _STATUSES)}.")
    return {
        "mode": "updated" if updated else "created",
        "after": after,
        "before": int(before),
        "statuses": statuses,
        "channels": call.params("FulfillmentChannels"),
        "ids": ids,
        "size": call.integer("MaxResultsPerPage", 100, 1, 100),
    }


def _matches(q: dict[str, Any], markets: list[str], now: float):
    def keep(order: Order) -> tuple[int, str] | None:
        if order.purchased > now or order.marketplace.marketplace_id not in markets:
            return None
        version = order.version_at(now)
        stamp = order.purchased if q["mode"] == "created" else version.at
        if stamp > q["before"] or (q["after"] is not None and stamp < q["after"]):
            return None
        if q["statuses"] and version.status not in q["statuses"]:
            return None
        if q["channels"] and order.channel not in q["channels"]:
            return None
        if q["ids"] and order.order_id not in q["ids"]:
            return None
        return (stamp, order.order_id)

    return keep


def get_orders(call: Call) -> Reply:
    markets = call.params("MarketplaceIds")
    if not markets:
        raise invalid("Missing required parameter: MarketplaceIds.")
    if len(markets) > 50:
        raise invalid("MarketplaceIds accepts at most 50 values.")
    token = call.param("NextToken")
    if token:
        state = paging.decode("getOrders", token)
        q, cursor = state["q"], state["cursor"]
    else:
        q, cursor = _query(call), None
    keep = _matches(q, markets, call.now)
    keyed = sorted((k, o) for o in call.data.history.orders if (k := keep(o)) is not None)
    chunk, following = paging.page(call, keyed, lambda pair: pair[0], q["size"], cursor)
    orders = [order_payload(o, o.version_at(call.now)) for _, o in chunk]
    if chunk and call.roll("updated_during_sync"):
        chunk[len(chunk) // 2][1].touch(int(call.now))
    payload: dict[str, Any] = {"Orders": orders}
    if following is not None:
        payload["NextToken"] = paging.encode("getOrders", {"q": q, "cursor": following})
    payload["CreatedBefore" if q["mode"] == "created" else "LastUpdatedBefore"] = iso(q["before"])
    return 200, {"payload": payload}


def _visible(call: Call) -> Order:
    order = call.data.history.by_id.get(call.path["orderId"])
    if order is None or order.purchased > call.now:
        raise not_found(f"Invalid AmazonOrderId: {call.path['orderId']}.")
    return order


def get_order(call: Call) -> Reply:
    order = _visible(call)
    return 200, {"payload": order_payload(order, order.version_at(call.now))}


def get_order_items(call: Call) -> Reply:
    order = _visible(call)
    items = order_items(order, order.version_at(call.now))
    token = call.param("NextToken")
    cursor = None
    if token:
        state = paging.decode("getOrderItems", token)
        if state.get("order") != order.order_id:
            raise invalid("Invalid NextToken.")
        cursor = state["cursor"]
    indexed = list(enumerate(items))
    chunk, following = paging.page(call, indexed, lambda pair: (pair[0],), ITEMS_PAGE_SIZE, cursor)
    payload: dict[str, Any] = {
        "OrderItems": [item for _, item in chunk],
        "AmazonOrderId": order.order_id,
    }
    if following is not None:
        payload["NextToken"] = paging.encode(
            "getOrderItems", {"order": order.order_id, "cursor": following}
        )
    return 200, {"payload": payload}
