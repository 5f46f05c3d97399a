"""Shopify Admin API pages and bulk files -> canonical records (pure).

Inputs, one page or one bulk result each:

    orders, order_items, returns
        a GraphQL page ``{"data": {"orders": {"edges": [{"node": order}], "pageInfo"}}}``
        (``nodes`` instead of ``edges`` is accepted) with ``lineItems`` and ``refunds``
        nested; a ``nodes(ids:)`` answer ``{"data": {"nodes": [order | null]}}`` (the
        returns chain's details pages); a REST page ``{"orders": [...]}``
        (``/orders.json``); or the JSONL text of a bulk operation, where line items and
        refunds may be child lines carrying ``__parentId``. Items are the orders' line
        items; returns are their refunds.
    transactions  ``{"data": {"shopifyPaymentsAccount": {"balanceTransactions": conn}}}``
    payouts       ``{"data": {"shopifyPaymentsAccount": {"payouts": conn}}}``
    inventory     ``{"data": {"inventoryItems": conn}}`` with nested ``inventoryLevels``,
                  ``{"data": {"location": {"id", "inventoryLevels": conn}}}``, or REST
                  ``{"inventory_levels": [...]}``

A JSON page may be given as its text. A page whose GraphQL ``errors`` is non-empty is
refused (GraphQL returns partial data beside errors), and so is a nested connection that
says it has more pages (``lineItems``, ``refundLineItems``, ``inventoryLevels``): that
would be a partial result. Bulk lines of other types are ignored.

Money is the shop currency (``shopMoney`` of a MoneyBag; REST amounts with the order's
``currency``). REST times carry the shop's offset (``-05:00``) and become UTC. REST
order statuses become GraphQL's enum values (``fulfilled`` -> ``FULFILLED``, no
fulfilment status -> ``UNFULFILLED``, ``partially_refunded`` -> ``PARTIALLY_REFUNDED``).

Natural keys are GraphQL global ids, so REST, GraphQL and bulk loads agree: REST ids
become ``gid://shopify/<Type>/<id>`` (or ``admin_graphql_api_id``).

    orders        order gid
    order_items   ``{order gid}|{line item gid}``
    returns       refund gid
    transactions  balance transaction gid; its fee component ``{gid}:fee``
    payouts       payout gid
    inventory     ``{location gid}|{inventory item gid}``

A balance transaction yields its ``amount`` (kind by ``type``) and, when ``fee`` is
non-zero, a fee component of ``-fee``; together they add up to Shopify's ``net``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from shared.models import (
    InventoryLevel,
    Money,
    Order,
    OrderItem,
    Payout,
    Return,
    ReturnLine,
    Transaction,
    TransactionKind,
)
from shared.normalize._common import Context, Node, json_lines, magnitude, scaled, sum_money

_PAGE_KEYS = ("data", "errors", "orders", "inventory_levels")
_PAYOUT_TYPES = frozenset({"PAYOUT", "PAYOUT_FAILURE", "PAYOUT_CANCELLATION"})


@dataclass
class _OrderDoc:
    """An order with its line items and refunds, wherever the payload put them."""

    node: Node
    items: list[Node] = field(default_factory=list)
    refunds: list[tuple[Node, list[Node]]] = field(default_factory=list)


def _page(ctx: Context, payload: dict | str) -> Node | list[Node]:
    """A page as a Node, or a bulk JSONL file as its lines."""
    if isinstance(payload, str):
        try:
            whole = json.loads(payload)
        except json.JSONDecodeError:
            whole = None
        if not (isinstance(whole, dict) and any(k in whole for k in _PAGE_KEYS)):
            return json_lines(ctx, payload)
        payload = whole
    page = ctx.node(payload)
    if page.get("errors"):
        page.fail("errors", f"GraphQL errors: {page.get('errors')!r}")
    return page


def _data(ctx: Context, payload: dict | str) -> Node:
    page = _page(ctx, payload)
    if isinstance(page, list):
        ctx.fail("$", "expected a GraphQL page, got JSON lines")
    return page.obj("data")


def _gid(node: Node, kind: str, key: str = "id") -> str:
    """The GraphQL id of a REST object (``admin_graphql_api_id`` or built from ``id``)."""
    return node.opt_text("admin_graphql_api_id") or f"gid://shopify/{kind}/{node.ident(key)}"


def _bag(node: Node, key: str) -> Money | None:
    """A MoneyBag's ``shopMoney`` or a plain MoneyV2 ``{amount, currencyCode}``."""
    value = node.opt_obj(key)
    if value is None:
        return None
    shop = value.opt_obj("shopMoney") or value.opt_obj("shop_money")
    if shop is not None:
        return shop.money("amount", shop.pick("currencyCode", "currency_code"))
    return value.money("amount", "currencyCode")


def _no_more(node: Node, key: str) -> None:
    if node.truncated(key):
        node.fail(f"{key}.pageInfo.hasNextPage", "nested connection truncated: partial result")


# --- orders, items and refunds: gathering ----------------------------------------------


def _order_docs(ctx: Context, payload: dict | str) -> list[_OrderDoc] | list[Node]:
    """GraphQL or bulk orders as _OrderDocs; REST orders as plain Nodes."""
    page = _page(ctx, payload)
    if isinstance(page, list):
        return _bulk_docs(page)
    if not page.has("data"):
        return page.objs("orders", required=True)
    data = page.obj("data")
    docs = []
    for order in _nodes(data) if "nodes" in data.data else data.connection("orders"):
        _no_more(order, "lineItems")
        refunds = [(r, _refund_lines(r)) for r in order.objs("refunds")]
        docs.append(_OrderDoc(order, order.connection("lineItems", required=False), refunds))
    return docs


def _nodes(data: Node) -> list[Node]:
    """The orders of a ``nodes(ids:)`` answer; an id that found nothing is null."""
    found = data.req("nodes")
    if not isinstance(found, list):
        data.fail("nodes", f"expected an array, got {type(found).__name__}")
    return [data.ctx.node(o, f"{data.at('nodes')}[{i}]") for i, o in enumerate(found) if o]


def _refund_lines(refund: Node) -> list[Node]:
    _no_more(refund, "refundLineItems")
    if isinstance(refund.get("refundLineItems"), list):
        return refund.objs("refundLineItems")
    return refund.connection("refundLineItems", required=False)


def _bulk_docs(lines: list[Node]) -> list[_OrderDoc]:
    """Top-level lines must be orders; children (``__parentId``) that are line items,
    refunds or refund line items are attached; other children are not ours and ignored."""
    docs: dict[str, _OrderDoc] = {}
    refunds: dict[str, tuple[Node, list[Node]]] = {}
    children = [line for line in lines if line.has("__parentId")]
    for line in lines:
        if line.has("__parentId"):
            continue
        if _gid_type(line.get("id")) != "Order":
            line.fail("id", f"expected an order (gid://shopify/Order/...), got {line.get('id')!r}")
        refunds_inline = [(r, _refund_lines(r)) for r in line.objs("refunds")]
        docs[line.text("id")] = _OrderDoc(line, [], refunds_inline)
    for line in children:
        if _gid_type(line.get("id")) == "Refund":
            refunds[line.text("id")] = (line, [])
            _parent(docs, line).refunds.append(refunds[line.text("id")])
    for line in children:
        if _gid_type(line.get("id")) == "LineItem":
            _parent(docs, line).items.append(line)
        elif line.text("__parentId") in refunds:
            refunds[line.text("__parentId")][1].append(line)
    return list(docs.values())


def _gid_type(value: object) -> str | None:
    """``Order`` for ``gid://shopify/Order/1``; None for anything else."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    return value.split("/")[3]


def _parent(docs: dict[str, _OrderDoc], line: Node) -> _OrderDoc:
    parent = line.text("__parentId")
    if parent not in docs:
        line.fail("__parentId", f"parent {parent} is not an order line of this file")
    return docs[parent]


# --- orders, items and refunds: mapping ------------------------------------------------


def orders(ctx: Context, payload: dict | str) -> list[Order]:
    docs = _order_docs(ctx, payload)
    return [_order(ctx, d) if isinstance(d, _OrderDoc) else _rest_order(ctx, d) for d in docs]


def order_items(ctx: Context, payload: dict | str) -> list[OrderItem]:
    out: list[OrderItem] = []
    for doc in _order_docs(ctx, payload):
        if isinstance(doc, _OrderDoc):
            order_id, created = doc.node.text("id"), doc.node.opt_instant("createdAt")
            out.extend(_item(ctx, order_id, created, li) for li in doc.items)
        else:
            order_id, created = _gid(doc, "Order"), doc.instant("created_at")
            out.extend(_rest_item(ctx, doc, order_id, created, li) for li in doc.objs("line_items"))
    return out


def returns(ctx: Context, payload: dict | str) -> list[Return]:
    out: list[Return] = []
    for doc in _order_docs(ctx, payload):
        if isinstance(doc, _OrderDoc):
            order_id = doc.node.text("id")
            out.extend(_refund(ctx, order_id, r, lines) for r, lines in doc.refunds)
        else:
            out.extend(_rest_refund(ctx, doc, r) for r in doc.objs("refunds"))
    return out


def _order(ctx: Context, doc: _OrderDoc) -> Order:
    o = doc.node
    order_id = o.text("id")
    return ctx.make(
        Order,
        o.path,
        natural_key=order_id,
        order_id=order_id,
        created_at=o.instant("createdAt"),
        updated_at=o.opt_instant("updatedAt"),
        status=o.opt_text("displayFulfillmentStatus"),
        payment_status=o.opt_text("displayFinancialStatus"),
        cancelled=o.has("cancelledAt") if "cancelledAt" in o.data else None,
        seller_reference=o.opt_text("name"),
        total=_bag(o, "totalPriceSet"),
        subtotal=_bag(o, "subtotalPriceSet"),
        tax=_bag(o, "totalTaxSet"),
        shipping=_bag(o, "totalShippingPriceSet"),
        discount=magnitude(_bag(o, "totalDiscountsSet")),
    )


def _item(ctx: Context, order_id: str, created: datetime | None, li: Node) -> OrderItem:
    item_id, quantity = li.text("id"), li.integer("quantity")
    unit = _bag(li, "originalUnitPriceSet")
    variant = li.opt_obj("variant")
    taxes = [_bag(t, "priceSet") for t in li.objs("taxLines")]
    return ctx.make(
        OrderItem,
        li.path,
        natural_key=f"{order_id}|{item_id}",
        order_id=order_id,
        item_id=item_id,
        sku=li.opt_text("sku") or (variant.opt_text("sku") if variant else None),
        product_id=variant.opt_text("id") if variant else None,
        title=li.opt_text("title") or li.opt_text("name"),
        quantity=quantity,
        unit_price=unit,
        line_price=_bag(li, "originalTotalSet") or scaled(unit, quantity),
        tax=sum_money(ctx, li.at("taxLines"), taxes),
        discount=magnitude(_bag(li, "totalDiscountSet")),
        created_at=created,
    )


def _refund(ctx: Context, order_id: str, r: Node, lines: list[Node]) -> Return:
    refund_id = r.text("id")
    return ctx.make(
        Return,
        r.path,
        natural_key=refund_id,
        return_id=refund_id,
        order_id=order_id,
        created_at=r.instant("createdAt"),
        reason=r.opt_text("note"),
        refund_amount=_bag(r, "totalRefundedSet"),
        lines=tuple(_refund_line(rl) for rl in lines),
    )


def _refund_line(rl: Node) -> ReturnLine:
    item = rl.opt_obj("lineItem")
    return ReturnLine(
        order_item_id=item.opt_text("id") if item else None,
        sku=item.opt_text("sku") if item else None,
        quantity=rl.opt_integer("quantity"),
        amount=_bag(rl, "subtotalSet"),
    )


# --- REST orders.json ------------------------------------------------------------------


def _rest_money(node: Node, key: str, currency: str) -> Money | None:
    return node.ctx.money(node.at(key), node.decimal(key), currency) if node.has(key) else None


# REST statuses in GraphQL's vocabulary (OrderDisplayFulfillmentStatus /
# OrderDisplayFinancialStatus), so that every path gives an order the same status.
# REST ``financial_status`` values are the GraphQL ones in lower case.
_REST_FULFILLMENT = {
    None: "UNFULFILLED",
    "partial": "PARTIALLY_FULFILLED",
    "fulfilled": "FULFILLED",
    "restocked": "RESTOCKED",
}


def _rest_order(ctx: Context, o: Node) -> Order:
    order_id, currency = _gid(o, "Order"), o.currency("currency")
    return ctx.make(
        Order,
        o.path,
        natural_key=order_id,
        order_id=order_id,
        created_at=o.instant("created_at"),
        updated_at=o.opt_instant("updated_at"),
        status=_REST_FULFILLMENT.get(
            o.opt_text("fulfillment_status"), o.opt_text("fulfillment_status")
        ),
        payment_status=(o.opt_text("financial_status") or "").upper() or None,
        cancelled=o.has("cancelled_at") if "cancelled_at" in o.data else None,
        seller_reference=o.opt_text("name"),
        total=_rest_money(o, "total_price", currency),
        subtotal=_rest_money(o, "subtotal_price", currency),
        tax=_rest_money(o, "total_tax", currency),
        shipping=_bag(o, "total_shipping_price_set"),
        discount=magnitude(_rest_money(o, "total_discounts", currency)),
    )


def _rest_item(
    ctx: Context, o: Node, order_id: str, created: datetime | None, li: Node
) -> OrderItem:
    currency, item_id = o.currency("currency"), _gid(li, "LineItem")
    quantity, unit = li.integer("quantity"), _rest_money(li, "price", currency)
    taxes = [_rest_money(t, "price", currency) for t in li.objs("tax_lines")]
    variant = li.opt_ident("variant_id")
    return ctx.make(
        OrderItem,
        li.path,
        natural_key=f"{order_id}|{item_id}",
        order_id=order_id,
        item_id=item_id,
        sku=li.opt_text("sku"),
        product_id=f"gid://shopify/ProductVariant/{variant}" if variant else None,
        title=li.opt_text("title") or li.opt_text("name"),
        quantity=quantity,
        unit_price=unit,
        line_price=scaled(unit, quantity),
        tax=sum_money(ctx, li.at("tax_lines"), taxes),
        discount=magnitude(_rest_money(li, "total_discount", currency)),
        created_at=created,
    )


def _rest_refund(ctx: Context, o: Node, r: Node) -> Return:
    currency, refund_id = o.currency("currency"), _gid(r, "Refund")
    paid = [
        _rest_money(t, "amount", t.opt_text("currency") or currency)
        for t in r.objs("transactions")
        if t.get("kind") == "refund" and t.get("status") in (None, "success")
    ]
    lines = tuple(
        ReturnLine(
            order_item_id=f"gid://shopify/LineItem/{rl.ident('line_item_id')}",
            sku=rl.obj("line_item").opt_text("sku") if rl.has("line_item") else None,
            quantity=rl.opt_integer("quantity"),
            amount=_rest_money(rl, "subtotal", currency),
        )
        for rl in r.objs("refund_line_items")
    )
    return ctx.make(
        Return,
        r.path,
        natural_key=refund_id,
        return_id=refund_id,
        order_id=_gid(o, "Order"),
        created_at=r.instant("created_at"),
        reason=r.opt_text("note"),
        refund_amount=sum_money(ctx, r.at("transactions"), paid),
        lines=lines,
    )


# --- Shopify Payments: balance transactions and payouts --------------------------------


def _balance_kind(kind: str) -> TransactionKind:
    if kind == "CHARGE":
        return "charge"
    if kind == "REFUND":
        return "refund"
    if kind in _PAYOUT_TYPES:
        return "payout"
    return "fee" if "FEE" in kind else "adjustment"


def transactions(ctx: Context, payload: dict | str) -> list[Transaction]:
    account = _data(ctx, payload).obj("shopifyPaymentsAccount")
    out: list[Transaction] = []
    for node in account.connection("balanceTransactions"):
        out.extend(_balance(ctx, node))
    return out


def _balance(ctx: Context, n: Node) -> list[Transaction]:
    txn_id, kind = n.text("id"), n.text("type")
    payout, order = n.opt_obj("associatedPayout"), n.opt_obj("associatedOrder")
    common = {
        "transaction_id": txn_id,
        "event_type": kind,
        "posted_at": n.instant("transactionDate"),
        "order_id": order.opt_text("id") if order else None,
        "payout_id": payout.opt_text("id") if payout else None,
        "status": payout.opt_text("status") if payout else None,
    }
    amount = _bag(n, "amount")
    if amount is None:
        n.fail("amount", "is missing")
    main = {"natural_key": txn_id, "kind": _balance_kind(kind), "type": kind, "amount": amount}
    out = [ctx.make(Transaction, n.path, **main, **common)]
    fee = _bag(n, "fee")
    if fee is not None and fee.amount != 0:
        parts = {"natural_key": f"{txn_id}:fee", "kind": "fee", "type": "fee"}
        out.append(ctx.make(Transaction, n.at("fee"), **parts, amount=scaled(fee, -1), **common))
    return out


def payouts(ctx: Context, payload: dict | str) -> list[Payout]:
    account = _data(ctx, payload).obj("shopifyPaymentsAccount")
    return [_payout(ctx, p) for p in account.connection("payouts")]


def _payout(ctx: Context, p: Node) -> Payout:
    payout_id = p.text("id")
    return ctx.make(
        Payout,
        p.path,
        natural_key=payout_id,
        payout_id=payout_id,
        status=p.opt_text("status"),
        amount=_bag(p, "net"),
        issued_at=p.instant("issuedAt"),
    )


# --- inventory -------------------------------------------------------------------------


def inventory(ctx: Context, payload: dict | str) -> list[InventoryLevel]:
    page = _page(ctx, payload)
    if isinstance(page, list):
        ctx.fail("$", "expected an inventory page, got JSON lines")
    if not page.has("data"):
        return [_rest_level(ctx, lv) for lv in page.objs("inventory_levels", required=True)]
    data, out = page.obj("data"), []
    if data.has("location"):
        location = data.obj("location")
        _no_more(location, "inventoryLevels")
        for level in location.connection("inventoryLevels"):
            item = level.obj("item")
            out.append(_level(ctx, level, location.text("id"), item))
        return out
    for item in data.connection("inventoryItems"):
        _no_more(item, "inventoryLevels")
        for level in item.connection("inventoryLevels", required=False):
            out.append(_level(ctx, level, level.obj("location").text("id"), item))
    return out


def _level(ctx: Context, level: Node, location_id: str, item: Node) -> InventoryLevel:
    counts = {q.text("name"): q.integer("quantity") for q in level.objs("quantities")}
    item_id = item.text("id")
    return ctx.make(
        InventoryLevel,
        level.path,
        natural_key=f"{location_id}|{item_id}",
        sku=item.opt_text("sku"),
        product_id=item_id,
        location_id=location_id,
        available=counts.get("available", level.opt_integer("available")),
        total=counts.get("on_hand"),
        reserved=counts.get("reserved"),
        inbound=counts.get("incoming"),
        updated_at=level.opt_instant("updatedAt"),
    )


def _rest_level(ctx: Context, lv: Node) -> InventoryLevel:
    item_id = f"gid://shopify/InventoryItem/{lv.ident('inventory_item_id')}"
    location_id = f"gid://shopify/Location/{lv.ident('location_id')}"
    return ctx.make(
        InventoryLevel,
        lv.path,
        natural_key=f"{location_id}|{item_id}",
        product_id=item_id,
        location_id=location_id,
        available=lv.opt_integer("available"),
        updated_at=lv.opt_instant("updated_at"),
    )
