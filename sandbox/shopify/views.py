"""What the Shopify Admin API shows of the history at an instant ``t`` (epoch s, UTC).

Two dialects of the same records:

* GraphQL (``*_node``): ids are GIDs (``gid://shopify/Order/5600000000123``),
  ``DateTime`` is ISO 8601 UTC with ``Z``, money is a ``MoneyBag`` ``{shopMoney,
  presentmentMoney}`` of ``MoneyV2 {amount: Decimal string, currencyCode}``; Decimals are
  printed as Shopify prints them (``"10.0"``, ``"12.34"``); ``UnsignedInt64`` is a string.
* REST (``rest_order``): integer ids plus ``admin_graphql_api_id``, times in the shop's
  zone with its offset (``2026-03-01T09:15:00-05:00``, America/New_York, so both -05:00
  and -04:00 occur), money as two-decimal strings beside ``currency``.

Nested connections (line items, refund line items) are plain lists here; the resolvers
page them. Every builder is pure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.shopify.data import CAD_RATE, Line, Order, Refund, RefundLine, Variant
from sandbox.shopify.payments import BalanceTxn, Payout
from sandbox.shopify.stock import LOCATIONS, Level

SHOP_ZONE = ZoneInfo("America/New_York")
SHOP_CURRENCY = "USD"


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


@lru_cache(maxsize=65_536, typed=True)  # pure; every page formats the same instants again
def utc(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, SHOP_ZONE).isoformat()


@lru_cache(maxsize=65_536, typed=True)  # pure; amounts repeat over nodes and pages
def decimal(cents: int) -> str:
    """Shopify's Decimal text: ``1000 -> "10.0"``, ``1234 -> "12.34"``, ``-50 -> "-0.5"``."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    whole, frac = divmod(cents, 100)
    tail = f"{frac:02d}".rstrip("0") or "0"
    return f"{sign}{whole}.{tail}"


def rest_money(cents: int) -> str:
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def money(cents: int, currency: str = SHOP_CURRENCY) -> dict[str, str]:
    return {"amount": decimal(cents), "currencyCode": currency}


def presented(cents: int, currency: str) -> int:
    return cents if currency == SHOP_CURRENCY else round(cents * CAD_RATE)


def bag(cents: int, currency: str) -> dict[str, Any]:
    return {
        "shopMoney": money(cents),
        "presentmentMoney": money(presented(cents, currency), currency),
    }


def rest_bag(cents: int, currency: str) -> dict[str, Any]:
    def one(c: int, cur: str) -> dict[str, str]:
        return {"amount": rest_money(c), "currency_code": cur}

    return {
        "shop_money": one(cents, SHOP_CURRENCY),
        "presentment_money": one(presented(cents, currency), currency),
    }


# --- order state at t ------------------------------------------------------------------


def refunds_at(order: Order, t: float) -> list[Refund]:
    return [r for r in order.refunds if r.at <= t]


def refunded(order: Order, t: float) -> int:
    return sum(r.amount for r in refunds_at(order, t))


def financial_status(order: Order, t: float) -> str:
    back = refunded(order, t)
    if back == 0:
        return "PAID"
    return "REFUNDED" if back >= order.total else "PARTIALLY_REFUNDED"


def fulfilled(order: Order, t: float) -> bool:
    return order.fulfilled is not None and order.fulfilled <= t


def returned_quantity(order: Order, line: Line, t: float) -> int:
    return sum(rl.quantity for r in refunds_at(order, t) for rl in r.lines if rl.line is line)


def _when(at: int | None, t: float) -> int | None:
    return at if at is not None and at <= t else None


TOUCH_NOTE = "Gift wrap requested by the customer."


def order_node(order: Order, t: float) -> dict[str, Any]:
    """The Order's own fields (no lineItems / refunds)."""
    cur = order.currency
    cancelled = _when(order.cancelled, t)
    return {
        "id": gid("Order", order.order_id),
        "legacyResourceId": str(order.order_id),
        "name": f"#{order.number}",
        "createdAt": utc(order.created),
        "updatedAt": utc(order.updated_at(t)),
        "processedAt": utc(order.created),
        "closedAt": utc(_when(order.closed, t)),
        "cancelledAt": utc(cancelled),
        "cancelReason": "CUSTOMER" if cancelled else None,
        "closed": _when(order.closed, t) is not None,
        "test": False,
        "note": TOUCH_NOTE if any(x <= t for x in order.touches) else None,
        "currencyCode": SHOP_CURRENCY,
        "presentmentCurrencyCode": cur,
        "displayFinancialStatus": financial_status(order, t),
        "displayFulfillmentStatus": "FULFILLED" if fulfilled(order, t) else "UNFULFILLED",
        "subtotalPriceSet": bag(order.subtotal, cur),
        "totalDiscountsSet": bag(order.discount, cur),
        "totalShippingPriceSet": bag(order.shipping, cur),
        "totalTaxSet": bag(order.tax, cur),
        "totalPriceSet": bag(order.total, cur),
        "totalRefundedSet": bag(refunded(order, t), cur),
        "currentTotalPriceSet": bag(order.total - refunded(order, t), cur),
    }


def variant_node(variant: Variant) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", variant.variant_id),
        "legacyResourceId": str(variant.variant_id),
        "sku": variant.sku,
        "title": variant.option,
        "price": decimal(variant.price),
    }


def line_node(order: Order, line: Line, t: float) -> dict[str, Any]:
    cur, v = order.currency, line.variant
    rate = line.tax_bp / 10_000
    return {
        "id": gid("LineItem", line.line_id),
        "name": f"{v.title} - {v.option}",
        "title": v.title,
        "variantTitle": v.option,
        "sku": v.sku,
        "vendor": "Tributary Test Goods",
        "quantity": line.quantity,
        "currentQuantity": line.quantity - returned_quantity(order, line, t),
        "requiresShipping": True,
        "originalUnitPriceSet": bag(line.price, cur),
        "originalTotalSet": bag(line.gross, cur),
        "discountedTotalSet": bag(line.gross - line.discount, cur),
        "totalDiscountSet": bag(line.discount, cur),
        "taxLines": [
            {
                "title": "Sales Tax",
                "rate": rate,
                "ratePercentage": round(rate * 100, 4),
                "priceSet": bag(line.tax, cur),
            }
        ]
        if line.tax_bp
        else [],
        "variant": variant_node(v),
    }


def refund_line_node(order: Order, rl: RefundLine, cancelled: bool) -> dict[str, Any]:
    cur = order.currency
    unit = (rl.line.gross - rl.line.discount) // rl.line.quantity
    return {
        "quantity": rl.quantity,
        "restockType": "CANCEL" if cancelled else "RETURN",
        "restocked": cancelled,
        "lineItem": {"id": gid("LineItem", rl.line.line_id), "sku": rl.line.variant.sku},
        "priceSet": bag(unit, cur),
        "subtotalSet": bag(rl.subtotal, cur),
        "totalTaxSet": bag(rl.tax, cur),
    }


def refund_node(order: Order, refund: Refund) -> dict[str, Any]:
    """A Refund with its refundLineItems as a plain list."""
    cancelled = order.cancelled == refund.at
    return {
        "id": gid("Refund", refund.refund_id),
        "legacyResourceId": str(refund.refund_id),
        "createdAt": utc(refund.at),
        "updatedAt": utc(refund.at),
        "note": refund.note or None,
        "totalRefundedSet": bag(refund.amount, order.currency),
        "refundLineItems": [refund_line_node(order, rl, cancelled) for rl in refund.lines],
    }


# --- Shopify Payments ------------------------------------------------------------------


def payout_node(payout: Payout, t: float) -> dict[str, Any]:
    def pair(kind: str) -> dict[str, Any]:
        return {"gross": money(payout.gross(kind)), "fee": money(payout.fees(kind))}

    charges, refunds = pair("CHARGE"), pair("REFUND")
    return {
        "id": gid("ShopifyPaymentsPayout", payout.payout_id),
        "legacyResourceId": str(payout.payout_id),
        "issuedAt": utc(payout.issued),
        "status": payout.status(t),
        "transactionType": "DEPOSIT",
        "net": money(payout.net),
        "summary": {
            "chargesGross": charges["gross"],
            "chargesFee": charges["fee"],
            "refundsFeeGross": refunds["gross"],
            "refundsFee": refunds["fee"],
            "adjustmentsGross": money(0),
            "adjustmentsFee": money(0),
            "reservedFundsGross": money(0),
            "reservedFundsFee": money(0),
            "retriedPayoutsGross": money(0),
            "retriedPayoutsFee": money(0),
        },
    }


def payout_status(txn: BalanceTxn, t: float) -> str:
    """``associatedPayout.status`` of ``txn``'s node at ``t``."""
    payout = txn.payout
    return payout.status(t) if payout is not None and payout.issued <= t else "PENDING"


def balance_node(txn: BalanceTxn, t: float) -> dict[str, Any]:
    payout = txn.payout if txn.payout is not None and txn.payout.issued <= t else None
    source = {"CHARGE": "CHARGE", "REFUND": "REFUND", "PAYOUT": "PAYOUT"}[txn.type]
    source_id = txn.order.transaction_id if txn.type == "CHARGE" and txn.order else None
    if txn.refund is not None:
        source_id = txn.refund.transaction_id
    return {
        "id": gid("ShopifyPaymentsBalanceTransaction", txn.txn_id),
        "type": txn.type,
        "test": False,
        "transactionDate": utc(txn.at),
        "amount": money(txn.amount),
        "fee": money(txn.fee),
        "net": money(txn.net),
        "sourceType": source,
        "sourceId": str(
            source_id if source_id is not None else txn.payout.payout_id if txn.payout else 0
        ),
        "sourceOrderTransactionId": str(source_id) if source_id is not None else None,
        "associatedOrder": {"id": gid("Order", txn.order.order_id), "name": f"#{txn.order.number}"}
        if txn.order
        else None,
        "associatedPayout": {
            "id": gid("ShopifyPaymentsPayout", payout.payout_id) if payout else None,
            "status": payout_status(txn, t),
        },
    }


# --- inventory -------------------------------------------------------------------------


def location_node(location: int) -> dict[str, Any]:
    return {
        "id": gid("Location", 71_000_000_000 + location),
        "legacyResourceId": str(71_000_000_000 + location),
        "name": LOCATIONS[location],
        "isActive": True,
    }


def item_node(variant: Variant, levels: list[Level], t: float) -> dict[str, Any]:
    """An InventoryItem; ``updatedAt`` is the latest change of its levels (or its creation)."""
    changes = [state[3] for lv in levels if (state := lv.at(t)) is not None]
    return {
        "id": gid("InventoryItem", variant.inventory_item_id),
        "legacyResourceId": str(variant.inventory_item_id),
        "sku": variant.sku,
        "tracked": True,
        "createdAt": utc(variant.created),
        "updatedAt": utc(max(changes, default=variant.created)),
    }


def level_node(level: Level, t: float) -> dict[str, Any] | None:
    state = level.at(t)
    if state is None:
        return None
    available, committed, incoming, changed = state
    counts = {
        "available": available,
        "committed": committed,
        "incoming": incoming,
        "on_hand": available + committed,
        "reserved": 0,
    }
    return {
        "id": f"gid://shopify/InventoryLevel/{level.level_id}?inventory_item_id={level.variant.inventory_item_id}",
        "createdAt": utc(level.created()),
        "updatedAt": utc(changed),
        "quantities": [
            {"name": k, "quantity": v, "updatedAt": utc(changed)} for k, v in counts.items()
        ],
        "location": location_node(level.location),
        "item": {
            "id": gid("InventoryItem", level.variant.inventory_item_id),
            "sku": level.variant.sku,
        },
    }


# --- REST ------------------------------------------------------------------------------


def rest_line(order: Order, line: Line, t: float) -> dict[str, Any]:
    v = line.variant
    return {
        "id": line.line_id,
        "admin_graphql_api_id": gid("LineItem", line.line_id),
        "variant_id": v.variant_id,
        "product_id": v.product_id,
        "sku": v.sku,
        "title": v.title,
        "variant_title": v.option,
        "name": f"{v.title} - {v.option}",
        "vendor": "Tributary Test Goods",
        "quantity": line.quantity,
        "current_quantity": line.quantity - returned_quantity(order, line, t),
        "price": rest_money(line.price),
        "price_set": rest_bag(line.price, order.currency),
        "total_discount": rest_money(line.discount),
        "fulfillment_status": "fulfilled" if fulfilled(order, t) else None,
        "requires_shipping": True,
        "tax_lines": [
            {"title": "Sales Tax", "price": rest_money(line.tax), "rate": line.tax_bp / 10_000}
        ]
        if line.tax_bp
        else [],
    }


def rest_refund(order: Order, refund: Refund) -> dict[str, Any]:
    cancelled = order.cancelled == refund.at
    return {
        "id": refund.refund_id,
        "admin_graphql_api_id": gid("Refund", refund.refund_id),
        "order_id": order.order_id,
        "created_at": local(refund.at),
        "processed_at": local(refund.at),
        "note": refund.note or None,
        "restock": cancelled,
        "refund_line_items": [
            {
                "id": rl.refund_line_id,
                "line_item_id": rl.line.line_id,
                "quantity": rl.quantity,
                "restock_type": "cancel" if cancelled else "return",
                "subtotal": rest_money(rl.subtotal),
                "total_tax": rest_money(rl.tax),
                "line_item": {"id": rl.line.line_id, "sku": rl.line.variant.sku},
            }
            for rl in refund.lines
        ],
        "transactions": [
            {
                "id": refund.transaction_id,
                "admin_graphql_api_id": gid("OrderTransaction", refund.transaction_id),
                "kind": "refund",
                "status": "success",
                "gateway": "shopify_payments",
                "amount": rest_money(refund.amount),
                "currency": SHOP_CURRENCY,
                "created_at": local(refund.at),
            }
        ],
        "order_adjustments": [],
    }


def rest_order(order: Order, t: float) -> dict[str, Any]:
    cur, back = order.currency, refunded(order, t)
    cancelled = _when(order.cancelled, t)
    return {
        "id": order.order_id,
        "admin_graphql_api_id": gid("Order", order.order_id),
        "name": f"#{order.number}",
        "number": order.number - 1000,
        "order_number": order.number,
        "created_at": local(order.created),
        "updated_at": local(order.updated_at(t)),
        "processed_at": local(order.created),
        "closed_at": local(_when(order.closed, t)),
        "cancelled_at": local(cancelled),
        "cancel_reason": "customer" if cancelled else None,
        "confirmed": True,
        "test": False,
        "note": TOUCH_NOTE if any(x <= t for x in order.touches) else None,
        "currency": SHOP_CURRENCY,
        "presentment_currency": cur,
        "financial_status": financial_status(order, t).lower(),
        "fulfillment_status": "fulfilled" if fulfilled(order, t) else None,
        "subtotal_price": rest_money(order.subtotal),
        "total_line_items_price": rest_money(sum(line.gross for line in order.lines)),
        "total_discounts": rest_money(order.discount),
        "total_tax": rest_money(order.tax),
        "total_price": rest_money(order.total),
        "current_total_price": rest_money(order.total - back),
        "total_price_set": rest_bag(order.total, cur),
        "total_shipping_price_set": rest_bag(order.shipping, cur),
        "shipping_lines": [{"title": "Standard", "price": rest_money(order.shipping)}],
        "line_items": [rest_line(order, line, t) for line in order.lines],
        "refunds": [rest_refund(order, r) for r in refunds_at(order, t)],
    }
