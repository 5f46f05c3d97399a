"""Amazon SP-API pages and report documents -> canonical records (pure).

Inputs, one page or one report document each:

    orders        getOrders response ``{"payload": {"Orders": [...]}}``, or the text of a
                  GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE/LAST_UPDATE_GENERAL report
                  (one row per order item; rows grouped into orders by amazon-order-id)
    order_items   getOrderItems response ``{"payload": {"AmazonOrderId", "OrderItems"}}``,
                  or the same order report text (one item per row). The API gives
                  items no date: a ``scope`` (the order's PurchaseDate, ISO 8601, that
                  the items chain carries) is their ``created_at``; "" leaves it None
    transactions  listFinancialEvents / ...ByGroupId / ...ByOrderId response
    payouts       listFinancialEventGroups response (a group is a settlement / payout)
    inventory     getInventorySummaries response
    returns       GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE report text (rows grouped by RMA)

A JSON page may also be given as its text. Natural keys:

    orders        AmazonOrderId (API and report agree)
    order_items   ``{AmazonOrderId}|{SellerSKU}``, or ``{AmazonOrderId}|asin:{ASIN}`` when the
                  SKU is absent. The report has no OrderItemId, so the SKU is the identity
                  both paths share; two lines of one order with the same SKU would collide.
    transactions  ``{event_hash}:{component_path}``. Amazon gives finance events no id, so
                  ``event_hash`` = first 32 hex digits of SHA-256 over the canonical JSON
                  (``_common.canonical_json``: keys sorted, numbers in canonical decimal
                  form) of ``[event list name, event object]``; for an event without a
                  date (ServiceFee, LoanServicing, DebtRecovery) of ``[event list name,
                  event object, scope]``, where ``scope`` is the FinancialEventGroupId the
                  caller passes for a listFinancialEventsByGroupId page ("" otherwise):
                  a monthly subscription fee is byte-identical every month, and only the
                  group tells the months apart. A scope ``{group_id}|{currency}`` (a
                  listFinancialEvents page over an old group's span) keeps the events
                  in that currency only, and scopes them by ``group_id``.
                  ``component_path`` is the dotted path of the money inside the event
                  (``ShipmentItemList.0.ItemFeeList.1.FeeAmount``). Neither depends on the
                  event's position in the page, its page or NextToken, so a re-fetched or
                  overlapping page gives the same keys, and any change of content gives new
                  ones. Byte-identical events (dated ones in any page; undated ones in one
                  group) share keys.
                  ``transaction_id`` is the event hash (groups an event's components);
                  ``payout_id`` is the event's FinancialEventGroupId, else ``scope``.
    payouts       FinancialEventGroupId
    inventory     ``{granularityId}|{sellerSku}`` (granularityId is the marketplace)
    returns       Amazon RMA ID

Transactions: one record per money field of an event, amounts signed as Amazon sends them
(seller's view). Fields that restate other fields are skipped so components add up to the
event: ``_BREAKDOWNS`` (AdjustmentItemList, PerUnitAmount, TotalAmount, transactionValue ...).
ServiceFee, LoanServicing and DebtRecovery events have no date in the API: posted_at None.
Report times carry the marketplace's offset and become UTC. Report money: an order's
subtotal is the sum of its rows' item-price (price of all units), tax the item, shipping and
gift-wrap taxes, shipping the shipping-price, discount the promotion discounts as a positive
magnitude (reports print them negative), and total = subtotal + tax + shipping + gift wrap
- discount, which equals the API's OrderTotal. Rows without a currency (Pending orders)
have no prices. Item rows carry the same parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
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
from shared.normalize._common import (
    Context,
    Node,
    content_hash,
    load_json,
    magnitude,
    parse_instant,
    scaled,
    sum_money,
    tab_rows,
)

SALES_CHANNELS = {
    "Amazon.com": "ATVPDKIKX0DER",
    "Amazon.ca": "A2EUQ1WTGCTBG2",
    "Amazon.com.mx": "A1AM78C64UM0Y8",
    "Amazon.com.br": "A2Q3Y263D00KWC",
    "Amazon.co.uk": "A1F83G8C2ARO7P",
    "Amazon.de": "A1PA6795UKMFR9",
    "Amazon.fr": "A13V1IB3VIYZZH",
    "Amazon.it": "APJ6JRA9NG5V4",
    "Amazon.es": "A1RKKUPIHCS9HS",
    "Amazon.nl": "A1805IZSGTT6HS",
    "Amazon.se": "A2NODRKZP88ZB9",
    "Amazon.pl": "A1C3SOZRARQ6R3",
    "Amazon.in": "A21TJRUUN4KGV",
    "Amazon.co.jp": "A1VC38T7YXB528",
    "Amazon.com.au": "A39IBJ37TRP1C6",
}
ORDER_COLUMNS = ("amazon-order-id", "purchase-date", "order-status", "sku", "asin", "quantity")
RETURN_COLUMNS = ("Order ID", "Return request date", "Amazon RMA ID")
_PRICE_COLUMNS = (
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
)
_BREAKDOWNS = frozenset(
    {
        "AdjustmentItemList",
        "PerUnitAmount",
        "TotalAmount",
        "totalAmount",
        "transactionValue",
        "TotalExpense",
        "DebtRecoveryItemList",
        "ChargeInstrumentList",
        "SAFETReimbursementItemList",
        "BaseAmount",
        "RentalInitialValue",
    }
)
_UNDATED = frozenset({"ServiceFeeEventList", "LoanServicingEventList", "DebtRecoveryEventList"})
_DATE_KEYS = ("PostedDate", "postedDate", "TransactionPostedDate", "TransactionCreationDate")
_REFUND_LISTS = frozenset({"RefundEventList", "ChargebackEventList", "GuaranteeClaimEventList"})
_FEE_LISTS = frozenset(
    {
        "ServiceFeeEventList",
        "ProductAdsPaymentEventList",
        "SellerDealPaymentEventList",
        "CouponPaymentEventList",
        "ImagingServicesFeeEventList",
        "TrialShipmentEventList",
        "ValueAddedServiceChargeEventList",
        "CapacityReservationBillingEventList",
        "SellerReviewEnrollmentPaymentEventList",
    }
)
_PAYOUT_LISTS = frozenset({"AdhocDisbursementEventList", "FailedAdhocDisbursementEventList"})
_TYPE_FIELD = {
    "ChargeAmount": "ChargeType",
    "FeeAmount": "FeeType",
    "PromotionAmount": "PromotionType",
    "DirectPaymentAmount": "DirectPaymentType",
    "AdjustmentAmount": "AdjustmentType",
}
_ITEM_LISTS = frozenset({"ShipmentItemList", "ShipmentItemAdjustmentList"})
_CANCELED = ("Canceled", "Cancelled")  # the API's spelling, and the reports'


def _body(ctx: Context, payload: dict | str) -> Node:
    page = ctx.node(load_json(ctx, payload) if isinstance(payload, str) else payload)
    if page.has("errors") and not page.has("payload"):
        page.fail("errors", f"error response: {page.get('errors')!r}")
    return page.obj("payload")


def _is_report(text: str) -> bool:
    """A flat-file report, not a JSON page given as text."""
    return not text.lstrip().startswith("{")


def _money(node: Node, key: str) -> Money | None:
    """Orders API Money ``{"CurrencyCode", "Amount": "11.01"}``."""
    value = node.opt_obj(key)
    return value.money("Amount", "CurrencyCode") if value else None


# --- orders and items (Orders API) ---------------------------------------------------


def orders(ctx: Context, payload: dict | str) -> list[Order]:
    if isinstance(payload, str) and _is_report(payload):
        return _report_orders(ctx, payload)
    return [_order(ctx, o) for o in _body(ctx, payload).objs("Orders", required=True)]


def _order(ctx: Context, o: Node) -> Order:
    order_id, status = o.text("AmazonOrderId"), o.text("OrderStatus")
    return ctx.make(
        Order,
        o.path,
        natural_key=order_id,
        order_id=order_id,
        created_at=o.instant("PurchaseDate"),
        updated_at=o.instant("LastUpdateDate"),
        status=status,
        cancelled=status in _CANCELED,
        marketplace=o.opt_text("MarketplaceId"),
        seller_reference=o.opt_text("SellerOrderId"),
        total=_money(o, "OrderTotal"),
    )


def order_items(ctx: Context, payload: dict | str) -> list[OrderItem]:
    if isinstance(payload, str) and _is_report(payload):
        return [_report_item(ctx, row) for row in _order_rows(ctx, payload)]
    body = _body(ctx, payload)
    order_id = body.text("AmazonOrderId")
    created = _scope_instant(ctx) if ctx.scope else None
    return [_api_item(ctx, order_id, i, created) for i in body.objs("OrderItems", required=True)]


def _scope_instant(ctx: Context) -> datetime:
    """The order's PurchaseDate a getOrderItems page's ``scope`` carries."""
    try:
        return parse_instant(ctx.scope)
    except ValueError:
        ctx.fail("$scope", f"not the order's date: {ctx.scope!r}")


def _item_key(order_id: str, sku: str | None, asin: str | None) -> str:
    return f"{order_id}|{sku}" if sku else f"{order_id}|asin:{asin}"


def _api_item(ctx: Context, order_id: str, i: Node, created: datetime | None) -> OrderItem:
    sku, asin = i.opt_text("SellerSKU"), i.text("ASIN")
    discounts = [
        magnitude(_money(i, "PromotionDiscount")),
        magnitude(_money(i, "ShippingDiscount")),
    ]
    return ctx.make(
        OrderItem,
        i.path,
        natural_key=_item_key(order_id, sku, asin),
        order_id=order_id,
        item_id=i.ident("OrderItemId"),
        sku=sku,
        product_id=asin,
        title=i.opt_text("Title"),
        quantity=i.integer("QuantityOrdered"),
        line_price=_money(i, "ItemPrice"),
        tax=sum_money(ctx, i.at("ItemTax"), [_money(i, "ItemTax"), _money(i, "ShippingTax")]),
        shipping=_money(i, "ShippingPrice"),
        discount=sum_money(ctx, i.at("PromotionDiscount"), discounts),
        created_at=created,
    )


# --- orders and items (flat-file order report) ---------------------------------------


def _order_rows(ctx: Context, text: str) -> list[Node]:
    return tab_rows(ctx, text, ORDER_COLUMNS)


def _cell_money(row: Node, column: str) -> Money | None:
    """A report amount in the row's ``currency`` (None when the cell is empty)."""
    if not row.has(column):
        return None
    if not row.has("currency"):
        row.fail("currency", f"is missing while {column} has an amount")
    return row.ctx.money(row.at(column), row.decimal(column), row.currency("currency"))


def _row_parts(row: Node) -> dict[str, Money | None]:
    cell = {c: _cell_money(row, c) for c in _PRICE_COLUMNS}
    ctx, path = row.ctx, row.path
    return {
        "price": cell["item-price"],
        "tax": sum_money(
            ctx, path, [cell["item-tax"], cell["shipping-tax"], cell["gift-wrap-tax"]]
        ),
        "shipping": cell["shipping-price"],
        "gift_wrap": cell["gift-wrap-price"],
        "discount": sum_money(
            ctx,
            path,
            [
                magnitude(cell["item-promotion-discount"]),
                magnitude(cell["ship-promotion-discount"]),
            ],
        ),
    }


def _report_item(ctx: Context, row: Node) -> OrderItem:
    order_id, sku, asin = row.text("amazon-order-id"), row.opt_text("sku"), row.opt_text("asin")
    if not sku and not asin:
        row.fail("sku", "is missing (and so is asin)")
    parts = _row_parts(row)
    return ctx.make(
        OrderItem,
        row.path,
        natural_key=_item_key(order_id, sku, asin),
        order_id=order_id,
        sku=sku,
        product_id=asin,
        title=row.opt_text("product-name"),
        quantity=row.integer("quantity"),
        line_price=parts["price"],
        tax=parts["tax"],
        shipping=parts["shipping"],
        discount=parts["discount"],
        created_at=row.instant("purchase-date"),
    )


def _report_orders(ctx: Context, text: str) -> list[Order]:
    grouped: dict[str, list[Node]] = {}
    for row in _order_rows(ctx, text):
        grouped.setdefault(row.text("amazon-order-id"), []).append(row)
    return [_report_order(ctx, order_id, rows) for order_id, rows in grouped.items()]


def _report_order(ctx: Context, order_id: str, rows: list[Node]) -> Order:
    first, path = rows[0], rows[0].path
    parts = [_row_parts(r) for r in rows]

    def total_of(name: str) -> Money | None:
        return sum_money(ctx, path, [p[name] for p in parts])

    discount = total_of("discount")
    charged = ("price", "tax", "shipping", "gift_wrap")
    gross = sum_money(ctx, path, [total_of(name) for name in charged])
    total = sum_money(ctx, path, [gross, scaled(discount, -1)]) if gross else None
    updated = [r.opt_instant("last-updated-date") for r in rows]
    status = first.text("order-status")
    channel = first.opt_text("sales-channel")
    return ctx.make(
        Order,
        path,
        natural_key=order_id,
        order_id=order_id,
        created_at=first.instant("purchase-date"),
        updated_at=max((u for u in updated if u), default=None),
        status=status,
        cancelled=status in _CANCELED,
        marketplace=SALES_CHANNELS.get(channel, channel) if channel else None,
        seller_reference=first.opt_text("merchant-order-id"),
        total=total,
        subtotal=total_of("price"),
        tax=total_of("tax"),
        shipping=total_of("shipping"),
        discount=discount,
    )


# --- returns (flat-file returns report) ----------------------------------------------


def returns(ctx: Context, payload: dict | str) -> list[Return]:
    if not isinstance(payload, str):
        ctx.fail("$", "expected the returns report as text")
    grouped: dict[str, list[Node]] = {}
    for row in tab_rows(ctx, payload, RETURN_COLUMNS):
        grouped.setdefault(row.text("Amazon RMA ID"), []).append(row)
    return [_return(ctx, rma, rows) for rma, rows in grouped.items()]


def _refund_cell(row: Node) -> Money | None:
    if not row.has("Refunded Amount"):
        return None
    amount = row.decimal("Refunded Amount")
    return row.ctx.money(row.at("Refunded Amount"), amount, row.currency("Currency code"))


def _return(ctx: Context, rma: str, rows: list[Node]) -> Return:
    first = rows[0]
    lines = tuple(
        ReturnLine(
            sku=r.opt_text("Merchant SKU"),
            quantity=r.opt_integer("Return quantity"),
            amount=_refund_cell(r),
        )
        for r in rows
    )
    return ctx.make(
        Return,
        first.path,
        natural_key=rma,
        return_id=rma,
        order_id=first.text("Order ID"),
        created_at=first.instant("Return request date"),
        status=first.opt_text("Return request status"),
        reason=first.opt_text("Return reason"),
        refund_amount=sum_money(ctx, first.path, [line.amount for line in lines]),
        lines=lines,
    )


# --- transactions (Finances v0 financial events) -------------------------------------


def transactions(ctx: Context, payload: dict | str) -> list[Transaction]:
    events = _body(ctx, payload).opt_obj("FinancialEvents")  # optional: empty pages happen
    group, _, currency = ctx.scope.partition("|")
    if currency:  # a posted-date page listed for one group: its currency's events only
        ctx = replace(ctx, scope=group)
    out: list[Transaction] = []
    for list_name in events.data if events else ():
        for event in events.objs(list_name):
            parts = list(_components(ctx, list_name, event))
            if currency and parts and _currency_of(parts) != currency:
                continue
            out.extend(parts)
    return out


def _currency_of(parts: list[Transaction]) -> str | None:
    """An event's currency: its first amount's (an event is in one currency)."""
    return next((t.amount.currency for t in parts if t.amount is not None), None)


def _posted(list_name: str, event: Node) -> datetime | None:
    key = event.pick(*_DATE_KEYS)
    if list_name in _UNDATED and not event.has(key):
        return None
    return event.instant(key)


def _components(ctx: Context, list_name: str, event: Node) -> Iterator[Transaction]:
    posted = _posted(list_name, event)
    if posted is None:  # no date to tell identical events apart: the group has to
        digest = content_hash(list_name, event.data, ctx.scope)
    else:
        digest = content_hash(list_name, event.data)
    order_id = event.get("AmazonOrderId") or event.get("OrderId")
    description = event.get("FeeDescription") or event.get("Description")
    for money, container, trail, item in _money_fields(event, (), None):
        leaf = trail[-1]
        type_field = _TYPE_FIELD.get(leaf)
        yield ctx.make(
            Transaction,
            money.path,
            natural_key=f"{digest}:{'.'.join(trail)}",
            transaction_id=digest,
            kind=_kind(list_name, trail),
            type=(container.get(type_field) or leaf) if type_field else leaf,
            event_type=list_name,
            posted_at=posted,
            amount=money.money("CurrencyAmount", "CurrencyCode"),
            order_id=order_id,
            order_item_id=item.get("OrderItemId") if item else None,
            sku=(item.get("SellerSKU") if item else None) or event.get("SellerSKU"),
            payout_id=event.get("FinancialEventGroupId") or ctx.scope or None,
            description=description,
        )


def _money_fields(
    node: Node, trail: tuple[str, ...], item: Node | None
) -> Iterator[tuple[Node, Node, tuple[str, ...], Node | None]]:
    """(Currency object, the object holding it, its path, enclosing shipment item) for
    every money field under ``node``, skipping restating breakdowns."""
    for key, value in node.data.items():
        if key in _BREAKDOWNS:
            continue
        if isinstance(value, dict) and ("CurrencyAmount" in value or "CurrencyCode" in value):
            yield node.obj(key), node, (*trail, key), item
        elif isinstance(value, dict):
            yield from _money_fields(node.obj(key), (*trail, key), item)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for i, child in enumerate(node.objs(key)):
                inner = child if key in _ITEM_LISTS else item
                yield from _money_fields(child, (*trail, key, str(i)), inner)


def _kind(list_name: str, trail: tuple[str, ...]) -> TransactionKind:
    """Withheld taxes -> tax; disbursement lists -> payout; fee lists and fee fields -> fee;
    promotions -> promotion; charges -> charge (refund in refund/chargeback/guarantee
    claim events); other tax fields -> tax; anything else -> adjustment."""
    leaf = trail[-1]
    if any("Withheld" in step for step in trail):
        return "tax"
    if list_name in _PAYOUT_LISTS:
        return "payout"
    if list_name in _FEE_LISTS or "fee" in leaf.lower():
        return "fee"
    if leaf == "PromotionAmount":
        return "promotion"
    if leaf == "ChargeAmount" and list_name != "ChargeRefundEventList":
        return "refund" if list_name in _REFUND_LISTS else "charge"
    if "tax" in leaf.lower() and "exclusive" not in leaf.lower():
        return "tax"
    return "adjustment"


# --- payouts (financial event groups) and inventory ----------------------------------


def payouts(ctx: Context, payload: dict | str) -> list[Payout]:
    groups = _body(ctx, payload).objs("FinancialEventGroupList")
    return [_payout(ctx, g) for g in groups]


def _currency_money(node: Node, key: str) -> Money | None:
    value = node.opt_obj(key)
    return value.money("CurrencyAmount", "CurrencyCode") if value else None


def _payout(ctx: Context, g: Node) -> Payout:
    group_id = g.text("FinancialEventGroupId")
    return ctx.make(
        Payout,
        g.path,
        natural_key=group_id,
        payout_id=group_id,
        status=g.opt_text("FundTransferStatus") or g.opt_text("ProcessingStatus"),
        amount=_currency_money(g, "OriginalTotal"),
        settled_amount=_currency_money(g, "ConvertedTotal"),
        issued_at=g.opt_instant("FundTransferDate"),
        period_start=g.instant("FinancialEventGroupStart"),
        period_end=g.opt_instant("FinancialEventGroupEnd"),
        bank_reference=g.opt_text("TraceId"),
    )


def inventory(ctx: Context, payload: dict | str) -> list[InventoryLevel]:
    body = _body(ctx, payload)
    granularity = body.opt_obj("granularity")
    location = granularity.opt_text("granularityId") if granularity else None
    summaries = body.objs("inventorySummaries", required=True)
    return [_level(ctx, location, s) for s in summaries]


def _level(ctx: Context, location: str | None, s: Node) -> InventoryLevel:
    sku = s.text("sellerSku")
    details = s.opt_obj("inventoryDetails")
    reserved = details.opt_obj("reservedQuantity") if details else None
    inbound_keys = ("inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity")
    inbound = [details.opt_integer(k) for k in inbound_keys] if details else []
    present = [n for n in inbound if n is not None]
    return ctx.make(
        InventoryLevel,
        s.path,
        natural_key=f"{location}|{sku}" if location else sku,
        sku=sku,
        product_id=s.opt_text("asin"),
        location_id=location,
        available=details.opt_integer("fulfillableQuantity") if details else None,
        total=s.opt_integer("totalQuantity"),
        reserved=reserved.opt_integer("totalReservedQuantity") if reserved else None,
        inbound=sum(present) if present else None,
        updated_at=s.opt_instant("lastUpdatedTime"),
    )
