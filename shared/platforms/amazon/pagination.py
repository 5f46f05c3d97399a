"""Page chains of the SP-API list operations: the first request and the one after a page.

Pure functions, no I/O, no clock. Windows are half-open ``[start, end)`` in UTC; Amazon's
rules (MARKETPLACE_APIS.md §2.3) are applied here:

- **2-minute rule**: every ``*Before`` must be at least two minutes before the time of the
  request. ``check_window(window, now)`` refuses a window that ends later than
  ``latest_end(now)``; the caller passes its ``now`` (the orchestrator's clock).
- **getOrders**: ``MarketplaceIds`` (csv), ``CreatedAfter``/``CreatedBefore`` (or
  ``LastUpdatedAfter``/``LastUpdatedBefore`` with ``by_update``), ``MaxResultsPerPage``
  100; later pages resend the same parameters plus ``NextToken``. Amazon treats both
  bounds as inclusive, so an order stamped exactly at a window's end is listed by both
  neighbouring windows (the loader's upsert absorbs it; nothing is lost).
- **getOrderItems**: one chain walks many orders: ``state`` holds the current
  ``order_id`` and the ``remaining`` ids; each page is one order's items page. A chain
  built from a getOrders page knows each order's PurchaseDate (``created``: order id ->
  ISO instant, the remaining orders' kept in ``state["created"]``); a page's
  ``state["scope"]`` is then its order's date, which the normalizer stamps on the items
  as ``created_at`` (getOrderItems answers carry no date), "" when unknown.
- **Finances v0**: listFinancialEventGroups (``FinancialEventGroupStarted*``) and
  listFinancialEvents (``Posted*``) are asked in slices of at most 180 days (wider
  windows answer an empty page, not an error); ``state["slice_start"]`` is the slice being
  paged. ``NextToken`` is followed even on empty pages; a slice ends when a page has none.
  listFinancialEventsByGroupId walks a list of group ids like getOrderItems; its
  ``state["scope"]`` is the group id, the ``scope`` its pages must be normalized with.
  ByGroupId shows nothing for a group that started more than two years ago, so a chain
  built from a groups page (``groups_events_request``) lists a closed group started
  before ``by_date_before`` with listFinancialEvents over the group's span instead
  (``PostedAfter`` = its start, ``PostedBefore`` = its end; a currency's groups follow
  each other without a gap, so an event posted in that span in the group's currency is
  the group's); that page's scope is ``{group_id}|{currency}``: the normalizer keeps
  that currency's events (other marketplaces' groups overlap in time).
  A group still open is checked on its running total: the groups page shows its
  ``OriginalTotal`` so far (``EventGroup.total``), seen at an instant of the page's
  request (``seen``: the request's flight). The open groups' events are listed after
  the closed ones', the first of them ``OPEN_GROUP_WAIT`` on (an events listing shows
  what was posted until two minutes before it: it then sees every event the total
  counts); their pages' ``state["running"]`` carries the total for the block check
  (``shared.integrity.running_totals_off``).
- **getInventorySummaries**: one chain per marketplace list (``granularityType=
  Marketplace``, ``granularityId`` = ``marketplaceIds`` = one marketplace, ``details=
  true``); ``pagination.nextToken`` lives 30 s, so its pages must follow each other fast.
  The API states no count and nothing else names every SKU, so each marketplace is
  listed ``INVENTORY_LISTINGS`` times in a row: a page's ``state["listing"]`` is
  ``{market}#{n}``, and the block check (``shared.integrity``, repeated listings)
  requires every listing of a marketplace to name the same SKUs. A SKU that a short
  page or a lost token drops from one listing is named by the other: the block fails
  and is loaded again (its records hold the union meanwhile).

``next_request(request, body)`` returns the request after a page (``None``: chain done).
Chains over a known list (orders' items, groups' events, marketplaces' inventory) say
in ``PageRequest.calls_ahead`` how many calls on the route they still make at least.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import PageRequest, Window, utc_iso

PLATFORM = "amazon"
TWO_MINUTES = timedelta(minutes=2)
FINANCE_SLICE = timedelta(days=180)
PAGE_SIZE = 100

ORDERS_PATH = "/orders/v0/orders"
ITEMS_PATH = "/orders/v0/orders/{}/orderItems"
GROUPS_PATH = "/finances/v0/financialEventGroups"
GROUP_EVENTS_PATH = "/finances/v0/financialEventGroups/{}/financialEvents"
EVENTS_PATH = "/finances/v0/financialEvents"
INVENTORY_PATH = "/fba/inventory/v1/summaries"

_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def latest_end(now: datetime) -> datetime:
    """The latest window end Amazon accepts at ``now`` (the 2-minute rule)."""
    return now - TWO_MINUTES


def check_window(window: Window, now: datetime) -> None:
    """ConfigurationError unless ``window`` ends at least two minutes before ``now``."""
    if window.end > latest_end(now):
        raise ConfigurationError(
            f"amazon: window end {utc_iso(window.end)} is later than two minutes before "
            f"now ({utc_iso(now)}); Amazon refuses such a *Before"
        )


def _request(resource: str, route: str, path: str, **fields: Any) -> PageRequest:
    return PageRequest(platform=PLATFORM, resource=resource, route=route, path=path, **fields)


def _ids(kind: str, values: Iterable[str]) -> list[str]:
    out = list(dict.fromkeys(str(v) for v in values))
    bad = [v for v in out if not _ID.match(v)]
    if bad:
        raise ConfigurationError(f"amazon: malformed {kind} {bad[0]!r}")
    return out


# --- orders and items ----------------------------------------------------------------


def orders_request(
    window: Window, marketplace_ids: Sequence[str], *, by_update: bool = False
) -> PageRequest:
    prefix = "LastUpdated" if by_update else "Created"
    params = {
        "MarketplaceIds": ",".join(marketplace_ids),
        f"{prefix}After": utc_iso(window.start),
        f"{prefix}Before": utc_iso(window.end),
        "MaxResultsPerPage": PAGE_SIZE,
    }
    state = {"by": "updated" if by_update else "created"}
    return _request("orders", "getOrders", ORDERS_PATH, params=params, window=window, state=state)


def order_items_request(
    order_ids: Iterable[str], created: Mapping[str, str] | None = None
) -> PageRequest | None:
    """The first request of a chain over every order's items (None for no orders);
    ``created`` maps an order id to its PurchaseDate (ISO 8601), where known."""
    ids = _ids("order id", order_ids)
    if not ids:
        return None
    dates = {i: created[i] for i in ids if created and created.get(i)}
    return _items_page(ids[0], ids[1:], None, 0, dates)


def _items_page(
    order_id: str,
    remaining: list[str],
    token: str | None,
    page_number: int,
    created: Mapping[str, str],
) -> PageRequest:
    state: dict[str, Any] = {"order_id": order_id, "remaining": remaining}
    if created:
        state["scope"] = created.get(order_id, "")
        state["created"] = {i: created[i] for i in remaining if i in created}
    return _request(
        "order_items",
        "getOrderItems",
        ITEMS_PATH.format(order_id),
        params={"NextToken": token} if token else {},
        state=state,
        page_number=page_number,
        calls_ahead=1 + len(remaining),
    )


# --- finances ------------------------------------------------------------------------

_FINANCE = {  # route -> (resource, path, parameter prefix)
    "listFinancialEventGroups": ("payouts", GROUPS_PATH, "FinancialEventGroupStarted"),
    "listFinancialEvents": ("transactions", EVENTS_PATH, "Posted"),
}


def finance_request(route: str, window: Window) -> PageRequest:
    """listFinancialEventGroups (payouts) or listFinancialEvents (transactions) by window."""
    return _finance_slice(route, window, window.start, None, 0)


def _finance_slice(
    route: str, window: Window, slice_start: datetime, token: str | None, page_number: int
) -> PageRequest:
    resource, path, prefix = _FINANCE[route]
    slice_end = min(slice_start + FINANCE_SLICE, window.end)
    params: dict[str, Any] = {
        f"{prefix}After": utc_iso(slice_start),
        f"{prefix}Before": utc_iso(slice_end),
        "MaxResultsPerPage": PAGE_SIZE,
    }
    if token:
        params["NextToken"] = token
    return _request(
        resource,
        route,
        path,
        params=params,
        window=window,
        state={"slice_start": utc_iso(slice_start)},
        page_number=page_number,
    )


OPEN_GROUP_WAIT = 125.0
"""Seconds from an open group's groups page to the listing of its events: more than
the two minutes before its request an events listing reaches."""


class EventGroup(NamedTuple):
    """What a groups page says about one financial event group (``end`` None: open);
    ``total``: its OriginalTotal amount as a decimal string, where given."""

    group_id: str
    start: datetime
    end: datetime | None
    currency: str
    total: str | None = None


def group_events_request(group_ids: Iterable[str]) -> PageRequest | None:
    """The first request of a chain over every group's financial events (None if none),
    each through listFinancialEventsByGroupId."""
    ids = _ids("financial event group id", group_ids)
    return _next_group_of([[i] for i in ids], 0)


def groups_events_request(
    groups: Iterable[EventGroup],
    *,
    by_date_before: datetime | None,
    seen: tuple[datetime, datetime] | None = None,
) -> PageRequest | None:
    """The first request of a chain over the events of ``groups`` (None if none): a
    closed group started before ``by_date_before`` by posted date, the others by group;
    with ``seen`` (the groups page's request went out and came back then), the open
    groups stating a total last, checked on it (module docstring)."""
    refs: dict[str, list[str]] = {}
    running: dict[str, list[str]] = {}
    for g in groups:
        _ids("financial event group id", [g.group_id])
        by_date = by_date_before is not None and g.end is not None and g.start < by_date_before
        if by_date and g.end:
            refs[g.group_id] = [g.group_id, utc_iso(g.start), utc_iso(g.end), g.currency]
        elif g.end is None and g.total is not None and seen is not None:
            span = [utc_iso(seen[0]), utc_iso(seen[1])]
            running[g.group_id] = [g.group_id, _OPEN, g.total, g.currency, *span, "0"]
        else:
            refs[g.group_id] = [g.group_id]
    opened = [ref for group_id, ref in running.items() if group_id not in refs]
    if opened:
        opened[0] = [*opened[0][:-1], str(OPEN_GROUP_WAIT)]
    return _next_group_of([*refs.values(), *opened], 0)


_OPEN = "open"
"""Second field of a reference to an open group: ``[group_id, "open", total, currency,
seen_from, seen_to, wait_s]``."""


def _next_group_of(refs: list[list[str]], page_number: int) -> PageRequest | None:
    """The first page of ``refs[0]`` (a ``[group_id]``, an open group's reference or a
    ``[group_id, start, end, currency]``), the rest kept in the state; None when
    ``refs`` is empty."""
    if not refs:
        return None
    ref, remaining = refs[0], refs[1:]
    if len(ref) == 1:
        return _group_page(ref[0], remaining, None, page_number)
    if ref[1] == _OPEN:
        page = _group_page(ref[0], remaining, None, page_number, _running_of(ref))
        return page.model_copy(update={"not_before_s": float(ref[6])})
    return _group_span_page(ref, remaining, datetime.fromisoformat(ref[1]), None, page_number)


def _running_of(ref: list[str]) -> dict[str, Any]:
    """An open group's reference as the block check reads it (``RunningTotal``)."""
    group_id, _, total, currency, seen_from, seen_to, _ = ref
    money = {"amount": total, "currency": currency}
    return {"payout_id": group_id, "total": money, "seen_from": seen_from, "seen_to": seen_to}


def _group_page(
    group_id: str,
    remaining: list[list[str]],
    token: str | None,
    page_number: int,
    running: dict[str, Any] | None = None,
) -> PageRequest:
    params: dict[str, Any] = {"MaxResultsPerPage": PAGE_SIZE}
    if token:
        params["NextToken"] = token
    state: dict[str, Any] = {"group_id": group_id, "remaining": remaining, "scope": group_id}
    if running:
        state["running"] = running
    return _request(
        "transactions",
        "listFinancialEventsByGroupId",
        GROUP_EVENTS_PATH.format(group_id),
        params=params,
        state=state,
        page_number=page_number,
        calls_ahead=1 + _by_group_ahead(remaining),
    )


def _by_group_ahead(refs: list[list[str]]) -> int:
    """How many of ``refs``, from the first, are listed by group (one call at least each)
    before a group listed by posted date (another route) or an open group's listing that
    waits (``OPEN_GROUP_WAIT``: permits taken for it would expire meanwhile)."""
    n = 0
    for ref in refs:
        if len(ref) == 4 or (ref[1:2] == [_OPEN] and float(ref[6]) > 0):
            break
        n += 1
    return n


def _group_span_page(
    ref: list[str],
    remaining: list[list[str]],
    slice_start: datetime,
    token: str | None,
    page_number: int,
) -> PageRequest:
    """listFinancialEvents over one old group's span (in 180-day slices)."""
    group_id, _, end, currency = ref
    slice_end = min(slice_start + FINANCE_SLICE, datetime.fromisoformat(end))
    params: dict[str, Any] = {
        "PostedAfter": utc_iso(slice_start),
        "PostedBefore": utc_iso(slice_end),
        "MaxResultsPerPage": PAGE_SIZE,
    }
    if token:
        params["NextToken"] = token
    return _request(
        "transactions",
        "listFinancialEvents",
        EVENTS_PATH,
        params=params,
        state={
            "group": ref,
            "slice_start": utc_iso(slice_start),
            "remaining": remaining,
            "scope": f"{group_id}|{currency}",
        },
        page_number=page_number,
    )


# --- inventory -----------------------------------------------------------------------


INVENTORY_LISTINGS = 2
"""How often a snapshot lists each marketplace, one listing right after the other."""


def inventory_request(marketplace_ids: Sequence[str]) -> PageRequest:
    """A snapshot of every FBA inventory summary, one marketplace after the other, each
    listed ``INVENTORY_LISTINGS`` times."""
    markets = list(marketplace_ids)
    return _inventory_page(markets[0], markets[1:], None, 0, 1)


def _inventory_page(
    market: str, remaining: list[str], token: str | None, page_number: int, listing: int
) -> PageRequest:
    params: dict[str, Any] = {
        "granularityType": "Marketplace",
        "granularityId": market,
        "marketplaceIds": market,
        "details": "true",
    }
    if token:
        params["nextToken"] = token
    ahead = 1 + INVENTORY_LISTINGS - listing + INVENTORY_LISTINGS * len(remaining)
    return _request(
        "inventory",
        "getInventorySummaries",
        INVENTORY_PATH,
        params=params,
        state={"market": market, "remaining": remaining, "listing": f"{market}#{listing}"},
        page_number=page_number,
        calls_ahead=ahead,
    )


# --- the page after ------------------------------------------------------------------


def _payload(request: PageRequest, body: Any) -> Mapping[str, Any]:
    payload = body.get("payload") if isinstance(body, Mapping) else None
    if not isinstance(payload, Mapping):
        raise MalformedPayloadError(
            PLATFORM, request.resource, "payload", "missing or not an object"
        )
    return payload


def _token(request: PageRequest, holder: Mapping[str, Any], name: str) -> str | None:
    token = holder.get(name)
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise MalformedPayloadError(PLATFORM, request.resource, name, "not a string")
    return token


def next_request(request: PageRequest, body: Any) -> PageRequest | None:
    """The request after the page ``body`` answered ``request`` (None: chain complete)."""
    following = _NEXT.get(request.route)
    if following is None:
        raise ConfigurationError(f"amazon: no page chain for route {request.route!r}")
    return following(request, body)


def _next_orders(request: PageRequest, body: Any) -> PageRequest | None:
    token = _token(request, _payload(request, body), "NextToken")
    if token is None:
        return None
    params = {**request.params, "NextToken": token}
    return request.model_copy(update={"params": params, "page_number": request.page_number + 1})


def _next_items(request: PageRequest, body: Any) -> PageRequest | None:
    token = _token(request, _payload(request, body), "NextToken")
    order_id, remaining = request.state["order_id"], list(request.state["remaining"])
    created = dict(request.state.get("created") or {})  # absent: a chain without dates
    n = request.page_number + 1
    if token is not None:
        scope = request.state.get("scope")
        return _items_page(
            order_id, remaining, token, n, {**created, order_id: scope} if scope else created
        )
    if not remaining:
        return None
    return _items_page(remaining[0], remaining[1:], None, n, created)


def _next_finance(request: PageRequest, body: Any) -> PageRequest | None:
    if "group" in request.state:
        return _next_group_span(request, body)
    token = _token(request, _payload(request, body), "NextToken")
    window = request.window
    if window is None:
        raise ConfigurationError(f"amazon: {request.route} request without a window")
    slice_start = datetime.fromisoformat(request.state["slice_start"])
    n = request.page_number + 1
    if token is not None:
        return _finance_slice(request.route, window, slice_start, token, n)
    slice_next = slice_start + FINANCE_SLICE
    if slice_next >= window.end:
        return None
    return _finance_slice(request.route, window, slice_next, None, n)


def _remaining(request: PageRequest) -> list[list[str]]:
    # a chain built before group references carried spans held bare ids
    return [[r] if isinstance(r, str) else list(r) for r in request.state["remaining"]]


def _next_group(request: PageRequest, body: Any) -> PageRequest | None:
    token = _token(request, _payload(request, body), "NextToken")
    group_id, remaining = request.state["group_id"], _remaining(request)
    n = request.page_number + 1
    if token is not None:
        return _group_page(group_id, remaining, token, n, request.state.get("running"))
    return _next_group_of(remaining, n)


def _next_group_span(request: PageRequest, body: Any) -> PageRequest | None:
    token = _token(request, _payload(request, body), "NextToken")
    ref, remaining = list(request.state["group"]), _remaining(request)
    slice_start = datetime.fromisoformat(request.state["slice_start"])
    n = request.page_number + 1
    if token is not None:
        return _group_span_page(ref, remaining, slice_start, token, n)
    slice_next = slice_start + FINANCE_SLICE
    if slice_next < datetime.fromisoformat(ref[2]):
        return _group_span_page(ref, remaining, slice_next, None, n)
    return _next_group_of(remaining, n)


def _next_inventory(request: PageRequest, body: Any) -> PageRequest | None:
    _payload(request, body)
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, Mapping):
        raise MalformedPayloadError(PLATFORM, "inventory", "pagination", "not an object")
    token = _token(request, pagination, "nextToken")
    market, remaining = request.state["market"], list(request.state["remaining"])
    # a chain built before listings were repeated has none: its one listing is the last
    listing = int(str(request.state.get("listing", f"#{INVENTORY_LISTINGS}")).rpartition("#")[2])
    n = request.page_number + 1
    if token is not None:
        return _inventory_page(market, remaining, token, n, listing)
    if listing < INVENTORY_LISTINGS:
        return _inventory_page(market, remaining, None, n, listing + 1)
    return _inventory_page(remaining[0], remaining[1:], None, n, 1) if remaining else None


_NEXT = {
    "getOrders": _next_orders,
    "getOrderItems": _next_items,
    "listFinancialEventGroups": _next_finance,
    "listFinancialEvents": _next_finance,
    "listFinancialEventsByGroupId": _next_group,
    "getInventorySummaries": _next_inventory,
}
