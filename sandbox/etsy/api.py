"""The Etsy methods the connectors use. Lists answer ``{"count": total, "results": […]}``
with ``limit`` 1..100 (default 25) and ``offset`` >= 0; bad values answer 400.

getShopReceipts: ``min_created``/``max_created``/``min_last_modified``/
``max_last_modified`` (unix seconds >= 946684800, inclusive), ``was_paid``,
``was_shipped``; newest first (create_timestamp, then receipt_id, descending). Without a
date criterion: every receipt. Each receipt served may be hit by ``updated_during_sync``:
it then changes 1-600 s after the request (``message_from_seller`` set, update moved).

getShopReceiptTransactionsByShop / ByReceipt: the receipts' transactions, newest first.

getShopPaymentAccountLedgerEntries: ``min_created`` and ``max_created`` are required and
may be at most 31 days (2,678,400 s, ``ledger_window_s``) apart; newest first
(create_date, then sequence_number, descending).

Payments: by receipt, by ``payment_ids`` or by ``ledger_entry_ids`` (comma-separated).
Listings: findAllActiveListingsByShop (every listing created by now, oldest first),
getListingInventory, and getListingsByShop (Etsy's current API): ``state`` (default
``active``; every listing here is active, so another state lists none), ``sort_on``
``created`` / ``updated`` / ``price`` / ``score`` (default created; score as created),
``sort_order`` (default desc), ``includes`` (comma-separated or repeated; ``Inventory``
attaches each listing's ListingInventory as ``inventory``; the other associations Etsy
offers are refused with a 400: this sandbox does not serve them). Page faults:
``short_page`` (one result fewer, ``count`` unchanged) and ``duplicate`` (a page after
the first repeats the previous page's last result).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.etsy.errors import EtsyError
from sandbox.etsy.views import (
    inventory_payload,
    ledger_payload,
    listing_payload,
    payment_payload,
    receipt_payload,
    transaction_payload,
)

if TYPE_CHECKING:
    from sandbox.etsy.app import Call, Reply
    from sandbox.etsy.data import Receipt

EARLIEST = 946_684_800


def _int(call: Call, name: str, default: int | None, low: int, high: int | None = None):
    raw = call.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise EtsyError(400, f"Expected int for {name}, got {raw!r}.") from exc
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise EtsyError(400, f"{name} must be {bound}, got {value}.")
    return value


def _bool(call: Call, name: str) -> bool | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise EtsyError(400, f"Expected boolean for {name}, got {raw!r}.")


def _ids(call: Call, name: str) -> set[int]:
    raw = call.query.get(name)
    if not raw:
        raise EtsyError(400, f"Missing required parameter: {name}")
    try:
        return {int(v) for v in raw.split(",") if v.strip()}
    except ValueError as exc:
        raise EtsyError(400, f"Expected a comma-separated list of ints for {name}.") from exc


def _page(call: Call, records: list[Any]) -> tuple[list[Any], int]:
    limit = _int(call, "limit", 25, 1, call.sandbox.policy.max_limit)
    offset = _int(call, "offset", 0, 0)
    chosen = records[offset : offset + limit]
    if len(chosen) >= 2 and call.roll("short_page"):
        chosen = chosen[:-1]
    elif 0 < offset <= len(records) and chosen and call.roll("duplicate"):
        chosen = [records[offset - 1], *chosen]
    return chosen, len(records)


def _visible(call: Call) -> list[Receipt]:
    return call.sandbox.visible_receipts(call.data, call.now)


def _receipt(call: Call) -> Receipt:
    receipt_id = call.request.path_params["receipt_id"]
    for receipt in _visible(call):
        if str(receipt.receipt_id) == receipt_id:
            return receipt
    raise EtsyError(404, f"Could not find a receipt with receipt_id = {receipt_id}")


def ping(call: Call) -> Reply:
    return 200, {"application_id": call.sandbox.application_id}


def get_receipts(call: Call) -> Reply:
    bounds = {
        name: _int(call, name, None, EARLIEST)
        for name in ("min_created", "max_created", "min_last_modified", "max_last_modified")
    }
    paid, shipped = _bool(call, "was_paid"), _bool(call, "was_shipped")
    low_modified, high_modified = bounds["min_last_modified"], bounds["max_last_modified"]
    receipts = []
    for receipt in call.sandbox.receipts_created(
        call.data, call.now, bounds["min_created"], bounds["max_created"]
    ):
        if low_modified is not None or high_modified is not None:
            modified = receipt.last_modified(call.now)
            if (low_modified is not None and modified < low_modified) or (
                high_modified is not None and modified > high_modified
            ):
                continue
        is_shipped = receipt.shipped is not None and receipt.shipped <= call.now
        if paid is False or (shipped is not None and shipped != is_shipped):
            continue
        receipts.append(receipt)
    receipts.sort(key=lambda r: (r.created, r.receipt_id), reverse=True)
    chosen, count = _page(call, receipts)
    seller = call.data.history.user_id
    results = []
    for receipt in chosen:
        results.append(receipt_payload(receipt, call.now, seller))
        if call.roll("updated_during_sync", receipt.receipt_id):
            faults = call.sandbox.world.faults
            delay = 1 + int(599 * faults.uniform("etsy", "touch", receipt.receipt_id))
            receipt.touch(int(call.now) + delay)
    return 200, {"count": count, "results": results}


def get_receipt(call: Call) -> Reply:
    return 200, receipt_payload(_receipt(call), call.now, call.data.history.user_id)


def _transactions(call: Call, receipts: list[Receipt]) -> list[dict[str, Any]]:
    seller = call.data.history.user_id
    return [transaction_payload(r, line, call.now, seller) for r in receipts for line in r.lines]


def get_receipt_transactions(call: Call) -> Reply:
    results = _transactions(call, [_receipt(call)])
    return 200, {"count": len(results), "results": results}


def get_shop_transactions(call: Call) -> Reply:
    lines = call.sandbox.visible_lines_newest_first(call.data, call.now)
    chosen, count = _page(call, lines)
    seller = call.data.history.user_id
    results = [transaction_payload(r, line, call.now, seller) for r, line in chosen]
    return 200, {"count": count, "results": results}


def _payments(call: Call, receipts: list[Receipt]) -> Reply:
    data = call.data
    results = [
        payment_payload(r, call.now, data.history.shop_id, data.history.user_id) for r in receipts
    ]
    return 200, {"count": len(results), "results": results}


def get_receipt_payments(call: Call) -> Reply:
    return _payments(call, [_receipt(call)])


def get_payments(call: Call) -> Reply:
    wanted = _ids(call, "payment_ids")
    return _payments(call, [r for r in _visible(call) if r.payment_id in wanted])


def _entries(call: Call) -> list[Any]:
    return call.sandbox.visible_entries(call.data, call.now)


def get_ledger_entries(call: Call) -> Reply:
    low = _int(call, "min_created", None, EARLIEST)
    high = _int(call, "max_created", None, EARLIEST)
    if low is None or high is None:
        missing = "min_created" if low is None else "max_created"
        raise EtsyError(400, f"Missing required parameter: {missing}")
    window = call.sandbox.policy.ledger_window_s
    if high - low > window:
        raise EtsyError(
            400,
            f"Time window between min_created and max_created must be no more than {window} "
            f"seconds ({window // 86_400} days).",
        )
    if low > high:
        raise EtsyError(400, "min_created must be less than or equal to max_created.")
    entries = call.sandbox.entries_between(call.data, call.now, low, high)
    entries.sort(key=lambda e: (e.at, e.sequence), reverse=True)
    chosen, count = _page(call, entries)
    ledger_id = call.data.ledger.ledger_id
    return 200, {"count": count, "results": [ledger_payload(e, ledger_id) for e in chosen]}


def get_ledger_entry_payments(call: Call) -> Reply:
    wanted = _ids(call, "ledger_entry_ids")
    receipts: dict[int, Receipt] = {}
    for entry in _entries(call):
        if entry.entry_id in wanted and entry.receipt is not None:
            receipts[entry.receipt.receipt_id] = entry.receipt
    return _payments(call, list(receipts.values()))


def get_active_listings(call: Call) -> Reply:
    data, now = call.data, call.now
    stocks = [s for s in data.stock.values() if s.listing.created <= now]
    stocks.sort(key=lambda s: (s.listing.created, s.listing.listing_id))
    chosen, count = _page(call, stocks)
    shop, user = data.history.shop_id, data.history.user_id
    results = [listing_payload(s.listing, s.quantity(now), now, shop, user) for s in chosen]
    return 200, {"count": count, "results": results}


def get_listing_inventory(call: Call) -> Reply:
    listing_id = call.request.path_params["listing_id"]
    stock = next(
        (s for s in call.data.stock.values() if str(s.listing.listing_id) == listing_id), None
    )
    if stock is None or stock.listing.created > call.now:
        raise EtsyError(404, f"Could not find a Listing with listing_id = {listing_id}")
    return 200, inventory_payload(stock.listing, stock.quantity(call.now))


LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")
LISTING_SORTS = ("created", "updated", "price", "score")
SORT_ORDERS = {"asc": False, "ascending": False, "up": False}
SORT_ORDERS |= {"desc": True, "descending": True, "down": True}
INCLUDES = ("Shipping", "Images", "Shop", "User", "Translations", "Videos", "Inventory")
INCLUDES += ("Personalization",)


def _choice(call: Call, name: str, default: str, allowed) -> str:
    value = call.query.get(name) or default
    if value not in allowed:
        raise EtsyError(400, f"{name} must be one of {', '.join(allowed)}, got {value!r}.")
    return value


def _includes(call: Call) -> set[str]:
    names = {n.strip() for raw in call.query.getlist("includes") for n in raw.split(",")}
    names.discard("")
    unknown = sorted(names - set(INCLUDES))
    if unknown:
        raise EtsyError(400, f"includes must be among {', '.join(INCLUDES)}, got {unknown}.")
    unserved = sorted(names - {"Inventory"})
    if unserved:
        raise EtsyError(400, f"this sandbox serves no {', '.join(unserved)} association.")
    return names


_SORT_KEYS = {
    "created": lambda listing: listing["original_creation_timestamp"],
    "score": lambda listing: listing["original_creation_timestamp"],
    "updated": lambda listing: listing["last_modified_timestamp"],
    "price": lambda listing: listing["price"]["amount"],
}


def get_shop_listings(call: Call) -> Reply:
    """getListingsByShop. "created" sorts by first creation (a renewal does not move a
    listing while it is paged through)."""
    data, now = call.data, call.now
    state = _choice(call, "state", "active", LISTING_STATES)
    sort_key = _SORT_KEYS[_choice(call, "sort_on", "created", LISTING_SORTS)]
    descending = SORT_ORDERS[_choice(call, "sort_order", "desc", tuple(SORT_ORDERS))]
    with_inventory = "Inventory" in _includes(call)
    shop, user = data.history.shop_id, data.history.user_id
    rows = [
        (listing_payload(s.listing, s.quantity(now), now, shop, user), s)
        for s in data.stock.values()
        if s.listing.created <= now and state == "active"
    ]
    rows.sort(key=lambda row: (sort_key(row[0]), row[0]["listing_id"]), reverse=descending)
    chosen, count = _page(call, rows)
    results = [
        {**listing, "inventory": inventory_payload(s.listing, s.quantity(now))}
        if with_inventory
        else listing
        for listing, s in chosen
    ]
    return 200, {"count": count, "results": results}
