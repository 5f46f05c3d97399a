"""What the API shows of orders, order items and returns at an instant.

An order is visible once purchased; its payload is its last version at or before ``t``.
While an order is unpaid (Pending) or canceled, OrderTotal and the items' pricing, tax,
shipping and promotion fields are absent, as Amazon documents. Shipping addresses carry
only city, region, postal code and country (the rest needs a Restricted Data Token).

Returns have no JSON API in SP-API; their shape is a row of the flat-file returns report
(column name -> text), and their natural key is ``Amazon RMA ID``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.amazon.data import DAY, Item, Order, Return, Version
from sandbox.amazon.formats import JP, iso, iso_local, money, quantize

RETURN_COLUMNS = (
    "Order ID",
    "Order date",
    "Return request date",
    "Return request status",
    "Amazon RMA ID",
    "Seller RMA ID",
    "Label type",
    "Label cost",
    "Currency code",
    "Return carrier",
    "Tracking ID",
    "Label to be paid by",
    "A-to-z claim",
    "Is prime",
    "ASIN",
    "Merchant SKU",
    "Item Name",
    "Return quantity",
    "Return reason",
    "In policy",
    "Return type",
    "Resolution",
    "Invoice number",
    "Return delivery date",
    "Order Amount",
    "Order quantity",
    "Refunded Amount",
    "Category",
)
_SELLER_FAULT = ("DEFECTIVE", "NOT_AS_DESCRIBED", "DAMAGED_BY_CARRIER")


def priced(version: Version) -> bool:
    return version.paid and version.status != "Canceled"


def order_payload(order: Order, version: Version) -> dict[str, Any]:
    currency = order.marketplace.currency
    shipped = sum(version.shipped)
    ordered = sum(i.quantity for i in order.items)
    out: dict[str, Any] = {
        "AmazonOrderId": order.order_id,
        "PurchaseDate": iso(order.purchased),
        "LastUpdateDate": iso(version.at),
        "OrderStatus": version.status,
        "FulfillmentChannel": order.channel,
        "SalesChannel": order.marketplace.sales_channel,
        "ShipServiceLevel": "Std JP Kanto8" if order.marketplace is JP else "Std US D2D Dom",
    }
    if priced(version):
        total = sum((i.net + i.tax + i.shipping for i in order.items), Decimal(0))
        out["OrderTotal"] = money(total, currency)
    out.update(
        {
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": 0 if version.status == "Canceled" else ordered - shipped,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "MarketplaceId": order.marketplace.marketplace_id,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": iso(order.purchased + DAY),
            "LatestShipDate": iso(order.purchased + 3 * DAY),
            "IsBusinessOrder": order.is_business,
            "IsPrime": order.channel == "AFN",
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": False,
            "IsSoldByAB": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
        }
    )
    if version.paid:
        city, region, postal = order.ship_to
        out["ShippingAddress"] = {
            "City": city,
            "StateOrRegion": region,
            "PostalCode": postal,
            "CountryCode": order.marketplace.country,
        }
    return out


def item_payload(item: Item, version: Version, index: int, order: Order) -> dict[str, Any]:
    currency = order.marketplace.currency
    zero = money(Decimal(0), currency)
    out: dict[str, Any] = {
        "ASIN": item.sku.asin,
        "SellerSKU": item.sku.sku,
        "OrderItemId": item.order_item_id,
        "Title": item.sku.title,
        "QuantityOrdered": item.quantity,
        "QuantityShipped": version.shipped[index],
        "ProductInfo": {"NumberOfItems": "1"},
    }
    if priced(version):
        out.update(
            {
                "ItemPrice": money(item.item_price, currency),
                "ItemTax": money(item.tax, currency),
                "ShippingPrice": money(item.shipping, currency),
                "ShippingTax": zero,
                "ShippingDiscount": zero,
                "ShippingDiscountTax": zero,
                "PromotionDiscount": money(item.promotion, currency),
                "PromotionDiscountTax": zero,
            }
        )
        if item.promotion_id:
            out["PromotionIds"] = [item.promotion_id]
    out.update(
        {
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
    )
    return out


def order_items(order: Order, version: Version) -> list[dict[str, Any]]:
    return [item_payload(it, version, i, order) for i, it in enumerate(order.items)]


def refund_amount(ret: Return) -> Decimal:
    item = ret.item
    return quantize(item.net + item.tax, ret.order.marketplace.currency)


def return_row(ret: Return, t: float) -> dict[str, str]:
    """The returns-report row of ``ret`` as of ``t`` (requires ``ret.requested <= t``)."""
    order, item = ret.order, ret.item
    offset = order.marketplace.utc_offset_hours
    closed = ret.refunded is not None and ret.refunded <= t
    delivered = ret.received is not None and ret.received <= t
    row = dict.fromkeys(RETURN_COLUMNS, "")
    row.update(
        {
            "Order ID": order.order_id,
            "Order date": iso_local(order.purchased, offset),
            "Return request date": iso_local(ret.requested, offset),
            "Return request status": "Closed" if closed else "Approved",
            "Amazon RMA ID": ret.rma_id,
            "Label type": "AmazonPrePaidLabel",
            "Currency code": order.marketplace.currency,
            "Return carrier": "UPS",
            "Tracking ID": f"1Z{ret.rma_id[1:]}",
            "Label to be paid by": "Amazon" if ret.reason in _SELLER_FAULT else "Customer",
            "A-to-z claim": "N",
            "Is prime": "Y" if order.channel == "AFN" else "N",
            "ASIN": item.sku.asin,
            "Merchant SKU": item.sku.sku,
            "Item Name": item.sku.title,
            "Return quantity": str(ret.quantity),
            "Return reason": ret.reason,
            "In policy": "Y",
            "Return type": "C-Returns",
            "Resolution": "StandardRefund" if closed else "",
            "Return delivery date": iso_local(ret.received, offset) if delivered else "",
            "Order Amount": str(refund_amount(ret)),
            "Order quantity": str(item.quantity),
            "Refunded Amount": str(refund_amount(ret)) if closed else "",
            "Category": "Home",
        }
    )
    return row
