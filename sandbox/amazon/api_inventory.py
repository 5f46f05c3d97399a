"""FBA Inventory v1: getInventorySummaries.

Required: granularityType=Marketplace, granularityId and marketplaceIds (one value, the same
marketplace). Optional: details (true adds inventoryDetails), startDateTime (summaries whose
lastUpdatedTime is at or after it; no earlier than 18 months ago), sellerSkus (up to 50) or
sellerSku. Pages of 50 summaries sorted by seller SKU; ``pagination.nextToken`` expires 30 s
after it was created (then 400 InvalidInput).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.amazon import paging
from sandbox.amazon.errors import invalid

if TYPE_CHECKING:
    from sandbox.amazon.app import Call, Reply

PAGE_SIZE = 50
TOKEN_SECONDS = 30
EIGHTEEN_MONTHS = 548 * 86_400


def _query(call: Call) -> dict[str, Any]:
    since = call.date("startDateTime")
    if since is not None and since < call.now - EIGHTEEN_MONTHS:
        raise invalid("startDateTime cannot be earlier than 18 months before the current time.")
    skus = call.params("sellerSkus")
    if len(skus) > 50:
        raise invalid("sellerSkus accepts at most 50 values.")
    if one := call.param("sellerSku"):
        skus = [one]
    details = (call.param("details") or "false").lower()
    if details not in ("true", "false"):
        raise invalid("details must be true or false.")
    return {"since": since, "skus": skus, "details": details == "true"}


def get_summaries(call: Call) -> Reply:
    if call.param("granularityType") != "Marketplace":
        raise invalid("granularityType is required and must be Marketplace.")
    market = call.param("granularityId")
    if not market:
        raise invalid("granularityId is required.")
    markets = call.params("marketplaceIds")
    if markets != [market]:
        raise invalid("marketplaceIds must hold exactly the marketplace given as granularityId.")
    token = call.param("nextToken")
    if token:
        state = paging.decode("getInventorySummaries", token, "nextToken")
        if call.now > state["expires"]:
            raise invalid("The nextToken has expired; tokens are valid for 30 seconds.")
        q, cursor = state["q"], state["cursor"]
    else:
        q, cursor = _query(call), None
    stocks = [
        s
        for s in call.data.stock.values()
        if s.sku.marketplace.marketplace_id == market
        and s.sku.launched <= call.now
        and (not q["skus"] or s.sku.sku in q["skus"])
        and (q["since"] is None or s.last_updated(call.now) >= q["since"])
    ]
    stocks.sort(key=lambda s: s.sku.sku)
    chunk, following = paging.page(call, stocks, lambda s: (s.sku.sku,), PAGE_SIZE, cursor)
    out: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": market},
            "inventorySummaries": [s.summary(call.now, q["details"]) for s in chunk],
        }
    }
    if following is not None:
        state = {"q": q, "cursor": following, "expires": call.now + TOKEN_SECONDS}
        out["pagination"] = {"nextToken": paging.encode("getInventorySummaries", state)}
    return 200, out
