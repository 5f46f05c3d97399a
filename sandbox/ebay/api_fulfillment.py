"""Fulfillment API v1: getOrders and getOrder.

getOrders (``GET /sell/fulfillment/v1/order``):

    filter    creationdate:[start..end?] | lastmodifieddate:[start..end?] (UTC, inclusive;
              an omitted end means now; creationdate wins when both are given),
              orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS} or {FULFILLED|IN_PROGRESS};
              no date criterion -> orders created in the last 90 days
    limit     1..200, default 50 (else 400 errorId 31100); offset >= 0 (else 31000)
    orderIds  up to 50 comma-separated ids (else 30900); overrides every other parameter

Orders are returned newest first (creationDate descending, then orderId), and only while
younger than two years (``order_history_days``). Date errors: 30810 format, 30820 missing
start, 30840 start after end, 30850 start in the future; 30700 unknown filter name, 30800
bad filter value, 32800 a fieldGroups value other than TAX_BREAKDOWN.

Each order served may be hit by the ``updated_during_sync`` fault: it then changes
(``buyerCheckoutNotes`` set, ``lastModifiedDate`` moved) 1-600 s after the request.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from sandbox.ebay.data import DAY
from sandbox.ebay.errors import EbayError, fulfillment
from sandbox.ebay.filters import Choice, FilterSyntax, Range, parse
from sandbox.ebay.formats import BadDate, parse_iso
from sandbox.ebay.paging import integer, links, page
from sandbox.ebay.views import fulfillment_status, order_payload

if TYPE_CHECKING:
    from sandbox.ebay.app import Call, Reply
    from sandbox.ebay.data import Order

_STATUS_SETS = ({"NOT_STARTED", "IN_PROGRESS"}, {"FULFILLED", "IN_PROGRESS"})
_DATE_FILTERS = ("creationdate", "lastmodifieddate")


def visible_orders(call: Call) -> list[Order]:
    """Orders that exist at ``call.now`` and are at most two years old, oldest first."""
    data, now = call.data, call.now
    oldest = now - call.sandbox.policy.order_history_days * DAY
    lo = bisect.bisect_left(data.created, oldest)
    hi = bisect.bisect_right(data.created, now)
    return data.history.orders[lo:hi]


def _window(call: Call, name: str, value: Range | Choice) -> tuple[float, float]:
    if not isinstance(value, Range):
        raise fulfillment(
            30800, f"Invalid filter value {value} for filter {name}", ("filter", name)
        )
    if value.start is None:
        raise fulfillment(30820, "Start date is missing", ("filter", name))
    try:
        start = parse_iso(value.start)
        end = parse_iso(value.end) if value.end is not None else call.now
    except BadDate as exc:
        raise fulfillment(30810, "Invalid date format", ("filter", name)) from exc
    if start > call.now:
        raise fulfillment(30850, "Start and end dates can't be in the future", ("filter", name))
    if start > end:
        raise fulfillment(30840, "Start date should be before end date", ("filter", name))
    return start, end


def _criteria(call: Call) -> dict[str, Range | Choice]:
    try:
        criteria = parse(call.query.getlist("filter"))
    except FilterSyntax as exc:
        raise fulfillment(
            30800, f"Invalid filter value {exc.value} for filter {exc.name}", ("filter", exc.name)
        ) from exc
    for name in criteria:
        if name not in (*_DATE_FILTERS, "orderfulfillmentstatus"):
            raise fulfillment(30700, f"Invalid filter name: {name}", ("filter", name))
    return criteria


def _select(call: Call) -> list[Order]:
    criteria = _criteria(call)
    orders = visible_orders(call)
    if "creationdate" in criteria:
        start, end = _window(call, "creationdate", criteria["creationdate"])
        orders = [o for o in orders if start <= o.created <= end]
    elif "lastmodifieddate" in criteria:
        start, end = _window(call, "lastmodifieddate", criteria["lastmodifieddate"])
        orders = [o for o in orders if start <= o.last_modified(call.now) <= end]
    else:
        since = call.now - call.sandbox.policy.default_window_days * DAY
        orders = [o for o in orders if o.created >= since]
    status = criteria.get("orderfulfillmentstatus")
    if status is not None:
        wanted = set(status.values) if isinstance(status, Choice) else set()
        if wanted not in _STATUS_SETS:
            raise fulfillment(
                30800,
                f"Invalid filter value {status} for filter orderfulfillmentstatus",
                ("filter", "orderfulfillmentstatus"),
            )
        orders = [o for o in orders if fulfillment_status(o, call.now) in wanted]
    return sorted(orders, key=lambda o: (o.created, o.order_id), reverse=True)


def _field_groups(call: Call) -> None:
    groups = call.query.get("fieldGroups")
    if groups and groups != "TAX_BREAKDOWN":
        raise fulfillment(32800, f"Invalid field group: {groups}", ("fieldGroups", groups))


def _payloads(call: Call, orders: list[Order]) -> list[dict[str, Any]]:
    out = []
    for order in orders:
        out.append(order_payload(order, call.now, call.data.seller_id))
        if call.roll("updated_during_sync", order.order_id):
            delay = 1 + int(
                599 * call.sandbox.world.faults.uniform("ebay", "touch", order.order_id)
            )
            order.touch(int(call.now) + delay)
    return out


def get_orders(call: Call) -> Reply:
    _field_groups(call)
    max_limit = call.sandbox.policy.orders_max_limit
    limit = integer(
        call.query.get("limit"),
        50,
        1,
        max_limit,
        lambda v: fulfillment(31100, f"Invalid limit: {v}", ("limit", v)),
    )
    offset = integer(
        call.query.get("offset"),
        0,
        0,
        10**9,
        lambda v: fulfillment(31000, f"Invalid offset: {v}", ("offset", v)),
    )
    ids = [i.strip() for i in call.query.get("orderIds", "").split(",") if i.strip()]
    if ids:
        if len(ids) > 50:
            raise fulfillment(
                30900, "Exceeded maximum number of order IDs (the current limit is 50)"
            )
        wanted = set(ids)
        orders = [o for o in visible_orders(call) if o.order_id in wanted]
        body = {"href": call.url(), "total": len(orders), "limit": limit, "offset": 0}
        return 200, {**body, "orders": _payloads(call, orders), "warnings": []}
    orders = _select(call)
    chosen = page(call, orders, offset, limit)
    body = links(call, offset, limit, len(orders), chosen.lost_next)
    return 200, {**body, "orders": _payloads(call, chosen.records), "warnings": []}


def get_order(call: Call) -> Reply:
    _field_groups(call)
    order_id = call.request.path_params["orderId"]
    for order in visible_orders(call):
        if order.order_id == order_id:
            return 200, order_payload(order, call.now, call.data.seller_id)
    raise EbayError(
        404,
        32100,
        "API_FULFILLMENT",
        "REQUEST",
        f"Invalid order ID: {order_id}",
        None,
        [("orderId", order_id)],
    )
