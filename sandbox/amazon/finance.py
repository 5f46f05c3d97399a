"""Financial events and financial event groups (payouts), derived from the order history.

Events (Finances v0 shapes; amounts signed from the seller's point of view):
- ShipmentEventList: one event per shipment of an order (two for a partial shipment):
  Principal, Tax, ShippingCharge; Commission and FBA fees; marketplace-facilitator tax
  withheld; promotions.
- RefundEventList: one per refunded return (adjustment lists, reversed signs, a
  RefundCommission fee).
- AdjustmentEventList: FBAInventoryReimbursement (positive) and PostageBilling (negative,
  one per bought shipping label). Amazon gives these no id and no order id.
- ServiceFeeEventList: the monthly Subscription fee and FBA storage fee. Amazon's
  ServiceFeeEvent has no PostedDate; the sandbox keeps the time internally to filter.

Groups: each currency settles in 14-day groups [start, end). A group is Open until ``end``,
then Closed; funds are transferred at ``transfer`` (> end), the group's FundTransferDate. A
closed group's OriginalTotal is exactly the sum of its events' totals; ConvertedTotal is in
USD (JPY groups are converted at the group's rate). BeginningBalance is always zero.

Natural key of a transaction (``natural_key``): (FinancialEventGroupId, EventList, the
event payload as canonical JSON). The generator guarantees it is unique; real Amazon does
not promise that, which is why the group id is part of it.
"""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sandbox.amazon.data import DAY, HOUR, History, Item, Order, Return, poisson
from sandbox.amazon.formats import MARKETPLACES, currency_amount, iso, quantize

GROUP_DAYS = 14
_COMMISSION = {"USD": Decimal("0.15"), "JPY": Decimal("0.10")}
_MIN_COMMISSION = {"USD": Decimal("0.30"), "JPY": Decimal(30)}
_FBA_FEE = {"USD": Decimal("3.22"), "JPY": Decimal(318)}
_SUBSCRIPTION = {"USD": Decimal("39.99"), "JPY": Decimal(4900)}
_MAX_REFUND_ADMIN = {"USD": Decimal("5.00"), "JPY": Decimal(500)}


@dataclass
class FinancialEvent:
    list_name: str
    posted: int
    currency: str
    order_id: str | None
    payload: dict[str, Any]
    total: Decimal
    seq: int = 0  # the sandbox's own id; never shown by the API
    group_id: str = ""


@dataclass
class EventGroup:
    group_id: str
    currency: str
    start: int
    end: int  # exclusive
    transfer: int
    trace_id: str
    account_tail: str
    usd_rate: Decimal
    events: list[FinancialEvent] = field(default_factory=list)
    _times: list[int] = field(default_factory=list)
    _cumulative: list[Decimal] = field(default_factory=list)

    def seal(self) -> None:
        self.events.sort(key=lambda e: (e.posted, e.seq))
        self._times = [e.posted for e in self.events]
        running, self._cumulative = Decimal(0), []
        for event in self.events:
            running += event.total
            self._cumulative.append(running)

    def total_at(self, t: float) -> Decimal:
        n = bisect.bisect_right(self._times, t)
        return self._cumulative[n - 1] if n else Decimal(0)

    def converted(self) -> Decimal:
        return quantize(self.total_at(self.end) * self.usd_rate, "USD")

    def payload(self, now: float) -> dict[str, Any]:
        """The FinancialEventGroup as the API shows it at ``now`` (requires start <= now)."""
        out: dict[str, Any] = {
            "FinancialEventGroupId": self.group_id,
            "ProcessingStatus": "Open" if now < self.end else "Closed",
            "FundTransferStatus": "Unknown",
            "OriginalTotal": currency_amount(self.total_at(now), self.currency),
            "BeginningBalance": currency_amount(Decimal(0), self.currency),
            "FinancialEventGroupStart": iso(self.start),
        }
        if now >= self.end:
            out["FinancialEventGroupEnd"] = iso(self.end)
            out["ConvertedTotal"] = currency_amount(self.converted(), "USD")
            out["FundTransferStatus"] = "Processing"
        if now >= self.transfer:
            out.update(
                FundTransferStatus="Succeeded",
                FundTransferDate=iso(self.transfer),
                TraceId=self.trace_id,
                AccountTail=self.account_tail,
            )
        return out


@dataclass
class Ledger:
    events: list[FinancialEvent]  # by (posted, seq)
    groups: list[EventGroup]  # by (start, currency)
    by_order: dict[str, list[FinancialEvent]]


def natural_key(record: dict[str, Any]) -> tuple[str, str, str]:
    """The documented key of a ground-truth transaction record."""
    payload = {k: v for k, v in record.items() if k not in ("FinancialEventGroupId", "EventList")}
    return (
        record["FinancialEventGroupId"],
        record["EventList"],
        json.dumps(payload, sort_keys=True, ensure_ascii=False),
    )


def event_total(payload: dict[str, Any]) -> Decimal:
    """Sum of every amount in an event payload (charges, fees, withheld taxes, promotions)."""
    total = Decimal(0)
    for key, value in payload.items():
        if isinstance(value, dict) and "CurrencyAmount" in value and key != "PerUnitAmount":
            total += Decimal(str(value["CurrencyAmount"]))
        elif isinstance(value, list) and key != "AdjustmentItemList":
            total += sum((event_total(v) for v in value if isinstance(v, dict)), Decimal(0))
        elif isinstance(value, dict):
            total += event_total(value)
    return total


def _commission(item: Item, currency: str) -> Decimal:
    raw = quantize((item.net + item.shipping) * _COMMISSION[currency], currency)
    return max(raw, _MIN_COMMISSION[currency])


class _Lines:
    """Builds charge/fee components and keeps their (quantized) sum."""

    def __init__(self, currency: str) -> None:
        self.currency, self.total = currency, Decimal(0)

    def amount(self, value: Decimal) -> dict[str, Any]:
        value = quantize(value, self.currency)
        self.total += value
        return currency_amount(value, self.currency, exact=True)

    def charge(self, kind: str, value: Decimal) -> dict[str, Any]:
        return {"ChargeType": kind, "ChargeAmount": self.amount(value)}

    def fee(self, kind: str, value: Decimal) -> dict[str, Any]:
        return {"FeeType": kind, "FeeAmount": self.amount(value)}


def _item_lines(item: Item, channel: str, sum_: _Lines, sign: int) -> dict[str, Any]:
    """Charges/fees of one item; ``sign`` -1 gives the refund's reversed adjustment lists."""
    s, currency = Decimal(sign), sum_.currency
    charges = [sum_.charge("Principal", s * item.item_price)]
    if item.tax:
        charges.append(sum_.charge("Tax", s * item.tax))
    if item.shipping and sign > 0:
        charges.append(sum_.charge("ShippingCharge", item.shipping))
    fees = []
    if channel == "AFN" and sign > 0:
        fees.append(sum_.fee("FBAPerUnitFulfillmentFee", -_FBA_FEE[currency] * item.quantity))
    commission = _commission(item, currency)
    fees.append(sum_.fee("Commission", -s * commission))
    if sign < 0:
        admin = min(quantize(commission * Decimal("0.2"), currency), _MAX_REFUND_ADMIN[currency])
        fees.append(sum_.fee("RefundCommission", -admin))
    suffix = "" if sign > 0 else "Adjustment"
    lines: dict[str, Any] = {f"ItemCharge{suffix}List": charges, f"ItemFee{suffix}List": fees}
    if item.tax:
        withheld = [sum_.charge("MarketplaceFacilitatorTax-Principal", -s * item.tax)]
        lines["ItemTaxWithheldList"] = [
            {"TaxCollectionModel": "MarketplaceFacilitator", "TaxesWithheld": withheld}
        ]
    if item.promotion:
        promo = {
            "PromotionType": "PromotionMetaDataDefinitionValue",
            "PromotionId": item.promotion_id,
            "PromotionAmount": sum_.amount(-s * item.promotion),
        }
        lines[f"Promotion{suffix}List"] = [promo]
    return lines


def _shipment(order: Order, posted: int, units: tuple[int, ...]) -> FinancialEvent:
    sum_ = _Lines(order.marketplace.currency)
    items = [
        {
            "SellerSKU": it.sku.sku,
            "OrderItemId": it.order_item_id,
            "QuantityShipped": n,
            **_item_lines(it, order.channel, sum_, +1),
        }
        for it, n in zip(order.items, units, strict=True)
        if n
    ]
    payload = {
        "AmazonOrderId": order.order_id,
        "MarketplaceName": order.marketplace.sales_channel,
        "PostedDate": iso(posted),
        "ShipmentItemList": items,
    }
    return FinancialEvent(
        "ShipmentEventList", posted, sum_.currency, order.order_id, payload, sum_.total
    )


def _refund(ret: Return, adjustment_id: str) -> FinancialEvent:
    order, sum_ = ret.order, _Lines(ret.order.marketplace.currency)
    item = {
        "SellerSKU": ret.item.sku.sku,
        "OrderItemId": ret.item.order_item_id,
        "OrderAdjustmentItemId": adjustment_id,
        "QuantityShipped": ret.quantity,
        **_item_lines(ret.item, order.channel, sum_, -1),
    }
    assert ret.refunded is not None
    payload = {
        "AmazonOrderId": order.order_id,
        "MarketplaceName": order.marketplace.sales_channel,
        "PostedDate": iso(ret.refunded),
        "ShipmentItemAdjustmentList": [item],
    }
    return FinancialEvent(
        "RefundEventList", ret.refunded, sum_.currency, order.order_id, payload, sum_.total
    )


def _adjustment(
    kind: str,
    posted: int,
    amount: Decimal,
    currency: str,
    items: list[dict[str, Any]] | None = None,
) -> FinancialEvent:
    payload: dict[str, Any] = {
        "AdjustmentType": kind,
        "PostedDate": iso(posted),
        "AdjustmentAmount": currency_amount(amount, currency),
    }
    if items:
        payload["AdjustmentItemList"] = items
    return FinancialEvent(
        "AdjustmentEventList", posted, currency, None, payload, quantize(amount, currency)
    )


def _service_fee(
    kind: str, description: str, posted: int, amount: Decimal, currency: str
) -> FinancialEvent:
    payload = {
        "FeeDescription": description,
        "FeeList": [{"FeeType": kind, "FeeAmount": currency_amount(-amount, currency)}],
    }
    return FinancialEvent(
        "ServiceFeeEventList", posted, currency, None, payload, -quantize(amount, currency)
    )


def _order_events(rng: random.Random, history: History) -> list[FinancialEvent]:
    out = []
    for order in history.orders:
        currency = order.marketplace.currency
        for at, units in order.shipments():
            out.append(_shipment(order, at + rng.randint(HOUR // 2, 4 * HOUR), units))
            if order.channel == "MFN" and rng.random() < 0.5:
                label = (
                    Decimal(str(round(rng.uniform(3.5, 9.5), 2)))
                    if currency == "USD"
                    else Decimal(rng.randint(400, 900))
                )
                out.append(
                    _adjustment("PostageBilling", at - rng.randint(600, 2 * HOUR), -label, currency)
                )
    for n, ret in enumerate(r for r in history.returns if r.refunded is not None):
        out.append(_refund(ret, f"{ret.item.order_item_id[:6]}{n:08d}"))
    return out


def _account_events(rng: random.Random, history: History) -> list[FinancialEvent]:
    out = []
    for market_id in sorted({o.marketplace.marketplace_id for o in history.orders}):
        market = MARKETPLACES[market_id]
        currency = market.currency
        afn = [s for s in history.skus if s.marketplace is market and s.channel == "AFN"]
        for month_start in range(history.start, history.horizon, 30 * DAY):
            t = month_start + DAY + 8 * HOUR + rng.randint(0, 3 * HOUR)
            out.append(
                _service_fee(
                    "Subscription", "Subscription Fee", t, _SUBSCRIPTION[currency], currency
                )
            )
            if not afn:
                continue
            storage = quantize(
                Decimal(str(rng.uniform(5, 60))) * (150 if currency == "JPY" else 1), currency
            )
            out.append(
                _service_fee(
                    "FBAStorageFee",
                    "FBA Inventory Storage Fee",
                    t + 8 * DAY + rng.randint(0, DAY),
                    storage,
                    currency,
                )
            )
            for _ in range(poisson(rng, 1.2)):
                sku, qty = rng.choice(afn), rng.randint(1, 3)
                unit = quantize(sku.price * Decimal("0.4"), currency)
                item = {
                    "Quantity": str(qty),
                    "PerUnitAmount": currency_amount(unit, currency),
                    "TotalAmount": currency_amount(unit * qty, currency),
                    "SellerSKU": sku.sku,
                    "FnSKU": sku.fnsku,
                    "ProductDescription": sku.title,
                    "ASIN": sku.asin,
                }
                out.append(
                    _adjustment(
                        "FBAInventoryReimbursement",
                        month_start + rng.randint(0, 30 * DAY),
                        unit * qty,
                        currency,
                        [item],
                    )
                )
    return out


def _groups(rng: random.Random, history: History, currencies: set[str]) -> list[EventGroup]:
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    groups = []
    for currency in sorted(currencies):
        t = history.start - rng.randint(0, GROUP_DAYS - 1) * DAY - rng.randint(0, DAY)
        tail = f"{rng.randint(0, 999):03d}"
        while t < history.horizon:
            end = t + GROUP_DAYS * DAY
            rate = (
                Decimal(1)
                if currency == "USD"
                else Decimal(str(round(rng.uniform(0.0062, 0.0072), 6)))
            )
            groups.append(
                EventGroup(
                    "".join(rng.choice(chars) for _ in range(43)),
                    currency,
                    t,
                    end,
                    end + rng.randint(2 * HOUR, 30 * HOUR),
                    str(rng.randint(10**13, 10**14 - 1)),
                    tail,
                    rate,
                )
            )
            t = end
    return sorted(groups, key=lambda g: (g.start, g.currency))


def _unique(events: list[FinancialEvent]) -> None:
    """Nudge adjustment events one second later until no two of a currency share a second.

    Shipment and refund events are unique by (order, PostedDate) by construction; service
    fees are monthly, so never twice in one 14-day group."""
    seen: set[tuple[str, int]] = set()
    for event in events:
        if event.list_name != "AdjustmentEventList":
            continue
        while (event.currency, event.posted) in seen:
            event.posted += 1
            event.payload["PostedDate"] = iso(event.posted)
        seen.add((event.currency, event.posted))


def build_ledger(scenario_seed: int, history: History) -> Ledger:
    rng = random.Random(f"amazon-finance/{scenario_seed}/{history.client_id}")
    events = [
        e
        for e in _order_events(rng, history) + _account_events(rng, history)
        if history.start <= e.posted < history.horizon
    ]
    events.sort(key=lambda e: (e.posted, e.list_name, e.order_id or ""))
    _unique(events)
    events.sort(key=lambda e: (e.posted, e.list_name, e.order_id or ""))
    groups = _groups(rng, history, {e.currency for e in events} | {"USD"})
    series = {c: [g for g in groups if g.currency == c] for c in {g.currency for g in groups}}
    starts = {c: [g.start for g in gs] for c, gs in series.items()}
    by_order: dict[str, list[FinancialEvent]] = {}
    for seq, event in enumerate(events, start=1):
        event.seq = seq
        index = bisect.bisect_right(starts[event.currency], event.posted) - 1
        group = series[event.currency][index]
        event.group_id = group.group_id
        group.events.append(event)
        if event.order_id:
            by_order.setdefault(event.order_id, []).append(event)
    for group in groups:
        group.seal()
    assert all(a.end == b.start for a, b in pairwise(series["USD"]))
    return Ledger(events, groups, by_order)
