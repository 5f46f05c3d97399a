"""What the eBay APIs show of the history at an instant ``t`` (epoch seconds, UTC).

Payloads use only fields the official schemas declare (Order, LineItem, Transaction,
Payout, InventoryItemWithSkuLocaleGroupid). Every builder is pure: same record, same ``t``,
same payload.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.ebay.data import DAY, Line, Order, Sku
from sandbox.ebay.finance import Payout, Txn
from sandbox.ebay.formats import MARKETPLACE, amount, iso

ORDER_URL = "https://api.ebay.com/sell/fulfillment/v1/order"
TOUCH_NOTE = "Please leave the parcel at the back door."


def _sum(values: Any) -> Decimal:
    return sum(values, Decimal(0))


def shipped_lines(order: Order, t: float) -> set[int]:
    return {i for s in order.shipments if s.at <= t for i in s.lines}


def _fulfillment_status(order: Order, shipped: set[int]) -> str:
    if shipped and len(shipped) == len(order.lines):
        return "FULFILLED"
    return "IN_PROGRESS" if shipped else "NOT_STARTED"


def fulfillment_status(order: Order, t: float) -> str:
    return _fulfillment_status(order, shipped_lines(order, t))


def _payment_status(order: Order, t: float) -> str:
    refunded = _sum(r.amount for r in order.refunds if r.at <= t)
    if refunded == 0:
        return "PAID"
    return "FULLY_REFUNDED" if refunded >= order.total else "PARTIALLY_REFUNDED"


def line_payload(order: Order, index: int, t: float) -> dict[str, Any]:
    line: Line = order.lines[index]
    shipped = index in shipped_lines(order, t)
    refunds = [r for r in order.refunds if r.at <= t and index in r.lines]
    ship_by = order.created + 3 * DAY
    return {
        "lineItemId": line.line_item_id,
        "legacyItemId": line.sku.legacy_item_id,
        "sku": line.sku.sku,
        "title": line.sku.title,
        "lineItemCost": amount(line.cost),
        "quantity": line.quantity,
        "soldFormat": "FIXED_PRICE",
        "listingMarketplaceId": MARKETPLACE,
        "purchaseMarketplaceId": MARKETPLACE,
        "lineItemFulfillmentStatus": "FULFILLED" if shipped else "NOT_STARTED",
        "total": amount(line.total),
        "deliveryCost": {"shippingCost": amount(line.shipping)},
        "appliedPromotions": [],
        "taxes": [],
        "ebayCollectAndRemitTaxes": [
            {"taxType": "STATE_SALES_TAX", "amount": amount(line.tax), "collectionMethod": "NET"}
        ],
        "properties": {"buyerProtection": True},
        "lineItemFulfillmentInstructions": {
            "minEstimatedDeliveryDate": iso(ship_by + 2 * DAY),
            "maxEstimatedDeliveryDate": iso(ship_by + 6 * DAY),
            "shipByDate": iso(ship_by),
            "guaranteedDelivery": False,
        },
        "refunds": [
            {"refundId": r.refund_id, "amount": amount(line.total), "refundDate": iso(r.at)}
            for r in refunds
        ],
    }


def order_payload(order: Order, t: float, seller_id: str) -> dict[str, Any]:
    shipped = shipped_lines(order, t)
    canceled = order.canceled is not None and order.canceled <= t
    lines = order.lines
    subtotal = _sum(line.cost for line in lines)
    delivery = _sum(line.shipping for line in lines)
    tax = _sum(line.tax for line in lines)
    address = {"city": order.city, "stateOrProvince": order.state, "countryCode": "US"}
    out: dict[str, Any] = {
        "orderId": order.order_id,
        "creationDate": iso(order.created),
        "lastModifiedDate": iso(order.last_modified(t)),
        "orderFulfillmentStatus": _fulfillment_status(order, shipped),
        "orderPaymentStatus": _payment_status(order, t),
        "sellerId": seller_id,
        "buyer": {"username": order.buyer, "taxAddress": {**address, "postalCode": "00000"}},
        "pricingSummary": {
            "priceSubtotal": amount(subtotal),
            "deliveryCost": amount(delivery),
            "tax": amount(tax),
            "total": amount(order.total),
        },
        "cancelStatus": {
            "cancelState": "CANCELED" if canceled else "NONE_REQUESTED",
            "cancelRequests": [],
        },
        "paymentSummary": {
            "payments": [
                {
                    "paymentMethod": "EBAY",
                    "paymentReferenceId": f"PAY-{order.order_id}",
                    "paymentDate": iso(order.created),
                    "amount": amount(order.total),
                    "paymentStatus": "PAID",
                }
            ],
            "refunds": [
                {
                    "refundId": r.refund_id,
                    "refundDate": iso(r.at),
                    "amount": amount(r.amount),
                    "refundStatus": "REFUNDED",
                }
                for r in order.refunds
                if r.at <= t
            ],
            "totalDueSeller": amount(subtotal + delivery),
        },
        "fulfillmentStartInstructions": [
            {
                "fulfillmentInstructionsType": "SHIP_TO",
                "ebaySupportedFulfillment": False,
                "shippingStep": {
                    "shippingCarrierCode": "USPS",
                    "shippingServiceCode": "USPSPriority",
                    "shipTo": {"fullName": order.buyer, "contactAddress": address},
                },
            }
        ],
        "fulfillmentHrefs": [
            f"{ORDER_URL}/{order.order_id}/shipping_fulfillment/{s.fulfillment_id}"
            for s in order.shipments
            if s.at <= t
        ],
        "lineItems": [line_payload(order, i, t) for i in range(len(lines))],
        "salesRecordReference": "0",
        "totalFeeBasisAmount": amount(order.total),
        "totalMarketplaceFee": amount(_sum(line.fee for line in lines)),
        "ebayCollectAndRemitTax": True,
    }
    if canceled:
        out["cancelStatus"]["cancelledDate"] = iso(order.canceled)
    if any(at <= t for at in order.touches):
        out["buyerCheckoutNotes"] = TOUCH_NOTE
    return out


def _fees(line: Line) -> list[dict[str, Any]]:
    fees = [{"feeType": "FINAL_VALUE_FEE", "amount": amount(line.fvf)}]
    if line.fixed_fee:
        fees.append(
            {"feeType": "FINAL_VALUE_FEE_FIXED_PER_ORDER", "amount": amount(line.fixed_fee)}
        )
    return fees


def transaction_payload(txn: Txn, t: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "transactionId": txn.transaction_id,
        "transactionType": txn.kind,
        "transactionStatus": txn.status(t),
        "transactionDate": iso(txn.date),
        "amount": amount(txn.amount),
        "bookingEntry": txn.booking,
    }
    if txn.payout is not None and txn.payout.date <= t:
        out["payoutId"] = txn.payout.payout_id
    order = txn.order
    if order is not None:
        out["orderId"] = order.order_id
        out["buyer"] = {"username": order.buyer}
        out["salesRecordReference"] = "0"
    if txn.kind == "SALE" and order is not None:
        out["totalFeeBasisAmount"] = amount(order.total)
        out["totalFeeAmount"] = amount(_sum(line.fee for line in order.lines))
        out["orderLineItems"] = [
            {
                "lineItemId": line.line_item_id,
                "feeBasisAmount": amount(line.total),
                "marketplaceFees": _fees(line),
            }
            for line in order.lines
        ]
    elif txn.kind == "REFUND" and order is not None and txn.refund is not None:
        out["totalFeeAmount"] = amount(Decimal(0))
        out["orderLineItems"] = [
            {
                "lineItemId": order.lines[i].line_item_id,
                "feeBasisAmount": amount(order.lines[i].total),
                "marketplaceFees": [],
            }
            for i in txn.refund.lines
        ]
    else:
        out["totalFeeAmount"] = amount(Decimal(0))
    if txn.fee_type is not None:
        out["feeType"] = txn.fee_type
    if txn.memo is not None:
        out["transactionMemo"] = txn.memo
    out["paymentsEntity"] = "eBay Commerce Inc."
    return out


def payout_payload(payout: Payout, t: float) -> dict[str, Any]:
    status = payout.status(t)
    return {
        "payoutId": payout.payout_id,
        "payoutStatus": status,
        "payoutStatusDescription": "Funds sent" if status == "SUCCEEDED" else "Preparing to send",
        "payoutDate": iso(payout.date),
        "amount": amount(payout.amount),
        "transactionCount": len(payout.transactions),
        "payoutInstrument": {
            "instrumentType": "BANK",
            "nickname": "Checking",
            "accountLastFourDigits": "4321",
        },
        "payoutMemo": "Estimated arrival: 1 business day",
    }


def inventory_payload(sku: Sku, quantity: int) -> dict[str, Any]:
    return {
        "sku": sku.sku,
        "locale": "en_US",
        "condition": "NEW",
        "product": {
            "title": sku.title,
            "description": f"{sku.title}. Ships from the US.",
            "brand": sku.brand,
            "mpn": sku.mpn,
            "aspects": {"Brand": [sku.brand]},
            "imageUrls": [f"https://i.ebayimg.com/images/g/{sku.legacy_item_id}/s-l1600.jpg"],
        },
        "availability": {"shipToLocationAvailability": {"quantity": quantity}},
    }
