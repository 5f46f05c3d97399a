"""The resolvers of the Admin GraphQL schema: root fields over one shop's data at ``now``.

graphql-core's default resolver reads dict keys and calls callables with ``(info,
**args)``; node dicts come from ``views.py`` with their nested connections added as
callables here. In bulk mode (``Root.bulk``) every connection returns all its records
and paging arguments are ignored, as bulk operations do.

Searchable fields (``query:``): orders ``created_at``, ``updated_at``, ``processed_at``,
``id``, ``status`` (open / closed / cancelled / any; without it every order is listed, as
GraphQL does), ``financial_status`` (paid / partially_refunded / refunded),
``fulfillment_status`` (shipped / unshipped); balance transactions ``processed_at``
(= ``transactionDate``), ``payout_status``, ``transaction_type``; payouts ``issued_at``,
``status``; inventory items ``sku``, ``created_at``, ``updated_at``; inventory levels
``updated_at``. Unknown terms become ``extensions.search`` warnings (see ``search.py``).

``node(id:)`` and ``nodes(ids:)`` (at most 250 ids) resolve orders, inventory items,
locations and bulk operations by global id; an unknown id is null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from sandbox.shopify import paging, search, views
from sandbox.shopify.data import Order, Refund
from sandbox.shopify.search import DATE, NUMBER, TEXT

if TYPE_CHECKING:
    from sandbox.shopify.facade import ClientData

ORDER_FIELDS = {
    "created_at": DATE,
    "updated_at": DATE,
    "processed_at": DATE,
    "id": NUMBER,
    "status": TEXT,
    "financial_status": TEXT,
    "fulfillment_status": TEXT,
}
TXN_FIELDS = {"processed_at": DATE, "payout_status": TEXT, "transaction_type": TEXT}
PAYOUT_FIELDS = {"issued_at": DATE, "status": TEXT}
ITEM_FIELDS = {"sku": TEXT, "created_at": DATE, "updated_at": DATE}
LEVEL_FIELDS = {"updated_at": DATE}
MAX_NODES = 250  # ids one ``nodes`` query may ask for (S-LIM: input arrays)


def _args(kw: dict[str, Any]) -> paging.Args:
    return paging.Args(
        kw.get("first"), kw.get("after"), kw.get("last"), kw.get("before"), bool(kw.get("reverse"))
    )


@dataclass
class Root:
    """The root value of one GraphQL request for one shop."""

    data: ClientData
    shop_name: str
    now: float
    cap: int
    roll: Callable[..., bool]
    bulk: bool = False
    bulk_ops: Any = None  # the sandbox's BulkOperations (None inside a bulk run)
    version: str = ""
    searches: list[dict[str, Any]] = field(default_factory=list)

    # --- plumbing ----------------------------------------------------------------------
    def _connection(self, path: str, records, key, node, kw: dict[str, Any]) -> dict[str, Any]:
        if self.bulk:
            return paging.everything(records, key, node)
        args = _args(kw)
        paging.check(args, path, self.cap)
        ident = (path, *sorted(f"{k}={v}" for k, v in kw.items()))
        return paging.page(records, key, node, args, lambda kind: self.roll(kind, *ident))

    def _search(self, path: str, text: str | None, kinds: dict[str, str]) -> search.Search:
        parsed = search.parse(text, kinds)
        report = parsed.extension([path])
        if report and not self.bulk:
            self.searches.append(report)
        return parsed

    # --- orders ------------------------------------------------------------------------
    def _order_values(self, order: Order) -> Callable[[str], Any]:
        now = self.now

        def value(name: str) -> Any:
            if name in ("created_at", "processed_at"):
                return order.created
            if name == "updated_at":
                return order.updated_at(now)
            if name == "id":
                return order.order_id
            if name == "financial_status":
                return views.financial_status(order, now).lower()
            if name == "fulfillment_status":
                return "shipped" if views.fulfilled(order, now) else "unshipped"
            if order.cancelled is not None and order.cancelled <= now:
                return "cancelled"
            return "closed" if order.closed is not None and order.closed <= now else "open"

        return value

    def visible_orders(self, text: str | None, path: str = "orders") -> list[Order]:
        wanted = self._search(path, text, ORDER_FIELDS)
        wanted.tests = [test for test in wanted.tests if test[:1] + test[2:] != ("status", "any")]
        orders = self.data.orders_at(self.now)
        if not wanted.tests:
            return orders
        return [o for o in orders if search.matches(wanted, self._order_values(o))]

    def order_node(self, order: Order) -> dict[str, Any]:
        node = views.order_node(order, self.now)
        node["__typename"] = "Order"

        def line_items(_info: Any, **kw: Any) -> dict[str, Any]:
            return self._connection(
                "lineItems",
                list(enumerate(order.lines)),
                lambda il: (il[0], il[1].line_id),
                lambda il: views.line_node(order, il[1], self.now),
                {**kw, "order": order.order_id},
            )

        def refunds(_info: Any, first: int | None = None) -> list[dict[str, Any]]:
            chosen = views.refunds_at(order, self.now)
            return [
                self.refund_node(order, r) for r in chosen[:first] if first is None or first >= 0
            ]

        node["lineItems"] = line_items
        node["refunds"] = refunds
        return node

    def refund_node(self, order: Order, refund: Refund) -> dict[str, Any]:
        node = views.refund_node(order, refund)
        lines = node.pop("refundLineItems")
        node["__typename"] = "Refund"

        def refund_lines(_info: Any, **kw: Any) -> dict[str, Any]:
            return self._connection(
                "refundLineItems",
                list(enumerate(lines)),
                lambda il: (il[0], il[0]),
                lambda il: il[1],
                {**kw, "refund": refund.refund_id},
            )

        node["refundLineItems"] = refund_lines
        return node

    def orders(
        self, _info: Any, sortKey: str = "ID", query: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        orders = self.visible_orders(query)
        sort = {
            "ID": lambda o: (o.order_id, o.order_id),
            "CREATED_AT": lambda o: (o.created, o.order_id),
            "PROCESSED_AT": lambda o: (o.created, o.order_id),
            "UPDATED_AT": lambda o: (o.updated_at(self.now), o.order_id),
        }[sortKey]
        return self._connection(
            "orders", orders, sort, self.order_node, {**kw, "sortKey": sortKey, "query": query}
        )

    def ordersCount(
        self, _info: Any, query: str | None = None, limit: int | None = 10_000
    ) -> dict[str, Any]:
        n = len(self.visible_orders(query, "ordersCount"))
        if limit is not None and n > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": n, "precision": "EXACT"}

    def order(self, _info: Any, id: str) -> dict[str, Any] | None:
        found = self.data.order_by_gid(id, self.now)
        return self.order_node(found) if found else None

    def shop(self, _info: Any) -> dict[str, Any]:
        return {
            "id": views.gid("Shop", self.data.shop_id),
            "name": self.shop_name.replace("-", " ").title(),
            "myshopifyDomain": f"{self.shop_name}.myshopify.com",
            "currencyCode": views.SHOP_CURRENCY,
            "ianaTimezone": str(views.SHOP_ZONE),
        }

    # --- Shopify Payments ----------------------------------------------------------------
    def shopifyPaymentsAccount(self, _info: Any) -> dict[str, Any]:
        payments, now = self.data.payments, self.now

        def balance_transactions(_info: Any, query: str | None = None, **kw: Any) -> dict[str, Any]:
            wanted = self._search("balanceTransactions", query, TXN_FIELDS)
            txns = payments.visible(now)
            if wanted.tests:
                txns = payments.dated(txns, wanted.dates("processed_at"))
                txns = [t for t in txns if search.matches(wanted, self._txn_values(t))]
            return self._connection(
                "balanceTransactions",
                txns,
                lambda t: (t.at, t.txn_id),
                lambda t: {
                    **views.balance_node(t, now),
                    "__typename": "ShopifyPaymentsBalanceTransaction",
                },
                {**kw, "query": query},
            )

        def payouts(_info: Any, query: str | None = None, **kw: Any) -> dict[str, Any]:
            wanted = self._search("payouts", query, PAYOUT_FIELDS)
            chosen = [p for p in payments.payouts if p.issued <= now]
            if wanted.tests:
                chosen = [
                    p
                    for p in chosen
                    if search.matches(
                        wanted, lambda n, p=p: {"issued_at": p.issued, "status": p.status(now)}[n]
                    )
                ]
            return self._connection(
                "payouts",
                chosen,
                lambda p: (p.issued, p.payout_id),
                lambda p: {**views.payout_node(p, now), "__typename": "ShopifyPaymentsPayout"},
                {**kw, "query": query},
            )

        return {
            "__typename": "ShopifyPaymentsAccount",
            "id": views.gid("ShopifyPaymentsAccount", payments.account_id),
            "activated": True,
            "country": "US",
            "defaultCurrency": views.SHOP_CURRENCY,
            "balance": [views.money(self.data.balance_at(now))],
            "balanceTransactions": balance_transactions,
            "payouts": payouts,
        }

    def _txn_values(self, txn: Any) -> Callable[[str], Any]:
        """A balance transaction's searchable values, as its node shows them
        (``views.balance_node``), each computed only when a term asks for it."""
        now = self.now

        def value(name: str) -> Any:
            if name == "processed_at":
                return txn.at
            if name == "transaction_type":
                return txn.type
            if name == "payout_status":
                return views.payout_status(txn, now)
            raise KeyError(name)

        return value

    # --- inventory -----------------------------------------------------------------------
    def _levels(self, levels, path: str, query: str | None, kw: dict[str, Any]) -> dict[str, Any]:
        wanted = self._search(path, query, LEVEL_FIELDS)
        shown = [(lv, views.level_node(lv, self.now)) for lv in levels]
        shown = [(lv, n) for lv, n in shown if n is not None]
        if wanted.tests:
            shown = [
                (lv, n)
                for lv, n in shown
                if search.matches(wanted, lambda _, lv=lv: lv.at(self.now)[3])
            ]
        return self._connection(
            path,
            shown,
            lambda pair: (pair[0].level_id, pair[0].level_id),
            lambda pair: self._level_node(pair[1]),
            {**kw, "query": query},
        )

    def _level_node(self, node: dict[str, Any]) -> dict[str, Any]:
        quantities = node["quantities"]
        by_name = {q["name"]: q for q in quantities}
        location_id, item_id = node["location"]["id"], node["item"]["id"]
        return {
            **node,
            "__typename": "InventoryLevel",
            "quantities": lambda _info, names: [by_name[n] for n in names if n in by_name],
            "location": lambda _info: self._location_node(self.data.location_index(location_id)),
            "item": lambda _info: self._item_node(self.data.variant_by_item(item_id)),
        }

    def _item_node(self, variant: Any) -> dict[str, Any]:
        levels = self.data.levels_of_item(variant.inventory_item_id)
        node = views.item_node(variant, levels, self.now)
        node["__typename"] = "InventoryItem"
        node["inventoryLevels"] = lambda _info, query=None, **kw: self._levels(
            levels, "inventoryLevels", query, {**kw, "item": variant.inventory_item_id}
        )
        return node

    def _location_node(self, location: int) -> dict[str, Any]:
        node = views.location_node(location)
        node["__typename"] = "Location"
        levels = self.data.levels_at_location(location)
        node["inventoryLevels"] = lambda _info, query=None, **kw: self._levels(
            levels, "inventoryLevels", query, {**kw, "location": location}
        )
        return node

    def inventoryItems(self, _info: Any, query: str | None = None, **kw: Any) -> dict[str, Any]:
        wanted = self._search("inventoryItems", query, ITEM_FIELDS)
        items = [v for v in self.data.history.variants if v.created <= self.now]
        nodes = {v.variant_id: self._item_node(v) for v in items}
        if wanted.tests:
            items = [
                v
                for v in items
                if search.matches(
                    wanted,
                    lambda name, v=v: {
                        "sku": v.sku,
                        "created_at": v.created,
                        "updated_at": _epoch(nodes[v.variant_id]["updatedAt"]),
                    }[name],
                )
            ]
        return self._connection(
            "inventoryItems",
            items,
            lambda v: (v.inventory_item_id, v.inventory_item_id),
            lambda v: nodes[v.variant_id],
            {**kw, "query": query},
        )

    def inventoryItem(self, _info: Any, id: str) -> dict[str, Any] | None:
        variant = self.data.variant_by_item(id)
        return self._item_node(variant) if variant and variant.created <= self.now else None

    def locations(self, _info: Any, query: str | None = None, **kw: Any) -> dict[str, Any]:
        self._search("locations", query, {})
        return self._connection("locations", [0, 1], lambda i: (i, i), self._location_node, kw)

    def location(self, _info: Any, id: str | None = None) -> dict[str, Any] | None:
        index = 0 if id is None else self.data.location_index(id)
        return None if index is None else self._location_node(index)

    # --- nodes and bulk operations --------------------------------------------------------
    def node(self, info: Any, id: str) -> dict[str, Any] | None:
        kind = id.split("/")[3] if id.startswith("gid://shopify/") and id.count("/") >= 4 else None
        if kind == "Order":
            return self.order(info, id)
        if kind == "BulkOperation":
            return self.bulkOperation(info, id)
        if kind == "InventoryItem":
            return self.inventoryItem(info, id)
        if kind == "Location":
            return self.location(info, id)
        return None

    def nodes(self, info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
        """One node (or null) per id, in order; at most ``MAX_NODES`` ids (S-LIM: input
        arrays hold at most 250 items)."""
        if len(ids) > MAX_NODES:
            raise GraphQLError(
                f"The input array size of {len(ids)} is greater than the maximum allowed "
                f"of {MAX_NODES}."
            )
        return [self.node(info, i) for i in ids]

    def currentBulkOperation(self, _info: Any, type: str = "QUERY") -> dict[str, Any] | None:
        if self.bulk_ops is None or type != "QUERY":
            return None
        op = self.bulk_ops.current(self.shop_name)
        return op.node(self.now) if op else None

    def bulkOperation(self, _info: Any, id: str) -> dict[str, Any] | None:
        if self.bulk_ops is None:
            return None
        op = self.bulk_ops.get(self.shop_name, id)
        return op.node(self.now) if op else None

    def bulkOperationRunQuery(
        self, _info: Any, query: str, groupObjects: bool = False
    ) -> dict[str, Any]:
        if self.bulk_ops is None:
            raise GraphQLError("Bulk operations cannot be nested.")
        return self.bulk_ops.run(self.shop_name, self.version, query, self.now)

    def bulkOperationCancel(self, _info: Any, id: str) -> dict[str, Any]:
        if self.bulk_ops is None:
            raise GraphQLError("Bulk operations cannot be nested.")
        return self.bulk_ops.cancel(self.shop_name, id, self.now)


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
