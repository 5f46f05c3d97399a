"""eBay Sell API pages -> canonical records (pure). Field names from the eBay OpenAPI specs.

Inputs, one page each (JSON, or its text):

    orders, order_items, returns   Fulfillment getOrders ``OrderSearchPagedCollection``
                                   (``orders[]`` with ``lineItems[]``); returns are the
                                   orders' ``paymentSummary.refunds[]``
    transactions                   Finances getTransactions ``{"transactions": [...]}``
    payouts                        Finances getPayouts ``{"payouts": [...]}``
    inventory                      Inventory getInventoryItems ``{"inventoryItems": [...]}``

eBay omits empty arrays (and getTransactions answers 204 with no body): a page without its
array is empty when its ``total`` is absent or 0, and refused otherwise.

Natural keys:

    orders        orderId
    order_items   ``{orderId}|{lineItemId}``
    returns       refundId, else refundReferenceId. A refund with neither is not issued
                  yet and is skipped; it appears once eBay issues it (the order's
                  lastModifiedDate moves, so the daily sync sees it).
    transactions  ``{transactionId}:{transactionType}`` for the transaction's own component,
                  ``...:fee:{lineItemId}:{n}`` for the n-th marketplace fee of a line (or
                  ``...:fee`` for ``totalFeeAmount`` when no per-line fees are given)
    payouts       payoutId
    inventory     sku

Transactions: eBay's ``amount`` is the net effect (after fees) and ``bookingEntry`` says
whether it is a CREDIT (+) or DEBIT (-) to the seller. Each fee becomes a ``fee``
component of ``-|fee|`` on a CREDIT (fees taken) and ``+|fee|`` on a DEBIT (fees given
back with a refund); the transaction's own component is ``net - sum(fee components)``, so
the components of a transaction add up to eBay's net amount exactly.
"""

from __future__ import annotations

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
from shared.normalize._common import Context, Node, load_json, magnitude, scaled, sum_money

_KINDS: dict[str, TransactionKind] = {
    "SALE": "charge",
    "REFUND": "refund",
    "NON_SALE_CHARGE": "fee",
    "SHIPPING_LABEL": "fee",
    "WITHDRAWAL": "payout",
}
_SIGNS = {"CREDIT": 1, "DEBIT": -1}


def _page(ctx: Context, payload: dict | str) -> Node:
    page = ctx.node(load_json(ctx, payload) if isinstance(payload, str) else payload)
    if page.has("errors"):
        page.fail("errors", f"error response: {page.get('errors')!r}")
    return page


def _items(page: Node, key: str) -> list[Node]:
    if not page.has(key) and page.get("total") not in (None, 0):
        page.fail(key, f"is missing while total is {page.get('total')!r}")
    return page.objs(key)


def _amount(node: Node, key: str) -> Money | None:
    """eBay Amount ``{"value": "12.34", "currency": "USD"}``."""
    value = node.opt_obj(key)
    return value.money("value", "currency") if value else None


# --- orders, line items, refunds -------------------------------------------------------


def orders(ctx: Context, payload: dict | str) -> list[Order]:
    return [_order(ctx, o) for o in _items(_page(ctx, payload), "orders")]


def _order(ctx: Context, o: Node) -> Order:
    order_id = o.text("orderId")
    prices = o.opt_obj("pricingSummary") or ctx.node({}, o.at("pricingSummary"))
    cancel = o.opt_obj("cancelStatus")
    state = cancel.opt_text("cancelState") if cancel else None
    lines = o.objs("lineItems")
    discounts = [
        magnitude(_amount(prices, "priceDiscount")),
        magnitude(_amount(prices, "deliveryDiscount")),
    ]
    return ctx.make(
        Order,
        o.path,
        natural_key=order_id,
        order_id=order_id,
        created_at=o.instant("creationDate"),
        updated_at=o.opt_instant("lastModifiedDate"),
        status=o.opt_text("orderFulfillmentStatus"),
        payment_status=o.opt_text("orderPaymentStatus"),
        cancelled=state == "CANCELED" if state else None,
        marketplace=lines[0].opt_text("purchaseMarketplaceId") if lines else None,
        seller_reference=o.opt_text("salesRecordReference"),
        total=_amount(prices, "total"),
        subtotal=_amount(prices, "priceSubtotal"),
        tax=_amount(prices, "tax"),
        shipping=_amount(prices, "deliveryCost"),
        discount=sum_money(ctx, prices.path, discounts),
    )


def order_items(ctx: Context, payload: dict | str) -> list[OrderItem]:
    out = []
    for o in _items(_page(ctx, payload), "orders"):
        order_id, created = o.text("orderId"), o.instant("creationDate")
        out.extend(_item(ctx, order_id, created, li) for li in o.objs("lineItems"))
    return out


def _item(ctx: Context, order_id: str, created: datetime, li: Node) -> OrderItem:
    item_id = li.text("lineItemId")
    delivery = li.opt_obj("deliveryCost")
    taxes = [_amount(t, "amount") for t in li.objs("taxes")]
    promotions = [magnitude(_amount(p, "discountAmount")) for p in li.objs("appliedPromotions")]
    return ctx.make(
        OrderItem,
        li.path,
        natural_key=f"{order_id}|{item_id}",
        order_id=order_id,
        item_id=item_id,
        sku=li.opt_text("sku"),
        product_id=li.opt_text("legacyItemId"),
        title=li.opt_text("title"),
        quantity=li.integer("quantity"),
        line_price=_amount(li, "lineItemCost"),
        tax=sum_money(ctx, li.at("taxes"), taxes),
        shipping=_amount(delivery, "shippingCost") if delivery else None,
        discount=sum_money(ctx, li.at("appliedPromotions"), promotions),
        created_at=created,
    )


def returns(ctx: Context, payload: dict | str) -> list[Return]:
    out = []
    for o in _items(_page(ctx, payload), "orders"):
        summary = o.opt_obj("paymentSummary")
        for refund in summary.objs("refunds") if summary else []:
            refund_id = refund.opt_text("refundId") or refund.opt_text("refundReferenceId")
            if refund_id:
                out.append(_return(ctx, o, refund, refund_id))
    return out


def _return(ctx: Context, o: Node, refund: Node, refund_id: str) -> Return:
    lines = tuple(
        ReturnLine(
            order_item_id=li.text("lineItemId"), sku=li.opt_text("sku"), amount=_amount(r, "amount")
        )
        for li in o.objs("lineItems")
        for r in li.objs("refunds")
        if refund_id in (r.get("refundId"), r.get("refundReferenceId"))
    )
    return ctx.make(
        Return,
        refund.path,
        natural_key=refund_id,
        return_id=refund_id,
        order_id=o.text("orderId"),
        created_at=refund.instant("refundDate"),
        status=refund.opt_text("refundStatus"),
        refund_amount=_amount(refund, "amount"),
        lines=lines,
    )


# --- finances: transactions and payouts ------------------------------------------------


def transactions(ctx: Context, payload: dict | str) -> list[Transaction]:
    out: list[Transaction] = []
    for t in _items(_page(ctx, payload), "transactions"):
        out.extend(_components(ctx, t))
    return out


def _components(ctx: Context, t: Node) -> list[Transaction]:
    txn_id, txn_type = t.text("transactionId"), t.text("transactionType")
    entry = t.text("bookingEntry")
    if entry not in _SIGNS:
        t.fail("bookingEntry", f"expected CREDIT or DEBIT, got {entry!r}")
    sign, net = _SIGNS[entry], t.obj("amount").money("value", "currency")
    base = f"{txn_id}:{txn_type}"
    common = {
        "transaction_id": txn_id,
        "event_type": txn_type,
        "posted_at": t.instant("transactionDate"),
        "order_id": t.opt_text("orderId"),
        "payout_id": t.opt_text("payoutId"),
        "status": t.opt_text("transactionStatus"),
        "description": t.opt_text("transactionMemo"),
    }
    fees = [
        ctx.make(
            Transaction,
            path,
            natural_key=key,
            kind="fee",
            type=fee_type,
            amount=Money(amount=-sign * abs(fee.amount), currency=fee.currency),
            order_item_id=line_id,
            **common,
        )
        for path, key, fee_type, fee, line_id in _fees(t)
    ]
    signed_net = Money(amount=sign * net.amount, currency=net.currency)
    own = sum_money(ctx, t.path, [signed_net, *(scaled(f.amount, -1) for f in fees)])
    main = ctx.make(
        Transaction,
        t.path,
        natural_key=base,
        kind=_KINDS.get(txn_type, "adjustment"),
        type=t.opt_text("feeType") or txn_type,
        amount=own,
        **common,
    )
    return [main, *fees]


def _fees(t: Node) -> list[tuple[str, str, str, Money, str | None]]:
    """(path, natural key, fee type, fee, line item id) of each fee in the transaction."""
    base = f"{t.text('transactionId')}:{t.text('transactionType')}"
    out = []
    for line in t.objs("orderLineItems"):
        line_id = line.opt_text("lineItemId")
        for n, fee in enumerate(line.objs("marketplaceFees")):
            money = fee.obj("amount").money("value", "currency")
            key = f"{base}:fee:{line_id}:{n}"
            out.append((fee.path, key, fee.opt_text("feeType") or "fee", money, line_id))
    total = _amount(t, "totalFeeAmount")
    if not out and total is not None and total.amount != 0:
        out.append((t.at("totalFeeAmount"), f"{base}:fee", "totalFeeAmount", total, None))
    return out


def payouts(ctx: Context, payload: dict | str) -> list[Payout]:
    return [_payout(ctx, p) for p in _items(_page(ctx, payload), "payouts")]


def _payout(ctx: Context, p: Node) -> Payout:
    payout_id = p.text("payoutId")
    return ctx.make(
        Payout,
        p.path,
        natural_key=payout_id,
        payout_id=payout_id,
        status=p.opt_text("payoutStatus"),
        amount=p.obj("amount").money("value", "currency"),
        issued_at=p.instant("payoutDate"),
        bank_reference=p.opt_text("bankReference"),
    )


# --- inventory -------------------------------------------------------------------------


def inventory(ctx: Context, payload: dict | str) -> list[InventoryLevel]:
    return [_level(ctx, item) for item in _items(_page(ctx, payload), "inventoryItems")]


def _level(ctx: Context, item: Node) -> InventoryLevel:
    sku = item.text("sku")
    availability = item.opt_obj("availability")
    ship = availability.opt_obj("shipToLocationAvailability") if availability else None
    return ctx.make(
        InventoryLevel,
        item.path,
        natural_key=sku,
        sku=sku,
        available=ship.opt_integer("quantity") if ship else None,
    )
