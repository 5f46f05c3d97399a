"""The sandboxes' ground truth as natural keys, per (client, platform, resource).

A stored record is identified by its natural key (``shared.models.Record``), which the
app's normalizers derive from the platform's payloads. The ground truth is in the
platform's own shapes, so it is wrapped in the pages the API would serve and normalized
with the same normalizers. ``amazon_records`` and ``ebay_records`` take any view with
``truth(resource)``, ``account`` (and, for Amazon inventory, ``markets_by_sku()``): the
connector tests (``tests/platforms/<p>/support.py``) use them as their ``truth_records``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sandbox.amazon.reports import RETURNS_BY_DATE, render
from sandbox.world import World
from shared.models import Record
from shared.normalize import MEMO, normalize


class ClientView:
    """What the connector tests' ``truth_records(env, resource)`` read from their env."""

    def __init__(self, world: World, client_id: str, platform: str) -> None:
        self.world, self.client_id, self.platform = world, client_id, platform
        self.sandbox = world.platforms[platform]
        self.account = world.scenario.client(client_id).account(platform)

    def truth(self, resource: str) -> list[dict[str, Any]]:
        return self.world.ground_truth(self.client_id, self.platform, resource)

    def markets_by_sku(self) -> dict[str, str]:
        stock = self.sandbox.data(self.client_id).stock
        return {s.sku.sku: s.sku.marketplace.marketplace_id for s in stock.values()}


def amazon_records(view: Any, resource: str) -> list[Record]:
    """Amazon's ground truth of ``resource`` as canonical records (KeyError: unknown)."""
    rows, account = view.truth(resource), view.account
    if resource == "orders":
        return normalize("amazon", "orders", {"payload": {"Orders": rows}}, account=account)
    if resource == "order_items":
        pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in rows:
            pages[item["AmazonOrderId"]].append(
                {k: v for k, v in item.items() if k != "AmazonOrderId"}
            )
        created = {o["AmazonOrderId"]: o["PurchaseDate"] for o in view.truth("orders")}
        return [  # the items chain dates items by their order (scope: its PurchaseDate)
            r
            for oid, items in pages.items()
            for r in normalize(
                "amazon",
                "order_items",
                {"payload": {"AmazonOrderId": oid, "OrderItems": items}},
                account=account,
                scope=created.get(oid, ""),
            )
        ]
    if resource == "payouts":
        page = {"payload": {"FinancialEventGroupList": rows}}
        return normalize("amazon", "payouts", page, account=account)
    if resource == "transactions":
        out: list[Record] = []
        for event in rows:
            body = {
                k: v for k, v in event.items() if k not in ("FinancialEventGroupId", "EventList")
            }
            page = {"payload": {"FinancialEvents": {event["EventList"]: [body]}}}
            scope = event["FinancialEventGroupId"]
            out += normalize("amazon", "transactions", page, account=account, scope=scope)
        return out
    if resource == "inventory":
        markets = view.markets_by_sku()
        out = []
        for summary in rows:
            market = markets[summary["sellerSku"]]
            page = {
                "payload": {
                    "granularity": {"granularityType": "Marketplace", "granularityId": market},
                    "inventorySummaries": [summary],
                }
            }
            out += normalize("amazon", "inventory", page, account=account)
        return out
    if resource == "returns":
        text = render(RETURNS_BY_DATE, rows).decode()
        return normalize("amazon", "returns", text, account=account)
    raise KeyError(resource)


_EBAY_ENVELOPE = {
    "orders": "orders",
    "order_items": "orders",
    "returns": "orders",
    "transactions": "transactions",
    "payouts": "payouts",
    "inventory": "inventoryItems",
}


def ebay_records(view: Any, resource: str) -> list[Record]:
    """eBay's ground truth as canonical records. Items and returns are read from the
    ground truth's orders (the API nests them there); the connector tests check their
    keys against the ``order_items`` / ``returns`` ground truth."""
    source = "orders" if _EBAY_ENVELOPE[resource] == "orders" else resource
    rows = view.truth(source)
    page = {_EBAY_ENVELOPE[resource]: rows, "total": len(rows)}
    return normalize("ebay", resource, page, account=view.account)


def _conn(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"edges": [{"node": n} for n in nodes], "pageInfo": {"hasNextPage": False}}


def _shopify_page(view: ClientView, resource: str) -> dict[str, Any]:
    rows = view.truth(resource)
    if resource == "orders":
        return {"data": {"orders": _conn(rows)}}
    if resource in ("order_items", "returns"):
        key = "lineItems" if resource == "order_items" else "refunds"
        children: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            child = {k: v for k, v in row.items() if k != "orderId"}
            if isinstance(child.get("refundLineItems"), list):  # the API gives a connection
                child["refundLineItems"] = _conn(child["refundLineItems"])
            children[row["orderId"]].append(child)
        nodes = [
            {
                "id": o["id"],
                "createdAt": o["createdAt"],
                key: _conn(children[o["id"]]) if key == "lineItems" else children[o["id"]],
            }
            for o in view.truth("orders")
        ]
        return {"data": {"orders": _conn(nodes)}}
    if resource == "transactions":
        return {"data": {"shopifyPaymentsAccount": {"balanceTransactions": _conn(rows)}}}
    if resource == "payouts":
        return {"data": {"shopifyPaymentsAccount": {"payouts": _conn(rows)}}}
    items: dict[str, dict[str, Any]] = {}
    for level in rows:
        item = items.setdefault(level["item"]["id"], {**level["item"], "levels": []})
        item["levels"].append(level)
    nodes = [
        {"id": i["id"], "sku": i.get("sku"), "inventoryLevels": _conn(i["levels"])}
        for i in items.values()
    ]
    return {"data": {"inventoryItems": _conn(nodes)}}


def _shopify(view: ClientView, resource: str) -> list[Record]:
    return normalize("shopify", resource, _shopify_page(view, resource), account=view.account)


def _etsy(view: ClientView, resource: str) -> list[Record]:
    source = {"payouts": "transactions", "returns": "payments"}.get(resource, resource)
    rows = view.truth(source)
    if resource == "inventory":
        pages: list[Any] = rows  # one getListingInventory answer per listing
    else:
        if resource == "payouts":
            rows = [e for e in rows if e["ledger_type"] == "DISBURSE2"]
        pages = [{"count": len(rows), "results": rows}]
    return [r for page in pages for r in normalize("etsy", resource, page, account=view.account)]


def _quiltt(view: ClientView, resource: str) -> list[Record]:
    rows = view.truth(resource)
    page = {"data": {"transactions": {"count": len(rows), "nodes": rows}}}
    return normalize("quiltt", resource, page, account=view.account)


ADAPTERS: dict[str, Callable[[ClientView, str], list[Record]]] = {
    "amazon": amazon_records,
    "ebay": ebay_records,
    "shopify": _shopify,
    "etsy": _etsy,
    "quiltt": _quiltt,
}


def truth_keys(world: World, client_id: str, platform: str, resource: str) -> set[str]:
    """Natural keys of every record of ``resource`` the sandbox holds for the client now."""
    view = ClientView(world, client_id, platform)
    with MEMO.paused():  # the truth's pages never come back: no digest worth taking
        return {r.natural_key for r in ADAPTERS[platform](view, resource)}
