"""Page chains of the eBay Sell list methods (pure; MARKETPLACE_APIS.md §4.3).

=============  ======================  ============================  ===========  ========
resource       route (policy name)     method / path                 filter       paging
=============  ======================  ============================  ===========  ========
orders,        ``order``               getOrders                     creationdate  limit
order_items,                           /sell/fulfillment/v1/order    (lastmodi-    200,
returns                                                              fieddate)     offset
transactions   ``transaction``         getTransactions               transaction-  limit
                                       /sell/finances/v1/transaction Date          200,
                                                                                   offset
payouts        ``payout``              getPayouts                    payoutDate    same
                                       /sell/finances/v1/payout
inventory      ``inventory_item``      getInventoryItems             none          limit
                                       /sell/inventory/v1/                         100,
                                       inventory_item                              offset =
                                                                                   PAGE no.
=============  ======================  ============================  ===========  ========

Line items and refunds come inside the orders, so ``order_items`` and ``returns`` page
getOrders like ``orders``. Windows are half-open ``[start, end)``; eBay's date ranges are
inclusive at both ends with millisecond precision, so the filter is
``[start..end - 1 ms]``, written ``YYYY-MM-DDTHH:MM:SS.sssZ``. Inventory is a snapshot:
the window is ignored.

Paging follows ``total``, not the ``next`` link: the request after a page is the one at
``offset + limit`` (records; inventory: page number + 1) while that is below ``total``, so
a page that lost its ``next`` link does not end the chain early. ``short_page`` tells a
page that holds fewer records than ``total`` says it must (the caller re-reads it). A
``total`` that drops between pages makes the chain step back by the drop (see
``next_request``): offset paging over a shrinking result set (orders modified out of a
lastmodifieddate window) would otherwise skip records.
A 204 (getTransactions / getPayouts found nothing) is an empty, complete page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import PageRequest, Window

PLATFORM = "ebay"
ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Method:
    route: str  # the ambassador policy's route name
    path: str
    items: str  # the page's array of records
    date_filter: str | None
    limit: int
    pages: bool  # offset is a page number (Inventory), not a record offset


ORDERS = Method("order", "/sell/fulfillment/v1/order", "orders", "creationdate", 200, False)
TRANSACTIONS = Method(
    "transaction", "/sell/finances/v1/transaction", "transactions", "transactionDate", 200, False
)
PAYOUTS = Method("payout", "/sell/finances/v1/payout", "payouts", "payoutDate", 200, False)
INVENTORY = Method(
    "inventory_item", "/sell/inventory/v1/inventory_item", "inventoryItems", None, 100, True
)
METHODS = {
    "orders": ORDERS,
    "order_items": ORDERS,
    "returns": ORDERS,
    "transactions": TRANSACTIONS,
    "payouts": PAYOUTS,
    "inventory": INVENTORY,
}
BY_ROUTE = {m.route: m for m in (ORDERS, TRANSACTIONS, PAYOUTS, INVENTORY)}
FINANCES_ROUTES = frozenset({"transaction", "payout"})


def ebay_time(value: datetime) -> str:
    """``2024-01-02T03:04:05.678Z``: eBay's UTC timestamp form."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every time in Tributary is UTC-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def date_range(name: str, window: Window) -> str:
    """``name:[start..end - 1 ms]``: the half-open window in eBay's inclusive syntax."""
    return f"{name}:[{ebay_time(window.start)}..{ebay_time(window.end - ONE_MS)}]"


def first_request(
    resource: str, window: Window | None, *, by_update: bool = False, limit: int | None = None
) -> PageRequest:
    """The first page of ``resource`` in ``window``; ``limit`` (default: the method's
    maximum) must be within 1..maximum."""
    method = METHODS.get(resource)
    if method is None:
        raise ConfigurationError(
            f"ebay has no resource {resource!r}; expected one of {', '.join(METHODS)}"
        )
    if limit is not None and not 1 <= limit <= method.limit:
        raise ConfigurationError(f"ebay {resource}: limit must be 1..{method.limit}")
    params: dict[str, Any] = {"limit": limit or method.limit, "offset": 0}
    if method.date_filter is not None:
        if window is None:
            raise ConfigurationError(f"ebay {resource} needs a window")
        name = "lastmodifieddate" if (by_update and method is ORDERS) else method.date_filter
        params = {"filter": date_range(name, window), **params}
    return PageRequest(
        platform=PLATFORM,
        resource=resource,
        route=method.route,
        path=method.path,
        params=params,
        window=window if method.date_filter else None,
    )


def _int(request: PageRequest, body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayloadError(PLATFORM, request.resource, name, f"bad value {value!r}")
    return value


def _position(request: PageRequest) -> tuple[Method, int, int]:
    method = BY_ROUTE.get(request.route)
    if method is None:
        raise ConfigurationError(f"ebay: no page chain for route {request.route!r}")
    return method, int(request.params.get("offset", 0)), int(request.params.get("limit", 0))


def total(request: PageRequest, body: Mapping[str, Any]) -> int:
    """The ``total`` the page reports (0 for an empty 204 page)."""
    return _int(request, body, "total", 0)


def expected_records(request: PageRequest, body: Mapping[str, Any]) -> int:
    """How many records the page must hold, by ``total`` and the page's position."""
    method, offset, limit = _position(request)
    first = offset * limit if method.pages else offset
    return max(0, min(limit, total(request, body) - first))


def short_page(request: PageRequest, body: Mapping[str, Any]) -> tuple[int, int] | None:
    """(records held, records due) when the page holds fewer than due, else None."""
    method, _, _ = _position(request)
    records = body.get(method.items) or []
    if not isinstance(records, list):
        raise MalformedPayloadError(PLATFORM, request.resource, method.items, "not a list")
    due = expected_records(request, body)
    return (len(records), due) if len(records) < due else None


def shifted(seen: int | None, current: int) -> int:
    """Records that slid towards the start since the last page: the drop in ``total``."""
    return max(0, seen - current) if seen is not None else 0


def next_request(request: PageRequest, body: Mapping[str, Any]) -> PageRequest | None:
    """The page after ``body`` (None: the chain is complete).

    ``state["total"]`` remembers the previous page's ``total``. Records that left the
    result set since then (orders modified out of a lastmodifieddate window) shifted the
    ones after them towards the start *before this page was served*: the ``d`` records
    that were due at this page's start now sit just before it. So after a drop of ``d``
    the next page starts ``d`` records before this one (re-reading some, upserted
    again) instead of after it. Records that join only push others later (duplicates, no
    loss). Every step back comes with a smaller total, so the chain ends."""
    method, offset, limit = _position(request)
    current = total(request, body)
    first = offset * limit if method.pages else offset
    drop = shifted(request.state.get("total"), current)
    first_unread = first - drop if drop else first + limit
    if first_unread >= current:
        return None
    following = max(0, first_unread // limit if method.pages else first_unread)
    params = {**request.params, "offset": following}
    state = {**request.state, "total": current}
    n = request.page_number + 1
    return request.model_copy(update={"params": params, "state": state, "page_number": n})
