"""Etsy Open API v3 pages -> canonical records (pure). Field names from etsy-openapi-v3.json.

Inputs, one page each (JSON, or its text); list pages are ``{"count", "results": [...]}``:

    orders        getShopReceipts page (ShopReceipt results)
    order_items   getShopReceiptTransactions* page (ShopReceiptTransaction results), or a
                  receipts page whose receipts carry ``transactions`` (newer API versions).
                  ``scope`` ``created:{min}..{max}`` (``created_scope``; inclusive unix
                  seconds) keeps only the transactions created in those bounds, and
                  those without a creation time: getShopReceiptTransactionsByShop has
                  no date filter, so a windowed crawl of it reads pages that reach
                  beyond its window (``pagination``) and is normalized with its
                  window as scope. Empty scope: every transaction of the page.
    transactions  getPaymentAccountLedgerEntries page (PaymentAccountLedgerEntry results),
                  or a getPayments* page (Payment results)
    payouts       a ledger entries page: the entries that are disbursements (see below)
    returns       a getPayments* page: each payment's ``payment_adjustments`` (refunds)
    inventory     getListingsByShop page with ``includes=Inventory`` (each listing's
                  ``inventory``: a ListingInventory), or a getListingInventory response
                  ``{"products": [...]}``

Money: Etsy Money ``{amount, divisor, currency_code}`` is ``amount / divisor`` exactly (JPY
has divisor 1); ledger ``amount`` and payment-adjustment amounts are integers in the
currency's minor unit (cents; yen for JPY). Times are epoch seconds; newer API versions
rename ``create_timestamp`` to ``created_timestamp`` (and ledger ``create_date``), both
are read.

Natural keys: orders ``receipt_id``; order_items ``{receipt_id}|{transaction_id}``;
transactions ``entry:{entry_id}`` for ledger entries, ``payment:{payment_id}:gross`` /
``:fees`` for a payment and ``adjustment:{payment_adjustment_id}:refund`` / ``:fees`` for
its refunds; payouts ``entry_id``; returns ``payment_adjustment_id``; inventory
``product_id``. Ledger entries and payments describe the same money from two sides: load
one of them into statistics, not both.

Ledger entry kinds (``_ledger_kind``, on ``ledger_type``, else ``description``, upper-cased):
contains DISBURSE -> payout (a disbursement: the payout rule); REFUND without FEE ->
refund; FEE, or an Etsy fee type (listing, transaction, renew_*, shipping_label ...) ->
fee; PAYMENT or SALE -> charge; TAX -> tax; anything else -> adjustment. A payout's
amount is the entry's amount negated (money leaving Etsy for the bank is positive).
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.errors import ConfigurationError
from shared.models import (
    InventoryLevel,
    Money,
    Order,
    OrderItem,
    Payout,
    Return,
    Transaction,
    TransactionKind,
)
from shared.normalize._common import (
    Context,
    Node,
    divide_exact,
    from_minor_units,
    load_json,
    magnitude,
    scaled,
    sum_money,
)

_FEE_TYPES = frozenset(
    {
        "LISTING",
        "TRANSACTION",
        "TRANSACTION_QUANTITY",
        "RENEW_SOLD",
        "RENEW_SOLD_AUTO",
        "RENEW_EXPIRED",
        "SHIPPING_LABEL",
        "SHIPPING_TRANSACTION",
    }
)


def _results(ctx: Context, payload: dict | str) -> list[Node]:
    page = ctx.node(load_json(ctx, payload) if isinstance(payload, str) else payload)
    if page.has("error"):
        page.fail("error", f"error response: {page.get('error')!r}")
    return page.objs("results", required=True)


def _money(node: Node, key: str) -> Money | None:
    """Etsy Money ``{amount, divisor, currency_code}`` as amount / divisor."""
    value = node.opt_obj(key)
    if value is None:
        return None
    try:
        amount = divide_exact(value.req("amount"), value.req("divisor"))
    except ValueError as exc:
        value.fail("amount", str(exc))
    return node.ctx.money(value.at("amount"), amount, value.currency("currency_code"))


def _minor(node: Node, key: str, currency: str) -> Money | None:
    """An integer amount in ``currency``'s minor unit (ledger, payment adjustments)."""
    if not node.has(key):
        return None
    try:
        amount = from_minor_units(node.req(key), currency)
    except ValueError as exc:
        node.fail(key, str(exc))
    return node.ctx.money(node.at(key), amount, currency)


def _ledger_amount(entry: Node) -> Money:
    amount = _minor(entry, "amount", entry.currency("currency"))
    return amount if amount is not None else entry.fail("amount", "is missing")


def _created(node: Node, older: str = "create_timestamp") -> datetime:
    """Creation time: ``created_timestamp`` (newer API versions) or ``older``."""
    return node.epoch(node.pick("created_timestamp", older))


# --- receipts and their transactions ---------------------------------------------------


def orders(ctx: Context, payload: dict | str) -> list[Order]:
    return [_order(ctx, r) for r in _results(ctx, payload)]


def _order(ctx: Context, r: Node) -> Order:
    receipt_id, status = r.ident("receipt_id"), r.opt_text("status")
    paid = r.flag("is_paid")
    taxes = [_money(r, "total_tax_cost"), _money(r, "total_vat_cost")]
    return ctx.make(
        Order,
        r.path,
        natural_key=receipt_id,
        order_id=receipt_id,
        created_at=_created(r),
        updated_at=r.opt_epoch(r.pick("updated_timestamp", "update_timestamp")),
        status=status,
        payment_status=None if paid is None else ("paid" if paid else "unpaid"),
        cancelled=status.lower() == "canceled" if status else None,
        total=_money(r, "grandtotal"),
        subtotal=_money(r, "subtotal"),
        tax=sum_money(ctx, r.at("total_tax_cost"), taxes),
        shipping=_money(r, "total_shipping_cost"),
        discount=magnitude(_money(r, "discount_amt")),
    )


SCOPE_CREATED = "created:"


def created_scope(low: int, high: int) -> str:
    """The ``scope`` that keeps the order items created in ``[low, high]`` (inclusive
    unix seconds, as Etsy's own ``min_created`` / ``max_created``)."""
    if high < low:
        raise ConfigurationError(f"etsy: empty creation bounds {low}..{high}")
    return f"{SCOPE_CREATED}{low}..{high}"


def created_bounds(scope: str) -> tuple[int, int] | None:
    """``(low, high)`` of a ``created_scope``; None for the empty scope. Raises
    ConfigurationError for any other scope."""
    if not scope:
        return None
    low, sep, high = scope.removeprefix(SCOPE_CREATED).partition("..")
    if not scope.startswith(SCOPE_CREATED) or not sep or not low.isdigit() or not high.isdigit():
        raise ConfigurationError(f"etsy order_items: unknown scope {scope!r}")
    return int(low), int(high)


def order_items(ctx: Context, payload: dict | str) -> list[OrderItem]:
    bounds = created_bounds(ctx.scope)
    out = []
    for result in _results(ctx, payload):
        if result.has("transaction_id"):
            out.append(_item(ctx, result.ident("receipt_id"), result))
        else:
            receipt_id = result.ident("receipt_id")
            txns = result.objs("transactions", required=True)
            out.extend(_item(ctx, receipt_id, t) for t in txns)
    if bounds is None:
        return out
    low, high = (datetime.fromtimestamp(b, UTC) for b in bounds)
    return [i for i in out if i.created_at is None or low <= i.created_at <= high]


def _item(ctx: Context, receipt_id: str, t: Node) -> OrderItem:
    txn_id, quantity = t.ident("transaction_id"), t.integer("quantity")
    unit = _money(t, "price")
    created = t.pick("created_timestamp", "create_timestamp")
    return ctx.make(
        OrderItem,
        t.path,
        natural_key=f"{receipt_id}|{txn_id}",
        order_id=receipt_id,
        item_id=txn_id,
        sku=t.opt_text("sku"),
        product_id=t.opt_ident("listing_id"),
        title=t.opt_text("title"),
        quantity=quantity,
        unit_price=unit,
        line_price=scaled(unit, quantity),
        shipping=_money(t, "shipping_cost"),
        created_at=t.opt_epoch(created),
    )


# --- ledger entries: transactions and payouts ------------------------------------------


def _ledger_type(entry: Node) -> str:
    return entry.opt_text("ledger_type") or entry.opt_text("description") or ""


def _ledger_kind(text: str) -> TransactionKind:
    upper = text.upper()
    if "DISBURSE" in upper:
        return "payout"
    if "REFUND" in upper and "FEE" not in upper:
        return "refund"
    if "FEE" in upper or upper in _FEE_TYPES or upper.startswith("RENEW"):
        return "fee"
    if "PAYMENT" in upper or "SALE" in upper:
        return "charge"
    return "tax" if "TAX" in upper else "adjustment"


def transactions(ctx: Context, payload: dict | str) -> list[Transaction]:
    out: list[Transaction] = []
    for result in _results(ctx, payload):
        if result.has("payment_id") and not result.has("entry_id"):
            out.extend(_payment(ctx, result))
        else:
            out.append(_entry(ctx, result))
    return out


def _entry(ctx: Context, e: Node) -> Transaction:
    entry_id, kind = e.ident("entry_id"), _ledger_type(e)
    reference = e.opt_ident("reference_id") if e.get("reference_type") == "receipt" else None
    return ctx.make(
        Transaction,
        e.path,
        natural_key=f"entry:{entry_id}",
        transaction_id=entry_id,
        kind=_ledger_kind(kind),
        type=kind or "ledger_entry",
        event_type=e.opt_text("reference_type"),
        posted_at=_created(e, "create_date"),
        amount=_ledger_amount(e),
        order_id=reference,
        description=e.opt_text("description"),
    )


def payouts(ctx: Context, payload: dict | str) -> list[Payout]:
    entries = _results(ctx, payload)
    return [_payout(ctx, e) for e in entries if _ledger_kind(_ledger_type(e)) == "payout"]


def _payout(ctx: Context, e: Node) -> Payout:
    entry_id = e.ident("entry_id")
    amount = _ledger_amount(e)
    return ctx.make(
        Payout,
        e.path,
        natural_key=entry_id,
        payout_id=entry_id,
        amount=scaled(amount, -1),
        issued_at=_created(e, "create_date"),
    )


# --- payments: transactions and returns ------------------------------------------------


def _payment(ctx: Context, p: Node) -> list[Transaction]:
    """A payment's gross and fees, and each refund's amount and returned fees."""
    payment_id, currency = p.ident("payment_id"), p.currency("currency")
    posted = _created(p, "create_timestamp")
    gross = _money(p, "amount_gross") or p.fail("amount_gross", "is missing")
    fees = scaled(_money(p, "amount_fees"), -1)
    parts: list[tuple[str, TransactionKind, str, Money | None, str, datetime]] = [
        (f"payment:{payment_id}:gross", "charge", "gross", gross, p.at("amount_gross"), posted),
        (f"payment:{payment_id}:fees", "fee", "fees", fees, p.at("amount_fees"), posted),
    ]
    for adj in p.objs("payment_adjustments"):
        key, when = f"adjustment:{adj.ident('payment_adjustment_id')}", _created(adj)
        refund = scaled(_minor(adj, "total_adjustment_amount", currency), -1)
        returned = _minor(adj, "total_fee_adjustment_amount", currency)
        parts.append((f"{key}:refund", "refund", "refund", refund, adj.path, when))
        parts.append((f"{key}:fees", "fee", "refund_fees", returned, adj.path, when))
    common = {
        "transaction_id": payment_id,
        "event_type": "payment",
        "order_id": p.opt_ident("receipt_id"),
        "status": p.opt_text("status"),
    }
    return [
        ctx.make(
            Transaction,
            path,
            natural_key=key,
            kind=kind,
            type=type_,
            posted_at=when,
            amount=amount,
            **common,
        )
        for key, kind, type_, amount, path, when in parts
        if amount is not None and (amount.amount != 0 or kind == "charge")
    ]


def returns(ctx: Context, payload: dict | str) -> list[Return]:
    out = []
    for p in _results(ctx, payload):
        currency = p.currency("currency")
        for adj in p.objs("payment_adjustments"):
            out.append(_return(ctx, p, adj, currency))
    return out


def _return(ctx: Context, p: Node, adj: Node, currency: str) -> Return:
    adj_id = adj.ident("payment_adjustment_id")
    return ctx.make(
        Return,
        adj.path,
        natural_key=adj_id,
        return_id=adj_id,
        order_id=p.opt_ident("receipt_id"),
        created_at=_created(adj),
        status=adj.opt_text("status"),
        reason=adj.opt_text("reason_code"),
        refund_amount=_minor(adj, "total_adjustment_amount", currency),
    )


# --- listing inventory -----------------------------------------------------------------


def inventory(ctx: Context, payload: dict | str) -> list[InventoryLevel]:
    page = ctx.node(load_json(ctx, payload) if isinstance(payload, str) else payload)
    if not page.has("results"):
        return [_level(ctx, product) for product in page.objs("products", required=True)]
    out = []
    for listing in page.objs("results", required=True):
        stock = listing.obj("inventory")
        out.extend(_level(ctx, product) for product in stock.objs("products", required=True))
    return out


def _level(ctx: Context, product: Node) -> InventoryLevel:
    """Available = units of the enabled, live offerings; 0 for a deleted product (so its
    stored level does not go stale)."""
    product_id = product.ident("product_id")
    live = [
        o.integer("quantity")
        for o in product.objs("offerings")
        if o.flag("is_enabled") is not False and o.flag("is_deleted") is not True
    ]
    deleted = product.flag("is_deleted") is True
    return ctx.make(
        InventoryLevel,
        product.path,
        natural_key=product_id,
        sku=product.opt_text("sku"),
        product_id=product_id,
        available=0 if deleted else sum(live, 0),
    )
