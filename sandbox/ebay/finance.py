"""eBay Finances: monetary transactions and the payouts that settle them.

Derived from the order history, deterministically:

    SALE             at checkout (+5..120 s), CREDIT, amount = cost + shipping - fees;
                     totalFeeBasisAmount = order total (tax included), per-line fees
                     FINAL_VALUE_FEE (13.6 %) and FINAL_VALUE_FEE_FIXED_PER_ORDER
    REFUND           at the refund, DEBIT, amount = the seller's share of the refunded lines
    SHIPPING_LABEL   at a shipment bought with an eBay label, DEBIT
    NON_SALE_CHARGE  Mondays 06:00 UTC an AD_FEE (2 % of last week's sales), and on the 1st
                     of each month an INSERTION_FEE; DEBIT

A transaction's funds are available one day after a SALE and at once for debits. A payout
is initiated every day at 09:00 UTC and takes every available, unpaid transaction; its
amount is exactly the sum of their signed amounts (CREDIT minus DEBIT). When that sum is
not positive the transactions wait for a later payout. A payout is INITIATED at its
``payoutDate`` and SUCCEEDED one day later.

Transaction status at ``t``: FUNDS_PROCESSING before the funds are available,
FUNDS_AVAILABLE_FOR_PAYOUT after, PAYOUT (with ``payoutId``) once its payout is initiated.
``transactionId`` is unique across types here (a SALE's is its order id, a REFUND's its
refund id); eBay itself pairs it with ``transactionType``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sandbox.ebay.data import DAY, HOUR, History, Order, Refund, Shipment
from sandbox.ebay.formats import Ids, cents

PAYOUT_HOUR = 9
SALE_HOLD = DAY
AD_RATE = Decimal("0.02")


@dataclass
class Txn:
    transaction_id: str
    kind: str  # SALE | REFUND | SHIPPING_LABEL | NON_SALE_CHARGE
    date: int
    booking: str  # CREDIT | DEBIT
    amount: Decimal  # positive; booking gives the sign
    order: Order | None = None
    refund: Refund | None = None
    shipment: Shipment | None = None
    fee_type: str | None = None
    memo: str | None = None
    payout: Payout | None = None

    @property
    def available(self) -> int:
        return self.date + (SALE_HOLD if self.kind == "SALE" else 0)

    @property
    def signed(self) -> Decimal:
        return self.amount if self.booking == "CREDIT" else -self.amount

    def status(self, t: float) -> str:
        if self.payout is not None and self.payout.date <= t:
            return "PAYOUT"
        return "FUNDS_PROCESSING" if t < self.available else "FUNDS_AVAILABLE_FOR_PAYOUT"


@dataclass
class Payout:
    payout_id: str
    date: int
    transactions: list[Txn] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return sum((t.signed for t in self.transactions), Decimal(0))

    @property
    def succeeded(self) -> int:
        return self.date + DAY

    def status(self, t: float) -> str:
        return "SUCCEEDED" if t >= self.succeeded else "INITIATED"


@dataclass
class Ledger:
    transactions: list[Txn]  # by date, then id
    payouts: list[Payout]  # by date


def _order_txns(rng: random.Random, order: Order) -> list[Txn]:
    fees = sum((line.fee for line in order.lines), Decimal(0))
    seller = sum((line.seller_share for line in order.lines), Decimal(0))
    sale_at = order.created + rng.randint(5, 120)
    out = [Txn(order.order_id, "SALE", sale_at, "CREDIT", seller - fees, order=order)]
    for refund in order.refunds:
        out.append(
            Txn(
                refund.refund_id,
                "REFUND",
                refund.at,
                "DEBIT",
                refund.seller_amount,
                order=order,
                refund=refund,
            )
        )
    return out


def _label_txns(ids: Ids, order: Order) -> list[Txn]:
    return [
        Txn(
            ids.numeric("7", 11),
            "SHIPPING_LABEL",
            s.at,
            "DEBIT",
            s.label_cost,
            order=order,
            shipment=s,
            memo="Shipping label purchased",
        )
        for s in order.shipments
        if s.label_cost is not None
    ]


def _charges(rng: random.Random, ids: Ids, history: History) -> list[Txn]:
    out, day = [], history.start - history.start % DAY + DAY
    created = [o.created for o in history.orders]
    while day < history.horizon:
        weekday = (day // DAY + 3) % 7
        if weekday == 0:
            lo, hi = _bisect(created, day - 7 * DAY), _bisect(created, day)
            sales = sum((o.total for o in history.orders[lo:hi]), Decimal(0))
            fee = cents(sales * AD_RATE)
            if fee > 0:
                out.append(_charge(ids, day + 6 * HOUR, fee, "AD_FEE", "Promoted listings fee"))
        if _is_first_of_month(day):
            fee = cents(Decimal(rng.uniform(2, 15)))
            out.append(_charge(ids, day + 6 * HOUR + 60, fee, "INSERTION_FEE", "Insertion fees"))
        day += DAY
    return out


def _charge(ids: Ids, at: int, fee: Decimal, fee_type: str, memo: str) -> Txn:
    return Txn(
        ids.numeric("8", 11), "NON_SALE_CHARGE", at, "DEBIT", fee, fee_type=fee_type, memo=memo
    )


def _is_first_of_month(day: int) -> bool:
    return datetime.fromtimestamp(day, UTC).day == 1


def _bisect(values: list[int], x: int) -> int:
    return bisect.bisect_left(values, x)


def _payouts(ids: Ids, history: History, txns: list[Txn]) -> list[Payout]:
    pending = sorted(txns, key=lambda t: (t.available, t.transaction_id))
    payouts, waiting, i = [], [], 0
    day = history.start - history.start % DAY + PAYOUT_HOUR * HOUR
    while day < history.horizon:
        while i < len(pending) and pending[i].available <= day:
            waiting.append(pending[i])
            i += 1
        if waiting and sum((t.signed for t in waiting), Decimal(0)) > 0:
            payout = Payout(ids.numeric("5", 9), day, waiting)
            for txn in waiting:
                txn.payout = payout
            payouts.append(payout)
            waiting = []
        day += DAY
    return payouts


def build_ledger(scenario_seed: int, client_id: str, history: History) -> Ledger:
    rng = random.Random(repr(("ebay-finance", scenario_seed, client_id)))
    ids = Ids(rng)
    txns: list[Txn] = []
    for order in history.orders:
        txns += _order_txns(rng, order)
        txns += _label_txns(ids, order)
    txns += _charges(rng, ids, history)
    txns = [t for t in txns if t.date < history.horizon]
    txns.sort(key=lambda t: (t.date, t.transaction_id))
    return Ledger(txns, _payouts(ids, history, txns))
