"""Inventory API v1: getInventoryItems and getInventoryItem.

getInventoryItems (``GET /sell/inventory/v1/inventory_item``): ``limit`` 1..100 (default
100, ``inventory_max_limit``) and ``offset`` a PAGE NUMBER (0 = first page), as the spec
says; anything else 400 errorId 25706. The answer is ``{href, inventoryItems, limit, next,
prev, size, total}`` where ``size`` is the number of pages. Items are the SKUs launched by
now, in SKU order; quantities are the stock at now.

getInventoryItem (``/inventory_item/{sku}``): the item, or 404 errorId 25702.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sandbox.ebay.errors import EbayError, inventory
from sandbox.ebay.paging import integer, page
from sandbox.ebay.views import inventory_payload

if TYPE_CHECKING:
    from sandbox.ebay.app import Call, Reply
    from sandbox.ebay.inventory import Stock


def visible_stock(call: Call) -> list[Stock]:
    stock = call.data.stock
    return [stock[sku] for sku in sorted(stock) if stock[sku].sku.launched <= call.now]


def get_inventory_items(call: Call) -> Reply:
    def bad(value: str) -> EbayError:
        return inventory(25706, f"You have provided invalid pagination values. {value}.")

    max_limit = call.sandbox.policy.inventory_max_limit
    limit = integer(call.query.get("limit"), max_limit, 1, max_limit, bad)
    number = integer(call.query.get("offset"), 0, 0, 10**9, bad)
    items = visible_stock(call)
    chosen = page(call, items, number * limit, limit)
    total = len(items)
    body: dict[str, Any] = {
        "href": call.url(limit=limit, offset=number),
        "limit": limit,
        "size": math.ceil(total / limit),
        "total": total,
        "inventoryItems": [inventory_payload(s.sku, s.quantity(call.now)) for s in chosen.records],
    }
    if (number + 1) * limit < total and not chosen.lost_next:
        body["next"] = call.url(limit=limit, offset=number + 1)
    if number > 0:
        body["prev"] = call.url(limit=limit, offset=number - 1)
    return 200, body


def get_inventory_item(call: Call) -> Reply:
    sku = call.request.path_params["sku"]
    stock = call.data.stock.get(sku)
    if stock is None or stock.sku.launched > call.now:
        raise EbayError(
            404,
            25702,
            "API_INVENTORY",
            "REQUEST",
            f"{sku} could not be found or is not available in the system.",
            None,
            [("sku", sku)],
        )
    return 200, inventory_payload(stock.sku, stock.quantity(call.now))
