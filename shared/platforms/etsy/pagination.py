"""Etsy request chains per resource: pure, no I/O.

Windows are half-open ``[start, end)`` UTC; Etsy's bounds are inclusive unix seconds, so a
window becomes ``min = ceil(start)``, ``max = ceil(end) - 1`` (records sit on whole
seconds), with ``min`` raised to Etsy's floor 946684800 (2000-01-01). Lists page with
``limit`` (100, Etsy's maximum) and ``offset``; the next offset is asked for while
``offset + limit < count``.

=============  =========================================================================
resource       chain
=============  =========================================================================
orders         getShopReceipts ``min_created``/``max_created`` (no window: every receipt;
               ``by_update``: ``min_last_modified``/``max_last_modified``)
order_items    paged: getShopReceipts of the window (created, or modified with
               ``by_update``): Etsy's current ShopReceipt carries its ``transactions``,
               so the receipt pages are the items' pages (``normalize``), 100 receipts
               a call. (Chains begun by earlier versions still run as they started:
               the receipts as ``index``, then getShopReceiptTransactionsByReceipt per
               receipt.)
               bulk: getShopReceiptTransactionsByShop, newest first, every transaction
               (no date filter). With a window the chain stops after the first page
               reaching below the window's start, and its pages carry the window as
               ``state["scope"]`` (``normalize.created_scope``): they may hold
               transactions newer or older than the window, which normalizing with
               that scope leaves out. Their ``count`` (the shop's every transaction)
               says nothing of the window: ``reported_count`` gives None for them.
               The stop relies on the newest-first order: ``misordered`` names a
               windowed page whose creation times rise (the client refuses it).
transactions,  getShopPaymentAccountLedgerEntries, ``min_created``/``max_created``
payouts        required and at most 31 days (2,678,400 s) apart: a longer window is a
               chain of sub-windows, oldest first, each <= 31 days, each paged.
               (payouts are the DISBURSE2 entries: the normalizer picks them out.)
returns        getShopReceipts by ``min_created``/``max_created`` (``by_update``: by
               ``min_last_modified``/``max_last_modified``: a refund or cancellation
               modifies its receipt; step ``index``) -> for each receipt with refunds
               getShopPaymentByReceiptId (step ``page``): the payments carry their
               ``payment_adjustments``. Etsy lists no adjustments by themselves. A
               receipt names its refunds (``refunds``, ShopRefund, in Etsy's current
               ShopReceipt): one whose list is empty has no adjustment and is not
               visited; one without the field (older API versions) is. A history
               window lists its receipts by creation, which never changes: a receipt
               modified while the backfill runs (a refund, a note, a shipment) would
               leave a modification window before the chain reads it, and its
               refunds every window of the backfill (the modification lies after the
               plan's end). The daily sync lists what changed. Each refund a receipt
               lists is one payment adjustment: the visit carries how many the
               receipt listed (``state["refunds"]``) and ``missing_adjustments`` spots
               a payment holding fewer (the caller retries it).
inventory      getListingsByShop ``state=active``, ``includes=Inventory`` (Etsy's
               current API): each listing carries its ListingInventory, so a page of
               100 listings is one call (the window is ignored: inventory is a
               snapshot). Chains begun by earlier versions still run as they started:
               findAllActiveListingsByShop (``index``) -> getListingInventory per
               listing (``page``).
=============  =========================================================================

Only ``page`` steps carry records for ``shared.normalize``; an ``index`` page says which
records to ask for next (its payload is the raw listing, never normalized: the block loop
stores ``page`` / ``bulk_download`` steps only). A fan-out chain keeps the ids still to
visit in ``state["pending"]`` and the index page it came from in ``state["parent"]``
(path, parameters of the next index page, the ids listed, ``count``). An id repeated from
the previous index page (offset paging can repeat a record) is not visited twice.

Offsets and moving lists: a ``count`` smaller than the previous page's means records
left the filter between two pages (a receipt modified past ``max_last_modified``) and
the rest moved forward; the next page then starts that many places back (see
``_next_offset``). New records only push old ones back (lists are newest first): they
are read twice, never skipped. ``short_page(request, body)`` spots an offset page holding
fewer results than ``count`` promises: the caller retries it.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from shared.errors import ConfigurationError
from shared.platforms.base import PageRequest, Window
from shared.platforms.etsy.normalize import created_scope

PLATFORM = "etsy"
ROUTE = "api"
EARLIEST = 946_684_800
LEDGER_WINDOW_S = 2_678_400
PAGE_LIMIT = 100
APP = "/v3/application"
RESOURCES = ("orders", "order_items", "transactions", "payouts", "returns", "inventory")


def bounds(window: Window) -> tuple[int, int]:
    """Inclusive unix-second bounds ``(min, max)`` of a half-open window."""
    low = max(EARLIEST, math.ceil(window.start.timestamp()))
    high = math.ceil(window.end.timestamp()) - 1
    if window.end <= window.start:
        raise ConfigurationError(f"etsy: empty window {window.start} .. {window.end}")
    if high < low:
        raise ConfigurationError(f"etsy: window ends before 2000-01-01 ({window.end})")
    return low, high


def _shop(shop_id: str) -> str:
    return f"{APP}/shops/{shop_id}"


def _request(resource: str, path: str, window: Window | None, **kw: Any) -> PageRequest:
    return PageRequest(
        platform=PLATFORM, resource=resource, route=ROUTE, path=path, window=window, **kw
    )


def first_request(
    shop_id: str,
    resource: str,
    window: Window | None,
    *,
    bulk: bool = False,
    by_update: bool = False,
    limit: int = PAGE_LIMIT,
) -> PageRequest:
    """The first request of ``resource``'s chain for ``window`` (see the module table).

    Raises ConfigurationError for an unknown resource, a bulk path Etsy does not offer,
    a ledger resource without a window, an empty / pre-2000 window, or a page ``limit``
    outside Etsy's 1..100. ``by_update`` (a daily window: what changed) lists orders,
    order items and returns by their receipts' last modification instead of creation."""
    if not 1 <= limit <= PAGE_LIMIT:
        raise ConfigurationError(f"etsy: page limit must be 1..{PAGE_LIMIT}, got {limit}")
    if resource not in RESOURCES:
        raise ConfigurationError(f"etsy has no resource {resource!r}; expected one of {RESOURCES}")
    if bulk and resource != "order_items":
        raise ConfigurationError(f"etsy offers no bulk path for {resource!r} (only order_items)")
    if not str(shop_id).isdigit():
        raise ConfigurationError("etsy: shop_id must be the shop's numeric id")
    shop = _shop(shop_id)
    page = {"limit": limit, "offset": 0}
    if resource in ("transactions", "payouts"):
        if window is None:
            raise ConfigurationError(f"etsy {resource}: the ledger needs a window")
        low, high = bounds(window)
        params = {**_ledger_window(low, high), **page}
        state = {"max": high}
        return _request(
            resource, f"{shop}/payment-account/ledger-entries", window, params=params, state=state
        )
    if resource == "inventory":
        params = {"state": "active", "includes": "Inventory", **page}
        return _request(resource, f"{shop}/listings", None, params=params, state={})
    if resource == "order_items" and bulk:
        state = {}
        if window is not None:
            low, high = bounds(window)
            state = {"stop_below": low, "scope": created_scope(low, high)}
        return _request(resource, f"{shop}/transactions", window, params=page, state=state)
    names = ("min_last_modified", "max_last_modified") if by_update else None
    params = {**_receipt_window(window, names), **page}
    step = "index" if resource == "returns" else "page"
    return _request(resource, f"{shop}/receipts", window, params=params, step=step)


def _ledger_window(low: int, high: int) -> dict[str, int]:
    return {"min_created": low, "max_created": min(high, low + LEDGER_WINDOW_S - 1)}


def _receipt_window(window: Window | None, names: tuple[str, str] | None) -> dict[str, int]:
    if window is None:
        return {}
    low, high = bounds(window)
    first, last = names or ("min_created", "max_created")
    return {first: low, last: high}


def _next_offset(request: PageRequest, body: dict[str, Any]) -> dict[str, Any] | None:
    """Parameters of the next offset page, or None after the last.

    A ``count`` smaller than the previous page's (``state["count"]``) by ``d`` means
    ``d`` records left the filter meanwhile (a receipt modified past
    ``max_last_modified``) and everything after them moved ``d`` places forward: the next
    page then starts ``d`` places back, so no record slips between two pages."""
    params = request.params
    offset, limit = int(params.get("offset", 0)), int(params.get("limit", PAGE_LIMIT))
    count = int(body["count"])
    shrunk = max(0, int(request.state.get("count", count)) - count)
    if shrunk:
        return {**params, "offset": max(0, offset - shrunk)}
    if offset + limit < count:
        return {**params, "offset": offset + limit}
    return None


def short_page(request: PageRequest, body: dict[str, Any]) -> str | None:
    """Why an offset page is short (fewer results than ``count`` promises), else None."""
    if "offset" not in request.params:
        return None
    offset, limit = int(request.params["offset"]), int(request.params["limit"])
    expected = max(0, min(limit, int(body["count"]) - offset))
    got = len(body["results"])
    if got < expected:
        return f"short page: {got} results at offset {offset}, count says {expected}"
    return None


def reported_count(request: PageRequest, body: dict[str, Any]) -> int | None:
    """How many records the API says ``request``'s listing holds: a list page's
    ``count``; None for other answers and for a windowed bulk page (its ``count`` is
    every transaction of the shop, most of them outside the window)."""
    if "results" not in body or request.state.get("scope"):
        return None
    return body.get("count")


def next_request(request: PageRequest, body: dict[str, Any]) -> PageRequest | None:
    """The request after ``request`` answered ``body`` (ok), or None: chain complete."""
    following = request.model_copy(update={"page_number": request.page_number + 1})
    if request.step == "index":
        return _fan_out(request, following, body)
    if request.state.get("parent"):
        return _after_item(request, following)
    if request.resource in ("transactions", "payouts"):
        return _after_ledger(request, following, body)
    if "stop_below" in request.state and _reached_below(body, request.state["stop_below"]):
        return None
    params = _next_offset(request, body)
    state = {**request.state, "count": body["count"]}
    return (
        None if params is None else following.model_copy(update={"params": params, "state": state})
    )


def _after_ledger(
    request: PageRequest, following: PageRequest, body: dict[str, Any]
) -> PageRequest | None:
    params = _next_offset(request, body)
    if params is not None:
        state = {**request.state, "count": body["count"]}
        return following.model_copy(update={"params": params, "state": state})
    high, done = int(request.state["max"]), int(request.params["max_created"])
    if done >= high:
        return None
    params = {**_ledger_window(done + 1, high), "limit": request.params["limit"], "offset": 0}
    return following.model_copy(update={"params": params, "state": {"max": high}})


def _stamps(body: dict[str, Any]) -> list[int]:
    """Creation times of a transactions page, in page order (undated ones left out)."""
    stamps = [r.get("created_timestamp", r.get("create_timestamp")) for r in body["results"]]
    return [s for s in stamps if isinstance(s, int) and not isinstance(s, bool)]


def _reached_below(body: dict[str, Any], low: int) -> bool:
    stamps = _stamps(body)
    return bool(stamps) and min(stamps) < low


def misordered(request: PageRequest, body: dict[str, Any]) -> str | None:
    """Why a windowed bulk page (``state["stop_below"]``) is not newest first, else None.
    Ties are fine (a receipt's transactions share its time); a rise means the chain
    cannot tell where the window starts, and stopping there could skip its records."""
    if "stop_below" not in request.state:
        return None
    stamps = _stamps(body)
    for newer, older in pairwise(stamps):
        if older > newer:
            return f"transactions not newest first: created {newer} then {older}"
    return None


# --- fan-out: an index page names the records to ask for one by one --------------------

_INDEX_KEYS = {"order_items": "receipt_id", "returns": "receipt_id", "inventory": "listing_id"}


def _item_path(resource: str, index_path: str, ident: int) -> str:
    if resource == "inventory":
        return f"{APP}/listings/{ident}/inventory"
    tail = "transactions" if resource == "order_items" else "payments"
    return f"{index_path}/{ident}/{tail}"  # index_path: .../shops/{shop_id}/receipts


def _worth_visiting(resource: str, result: dict[str, Any]) -> bool:
    """Whether an index entry leads to records: a returns receipt only when it has
    refunds (or does not say: no ``refunds`` field)."""
    if resource != "returns" or "refunds" not in result:
        return True
    return result["refunds"] != []


def _fan_out(
    index: PageRequest, following: PageRequest, body: dict[str, Any]
) -> PageRequest | None:
    key = _INDEX_KEYS[index.resource]
    seen = set(index.state.get("previous", []))
    listed = [result[key] for result in body["results"]]
    wanted = {r[key] for r in body["results"] if _worth_visiting(index.resource, r)}
    ids = [ident for ident in dict.fromkeys(listed) if ident in wanted and ident not in seen]
    more = _next_offset(index, body)
    parent = {"path": index.path, "params": more, "previous": listed, "count": body["count"]}
    if index.resource == "returns":
        parent["refunds"] = _refunds_listed(body, set(ids))
    return _visit(following, parent, ids)


def _refunds_listed(body: dict[str, Any], ids: set[Any]) -> dict[str, int]:
    """Receipt id (text) -> how many refunds the index page lists for it, for the
    receipts of ``ids`` that say (a ``refunds`` list)."""
    return {
        str(r["receipt_id"]): len(r["refunds"])
        for r in body["results"]
        if r.get("receipt_id") in ids and isinstance(r.get("refunds"), list)
    }


def missing_adjustments(request: PageRequest, body: dict[str, Any]) -> str | None:
    """Why a returns visit's payments hold fewer adjustments than its receipt listed
    refunds (``state["refunds"]``: each refund is one payment adjustment; more may have
    come since the index page was read, never fewer), else None."""
    listed = request.state.get("refunds")
    if request.resource != "returns" or not isinstance(listed, int):
        return None
    adjustments = sum(len(p.get("payment_adjustments") or []) for p in body.get("results", []) if p)
    if adjustments < listed:
        receipt = request.path.rstrip("/").split("/")[-2]
        return (
            f"payment of receipt {receipt} holds {adjustments} adjustments, "
            f"its receipt lists {listed} refunds"
        )
    return None


def _visit(following: PageRequest, parent: dict[str, Any], ids: list[Any]) -> PageRequest | None:
    if ids:
        state = {"parent": parent, "pending": ids[1:]}
        listed = parent.get("refunds", {}).get(str(ids[0]))
        if listed is not None:
            state["refunds"] = listed
        path = _item_path(following.resource, parent["path"], ids[0])
        return following.model_copy(
            update={"path": path, "params": {}, "step": "page", "state": state}
        )
    if parent["params"] is None:
        return None
    return following.model_copy(
        update={
            "path": parent["path"],
            "params": parent["params"],
            "step": "index",
            "state": {"previous": parent["previous"], "count": parent["count"]},
        }
    )


def _after_item(request: PageRequest, following: PageRequest) -> PageRequest | None:
    return _visit(following, request.state["parent"], list(request.state["pending"]))
