"""What the Etsy API shows of the history at an instant ``t`` (epoch seconds, UTC).

Payloads carry the fields the spec's schemas require (ShopReceipt, ShopReceiptTransaction,
Payment, PaymentAccountLedgerEntry, ShopListing, ListingInventory) and nothing the spec
does not declare, except fields of Etsy's current API that the June 2021 file predates:
the ledger's ``ledger_type``, ``reference_type`` and ``reference_id`` (see ledger.py),
and a receipt's ``transactions`` (its ShopReceiptTransactions) and ``refunds``
(ShopRefund: ``amount``, ``created_timestamp``, ``reason``, ``note_from_issuer``,
``status``; one per refund issued by ``t``). Every builder is pure.
"""

from __future__ import annotations

from typing import Any

from sandbox.etsy.data import DAY, Line, Listing, Receipt, Refund
from sandbox.etsy.ledger import Entry, fee_adjustment, processing_fee

CURRENCY = "USD"
TOUCH_NOTE = "Thank you for your order! It ships in a gift box."


def money(cents: int) -> dict[str, Any]:
    return {"amount": cents, "divisor": 100, "currency_code": CURRENCY}


def receipt_payload(receipt: Receipt, t: float, seller_user_id: int) -> dict[str, Any]:
    shipped = receipt.shipped is not None and receipt.shipped <= t
    touched = any(at <= t for at in receipt.touches)
    address = (
        f"{receipt.name}\n1 Main St\n{receipt.city}, {receipt.state} {receipt.zip}\nUnited States"
    )
    return {
        "receipt_id": receipt.receipt_id,
        "receipt_type": 0,
        "seller_user_id": seller_user_id,
        "buyer_user_id": receipt.buyer_user_id,
        "name": receipt.name,
        "first_line": "1 Main St",
        "second_line": "",
        "city": receipt.city,
        "state": receipt.state,
        "zip": receipt.zip,
        "formatted_address": address,
        "country_iso": "US",
        "payment_method": "cc",
        "payment_email": "",
        "message_from_seller": TOUCH_NOTE if touched else "",
        "message_from_buyer": "",
        "message_from_payment": "",
        "is_paid": True,
        "is_shipped": shipped,
        "create_timestamp": receipt.created,
        "update_timestamp": receipt.last_modified(t),
        "gift_message": "",
        "grandtotal": money(receipt.grandtotal),
        "subtotal": money(receipt.total_price - receipt.discount),
        "total_price": money(receipt.total_price),
        "total_shipping_cost": money(receipt.shipping),
        "total_tax_cost": money(receipt.tax),
        "total_vat_cost": money(0),
        "discount_amt": money(receipt.discount),
        "gift_wrap_price": money(0),
        "shipments": [
            {
                "receipt_shipping_id": receipt.shipment_id,
                "shipment_notification_timestamp": receipt.shipped,
                "carrier_name": "usps",
                "tracking_code": receipt.tracking,
            }
        ]
        if shipped
        else [],
        "transactions": [
            transaction_payload(receipt, line, t, seller_user_id) for line in receipt.lines
        ],
        "refunds": [refund_payload(r) for r in receipt.refunds if r.at <= t],
    }


def refund_payload(refund: Refund) -> dict[str, Any]:
    """A ShopRefund as a receipt lists it (the same refund as its payment adjustment)."""
    return {
        "amount": money(refund.amount),
        "created_timestamp": refund.at,
        "reason": refund.reason,
        "note_from_issuer": None,
        "status": "COMPLETED",
    }


def transaction_payload(
    receipt: Receipt, line: Line, t: float, seller_user_id: int
) -> dict[str, Any]:
    shipped = receipt.shipped if receipt.shipped is not None and receipt.shipped <= t else None
    first = line is receipt.lines[0]
    return {
        "transaction_id": line.transaction_id,
        "title": line.listing.title,
        "description": f"{line.listing.title}, made by hand in small batches.",
        "seller_user_id": seller_user_id,
        "buyer_user_id": receipt.buyer_user_id,
        "create_timestamp": receipt.created,
        "paid_timestamp": receipt.created,
        "shipped_timestamp": shipped,
        "quantity": line.quantity,
        "listing_image_id": line.listing.image_id,
        "receipt_id": receipt.receipt_id,
        "is_digital": False,
        "file_data": "",
        "listing_id": line.listing.listing_id,
        "transaction_type": "listing",
        "product_id": line.listing.product_id,
        "price": money(line.price),
        "shipping_cost": money(receipt.shipping if first else 0),
    }


def payment_payload(
    receipt: Receipt, t: float, shop_id: int, seller_user_id: int
) -> dict[str, Any]:
    gross, fees = receipt.grandtotal, processing_fee(receipt)
    posted = receipt.shipped is not None and receipt.shipped <= t
    refunds = [r for r in receipt.refunds if r.at <= t]
    times = [receipt.created, *(r.at for r in refunds)]
    if posted:
        times.append(receipt.shipped)
    out: dict[str, Any] = {
        "payment_id": receipt.payment_id,
        "buyer_user_id": receipt.buyer_user_id,
        "shop_id": shop_id,
        "receipt_id": receipt.receipt_id,
        "amount_gross": money(gross),
        "amount_fees": money(fees),
        "amount_net": money(gross - fees),
        "currency": CURRENCY,
        "shop_currency": CURRENCY,
        "buyer_currency": CURRENCY,
        "shipping_user_id": receipt.buyer_user_id,
        "shipping_address_id": receipt.buyer_user_id % 1_000_000_000 + 1,
        "billing_address_id": receipt.buyer_user_id % 1_000_000_000 + 2,
        "status": "settled" if posted else "authed",
        "shipped_timestamp": receipt.shipped if posted else None,
        "create_timestamp": receipt.created,
        "update_timestamp": max(times),
        "payment_adjustments": [],
    }
    if posted:
        out |= {
            "posted_gross": money(gross),
            "posted_fees": money(fees),
            "posted_net": money(gross - fees),
        }
    if refunds:
        refunded = sum(r.amount for r in refunds)
        fee_back = sum(fee_adjustment(receipt, r) for r in refunds)
        out |= {
            "adjusted_gross": money(gross - refunded),
            "adjusted_fees": money(fees - fee_back),
            "adjusted_net": money(gross - refunded - fees + fee_back),
        }
        out["payment_adjustments"] = [
            {
                "payment_adjustment_id": r.adjustment_id,
                "payment_id": receipt.payment_id,
                "status": "COMPLETED",
                "is_success": True,
                "user_id": seller_user_id,
                "reason_code": r.reason,
                "total_adjustment_amount": r.amount,
                "shop_total_adjustment_amount": r.amount,
                "buyer_total_adjustment_amount": r.amount,
                "total_fee_adjustment_amount": fee_adjustment(receipt, r),
                "create_timestamp": r.at,
                "update_timestamp": r.at,
            }
            for r in refunds
        ]
    return out


def ledger_payload(entry: Entry, ledger_id: int) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "ledger_id": ledger_id,
        "sequence_number": entry.sequence,
        "amount": entry.amount,
        "currency": CURRENCY,
        "description": entry.description,
        "balance": entry.balance,
        "create_date": entry.at,
        "ledger_type": entry.ledger_type,
        "reference_type": entry.reference_type,
        "reference_id": str(entry.reference_id),
    }


def listing_payload(
    listing: Listing, quantity: int, t: float, shop_id: int, user_id: int
) -> dict[str, Any]:
    renewed = listing.created + int((t - listing.created) // (120 * DAY)) * 120 * DAY
    return {
        "listing_id": listing.listing_id,
        "user_id": user_id,
        "shop_id": shop_id,
        "title": listing.title,
        "description": f"{listing.title}, made by hand in small batches.",
        "state": "active",
        "creation_timestamp": renewed,
        "ending_timestamp": renewed + 120 * DAY,
        "original_creation_timestamp": listing.created,
        "last_modified_timestamp": renewed,
        "state_timestamp": renewed,
        "quantity": quantity,
        "shop_section_id": None,
        "featured_rank": -1,
        "url": f"https://www.etsy.com/listing/{listing.listing_id}",
        "views": 0,
        "num_favorers": 0,
        "non_taxable": False,
        "is_customizable": False,
        "listing_type": "physical",
        "tags": [],
        "materials": [],
        "shipping_template_id": None,
        "processing_min": 1,
        "processing_max": 3,
        "who_made": "i_did",
        "when_made": "made_to_order",
        "item_weight": None,
        "item_weight_unit": None,
        "item_length": None,
        "item_width": None,
        "item_height": None,
        "item_dimensions_unit": None,
        "is_private": False,
        "recipient": None,
        "occasion": None,
        "style": [],
        "file_data": "",
        "has_variations": False,
        "should_auto_renew": True,
        "language": "en-US",
        "price": money(listing.price),
    }


def inventory_payload(listing: Listing, quantity: int) -> dict[str, Any]:
    return {
        "products": [
            {
                "product_id": listing.product_id,
                "sku": listing.sku,
                "is_deleted": False,
                "offerings": [
                    {
                        "offering_id": listing.offering_id,
                        "quantity": quantity,
                        "is_enabled": True,
                        "is_deleted": False,
                        "price": money(listing.price),
                    }
                ],
                "property_values": [],
            }
        ],
        "price_on_property": [],
        "quantity_on_property": [],
        "sku_on_property": [],
    }
