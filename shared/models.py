"""Canonical records: what every platform's data becomes once normalized.

Contracts shared by every record:

- ``platform`` is one of amazon, shopify, ebay, etsy, quiltt; ``account`` is the seller
  account (shop, bank profile) the record belongs to, as the caller named it ("" when the
  caller did not say); ``resource`` names the record type and discriminates the union
  ``AnyRecord`` so records survive ``model_dump(mode="json")`` / ``model_validate`` across
  durable boundaries.
- ``natural_key`` identifies the record within (platform, account, resource): the
  platform's own id, or a documented composite / content hash where it has none (see each
  platform's ``normalize`` module). A retried or overlapping load yields the same key.
- Every datetime is timezone-aware UTC (naive datetimes are rejected; aware ones are
  converted). A platform that gives only a date yields UTC midnight of that date.
- Money is ``Money``: an exact ``Decimal`` in major units (dollars, not cents; yen stay
  yen) with its ISO 4217 currency; floats are rejected. Amounts are signed from the
  seller's point of view where the docstring says "signed" (+ money in, - money out),
  otherwise they are magnitudes as the platform states them.
- Records are frozen; quantities are whole units.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

Platform = Literal["amazon", "shopify", "ebay", "etsy", "quiltt"]
TransactionKind = Literal["charge", "refund", "fee", "tax", "promotion", "adjustment", "payout"]

# Characters Azure Table Storage forbids in PartitionKey/RowKey are '/', '\', '#', '?' and
# control characters; '%' and '|' are escaped too so the encoding stays reversible.
_KEY_SAFE = "-_.~:@!$&'()*+,;=[]{}"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money amounts must be Decimal, int or str, never float")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    """An exact amount in major units of ``currency`` (ISO 4217)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
    currency: Currency


def table_key(text: str) -> str:
    """``text`` percent-encoded so it is a valid, reversible Azure Table key part."""
    return quote(text, safe=_KEY_SAFE)


class Record(BaseModel):
    """Fields every canonical record carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    account: str
    resource: str
    natural_key: str = Field(min_length=1)

    @property
    def storage_key(self) -> str:
        """``platform|account|resource|natural_key``, each part table-safe (see table_key).

        Equal for every delivery of the same record, so a retried write is an upsert."""
        parts = (self.platform, self.account, self.resource, self.natural_key)
        return "|".join(table_key(p) for p in parts)


class Order(Record):
    """One order (Amazon order, Shopify order, eBay order, Etsy receipt).

    ``total`` is what the buyer pays (items + shipping + tax - discounts) as the platform
    states it; ``subtotal`` / ``tax`` / ``shipping`` / ``discount`` are its parts where the
    platform gives them. ``discount`` is a positive magnitude. Money is None while the
    platform withholds it (Amazon hides prices of Pending orders)."""

    resource: Literal["orders"] = "orders"
    order_id: str
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    status: str | None = None
    payment_status: str | None = None
    cancelled: bool | None = None
    marketplace: str | None = None
    seller_reference: str | None = None
    total: Money | None = None
    subtotal: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    discount: Money | None = None


class OrderItem(Record):
    """One line of an order: a product and a quantity.

    ``line_price`` is the price of all ``quantity`` units before tax and discounts
    (Amazon ItemPrice, eBay lineItemCost, unit price x quantity elsewhere); ``unit_price``
    is given only where the platform states it. ``discount`` is a positive magnitude.
    ``created_at`` is the order's creation time when the payload carries it."""

    resource: Literal["order_items"] = "order_items"
    order_id: str
    item_id: str | None = None
    sku: str | None = None
    product_id: str | None = None
    title: str | None = None
    quantity: int = Field(ge=0)
    unit_price: Money | None = None
    line_price: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    discount: Money | None = None
    created_at: UtcDatetime | None = None


class Transaction(Record):
    """One money movement on the seller's platform balance: a single component.

    ``amount`` is signed (+ credited to the seller, - debited). Platforms that report a
    transaction with its fees (Shopify balance transactions, eBay, Etsy payments) yield one
    record per component, all sharing ``transaction_id``, so the amounts of a transaction
    add up to its net effect. ``kind`` is the canonical class; ``type`` the platform's
    own component type (ChargeType, FeeType, feeType, ledger type ...); ``event_type`` the
    platform's event or transaction type (Amazon event list, eBay transactionType, ...).
    ``posted_at`` is None only where the platform gives the event no time at all (Amazon
    ServiceFee, LoanServicing and DebtRecovery events)."""

    resource: Literal["transactions"] = "transactions"
    transaction_id: str | None = None
    kind: TransactionKind
    type: str
    event_type: str | None = None
    posted_at: UtcDatetime | None
    amount: Money
    order_id: str | None = None
    order_item_id: str | None = None
    sku: str | None = None
    payout_id: str | None = None
    status: str | None = None
    description: str | None = None


class InventoryLevel(Record):
    """Stock of one SKU (or product) at one location, as of ``updated_at``.

    ``available`` can be sold now; ``total`` is every unit the platform counts (on hand,
    plus Amazon's inbound/reserved/unfulfillable); ``location_id`` is the marketplace
    (Amazon) or location (Shopify) the level belongs to, None where there is one pool."""

    resource: Literal["inventory"] = "inventory"
    sku: str | None = None
    product_id: str | None = None
    location_id: str | None = None
    available: int | None = None
    total: int | None = None
    reserved: int | None = None
    inbound: int | None = None
    updated_at: UtcDatetime | None = None


class ReturnLine(BaseModel):
    """One returned or refunded line; ``amount`` is a positive magnitude."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_item_id: str | None = None
    sku: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    amount: Money | None = None


class Return(Record):
    """A return or refund of (part of) an order. ``refund_amount`` is the positive amount
    given back to the buyer; None while nothing was refunded yet."""

    resource: Literal["returns"] = "returns"
    return_id: str
    order_id: str | None = None
    created_at: UtcDatetime
    status: str | None = None
    reason: str | None = None
    refund_amount: Money | None = None
    lines: tuple[ReturnLine, ...] = ()


class Payout(Record):
    """A transfer of the platform balance to the seller's bank (Amazon settlement group).

    ``amount`` is signed as the platform states it (+ paid to the seller, - charged);
    ``settled_amount`` is the same payout in the currency that reached the bank when the
    platform converts (Amazon ConvertedTotal). ``issued_at`` is None until funds moved;
    ``bank_reference`` is what the bank statement shows (trace id) where given."""

    resource: Literal["payouts"] = "payouts"
    payout_id: str
    status: str | None = None
    amount: Money | None = None
    settled_amount: Money | None = None
    issued_at: UtcDatetime | None = None
    period_start: UtcDatetime | None = None
    period_end: UtcDatetime | None = None
    bank_reference: str | None = None


class BankTransaction(Record):
    """One bank account entry seen through Quiltt.

    ``booked_at`` is UTC midnight of the bank's booking date (banks give a date, no time);
    ``amount`` is signed (+ CREDIT, - DEBIT)."""

    resource: Literal["bank_transactions"] = "bank_transactions"
    transaction_id: str
    bank_account_id: str | None = None
    booked_at: UtcDatetime
    amount: Money
    status: str | None = None
    description: str | None = None

    @property
    def booked_on(self) -> date:
        return self.booked_at.date()


AnyRecord = Annotated[
    Order | OrderItem | Transaction | InventoryLevel | Return | Payout | BankTransaction,
    Field(discriminator="resource"),
]
RECORD_TYPES: dict[str, type[Record]] = {
    "orders": Order,
    "order_items": OrderItem,
    "transactions": Transaction,
    "inventory": InventoryLevel,
    "returns": Return,
    "payouts": Payout,
    "bank_transactions": BankTransaction,
}
_ANY = TypeAdapter(AnyRecord)


def record_from_json(data: dict[str, Any]) -> Record:
    """The record ``model_dump(mode="json")`` produced, rebuilt (type from ``resource``)."""
    return _ANY.validate_python(data)
