"""Shopify Payments: balance transactions and payouts, derived from the orders.

Amounts are signed cents of the shop currency (USD).

    CHARGE   at an order's creation (+5 s): amount = order total, fee = 2.9 % + 30 c
    REFUND   at a refund (+5 s): amount = -refunded amount, fee 0 (Shopify keeps the fee)
    PAYOUT   at a payout's issue: amount = -payout net, fee 0

Payout schedule: every day at 12:00 UTC (``issuedAt``) a payout takes every transaction
dated before 00:00 UTC two days earlier that no payout holds yet, when their net sum is
positive (otherwise the balance carries over). So a payout's ``net`` is exactly the sum
of the ``net`` of its CHARGE and REFUND transactions, and its own PAYOUT transaction is
the opposite amount. A payout is SCHEDULED from its issue until one day later, then
PAID. A transaction's ``associatedPayout`` is ``{id: null, status: PENDING}`` until a
payout takes it, then follows that payout's status.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from sandbox.shopify.data import DAY, HOUR, History, Order, Refund

PAYOUT_HOUR = 12
SETTLE_DAYS = 2
PAID_AFTER = DAY


@dataclass
class BalanceTxn:
    txn_id: int
    type: str  # CHARGE | REFUND | PAYOUT
    at: int
    amount: int
    fee: int
    order: Order | None = None
    refund: Refund | None = None
    payout: Payout | None = None  # the payout holding it (for PAYOUT: itself)

    @property
    def net(self) -> int:
        return self.amount - self.fee


@dataclass
class Payout:
    payout_id: int
    issued: int
    transactions: list[BalanceTxn] = field(default_factory=list)
    own: BalanceTxn | None = None

    @property
    def net(self) -> int:
        return sum(t.net for t in self.transactions)

    def status(self, t: float) -> str:
        return "PAID" if t >= self.issued + PAID_AFTER else "SCHEDULED"

    def gross(self, kind: str) -> int:
        return sum(t.amount for t in self.transactions if t.type == kind)

    def fees(self, kind: str) -> int:
        return sum(t.fee for t in self.transactions if t.type == kind)


@dataclass
class Payments:
    account_id: int
    transactions: list[BalanceTxn]  # by date, then id
    payouts: list[Payout]  # by issue time
    times: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.times = [t.at for t in self.transactions]

    def visible(self, t: float) -> list[BalanceTxn]:
        return self.transactions[: bisect.bisect_right(self.times, t)]

    def dated(self, visible: list[BalanceTxn], terms: list[tuple[str, float]]) -> list[BalanceTxn]:
        """The run of ``visible`` (a prefix of ``transactions``, as ``visible`` gives it)
        whose dates pass every ``(op, bound)`` term (ops ``> >= < <= =``), found by
        bisection instead of a test per transaction."""
        low, high = 0, len(visible)
        for op, bound in terms:
            if op in (">=", "="):
                low = max(low, bisect.bisect_left(self.times, bound, 0, len(visible)))
            if op == ">":
                low = max(low, bisect.bisect_right(self.times, bound, 0, len(visible)))
            if op in ("<=", "="):
                high = min(high, bisect.bisect_right(self.times, bound, 0, len(visible)))
            if op == "<":
                high = min(high, bisect.bisect_left(self.times, bound, 0, len(visible)))
        return visible[low:high] if low < high else []


def charge_fee(total: int) -> int:
    return (total * 29 + 500) // 1000 + 30


def build_payments(scenario_seed: int, client_id: str, history: History) -> Payments:
    rng = random.Random(repr(("shopify-payments", scenario_seed, client_id)))
    next_id = [7_100_000_000 + rng.randint(0, 10**6)]
    next_payout = [98_000_000 + rng.randint(0, 10**5)]

    def fresh(counter: list[int]) -> int:
        counter[0] += rng.randint(1, 97)
        return counter[0]

    events: list[tuple[int, str, Order, Refund | None]] = []
    for order in history.orders:
        events.append((order.created + 5, "CHARGE", order, None))
        events += [(r.at + 5, "REFUND", order, r) for r in order.refunds]
    events.sort(key=lambda e: (e[0], e[2].order_id))
    txns = []
    for at, kind, order, refund in events:
        if at >= history.horizon:
            continue
        if kind == "CHARGE":
            txns.append(
                BalanceTxn(fresh(next_id), kind, at, order.total, charge_fee(order.total), order)
            )
        else:
            assert refund is not None
            txns.append(BalanceTxn(fresh(next_id), kind, at, -refund.amount, 0, order, refund))
    payouts: list[Payout] = []
    day = history.start - history.start % DAY + DAY
    i, pending = 0, []
    while day + PAYOUT_HOUR * HOUR < history.horizon:
        cutoff = day - SETTLE_DAYS * DAY
        while i < len(txns) and txns[i].at < cutoff:
            pending.append(txns[i])
            i += 1
        if pending and sum(t.net for t in pending) > 0:
            payout = Payout(fresh(next_payout), day + PAYOUT_HOUR * HOUR, pending)
            for t in pending:
                t.payout = payout
            payout.own = BalanceTxn(
                fresh(next_id), "PAYOUT", payout.issued, -payout.net, 0, payout=payout
            )
            payouts.append(payout)
            pending = []
        day += DAY
    everything = txns + [p.own for p in payouts if p.own is not None]
    everything.sort(key=lambda t: (t.at, t.txn_id))
    return Payments(90_000_000 + rng.randint(0, 10**6), everything, payouts)
