"""Etsy Payments: one payment per receipt, the shop's payment-account ledger, and payouts.

Derived from the receipts, deterministically. Amounts are signed US cents.

    at shipping (Etsy posts a payment to the ledger once the order ships):
        Payment                 +grandtotal       description "payment"
        sales_tax               -total_tax_cost   "miscellaneous debit" (Etsy remits it)
        transaction             -6.5 % of items - discount + shipping   "miscellaneous debit"
        PAYMENT_PROCESSING_FEE  -3 % of grandtotal + 25 c               "miscellaneous debit"
    at a refund after shipping (a return):
        REFUND                  -refunded amount                         "refund"
        REFUND_PROCESSING_FEE   +the processing fee's proportional part  "miscellaneous credit"
    every Monday 14:00 UTC, when the balance is positive:
        DISBURSE2               -balance (the payout to the bank)        "disbursement"

A cancellation before shipping never reaches the ledger (nothing was posted); it shows as
a payment adjustment only. Payouts are the DISBURSE2 entries: each takes the whole
balance, so a payout's amount is exactly the sum of the ledger entries since the previous
payout. ``ledger_type``, ``reference_type`` and ``reference_id`` are fields of Etsy's
current ledger entries (etsy/open-api #442) that the June 2021 spec predates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sandbox.etsy.data import DAY, HOUR, History, Receipt, Refund

PAYOUT_WEEKDAY = 0  # Monday
PAYOUT_HOUR = 14


def processing_fee(receipt: Receipt) -> int:
    return (receipt.grandtotal * 3 + 50) // 100 + 25


def transaction_fee(receipt: Receipt) -> int:
    return ((receipt.total_price - receipt.discount + receipt.shipping) * 65 + 500) // 1000


def fee_adjustment(receipt: Receipt, refund: Refund) -> int:
    return processing_fee(receipt) * refund.amount // receipt.grandtotal


@dataclass
class Entry:
    entry_id: int
    sequence: int
    at: int
    amount: int
    balance: int
    description: str
    ledger_type: str
    reference_type: str
    reference_id: int
    receipt: Receipt | None = None

    @property
    def is_payout(self) -> bool:
        return self.ledger_type == "DISBURSE2"


@dataclass
class Ledger:
    ledger_id: int
    entries: list[Entry] = field(default_factory=list)  # by time, then sequence

    @property
    def payouts(self) -> list[Entry]:
        return [e for e in self.entries if e.is_payout]


def _receipt_events(receipt: Receipt) -> list[tuple[int, int, str, str, str, int]]:
    """(time, amount, description, ledger_type, reference_type, reference_id) of a receipt."""
    out = []
    if receipt.shipped is not None:
        t, pay, rid = receipt.shipped, receipt.payment_id, receipt.receipt_id
        out.append((t, receipt.grandtotal, "payment", "Payment", "payment", pay))
        if receipt.tax:
            out.append((t, -receipt.tax, "miscellaneous debit", "sales_tax", "receipt", rid))
        out.append(
            (t, -transaction_fee(receipt), "miscellaneous debit", "transaction", "receipt", rid)
        )
        out.append(
            (
                t,
                -processing_fee(receipt),
                "miscellaneous debit",
                "PAYMENT_PROCESSING_FEE",
                "payment",
                pay,
            )
        )
    for refund in receipt.refunds:
        if refund.reason == "customer_return":
            adj = refund.adjustment_id
            out.append((refund.at, -refund.amount, "refund", "REFUND", "payment_adjustment", adj))
            credit = fee_adjustment(receipt, refund)
            out.append(
                (
                    refund.at,
                    credit,
                    "miscellaneous credit",
                    "REFUND_PROCESSING_FEE",
                    "payment_adjustment",
                    adj,
                )
            )
    return out


def build_ledger(scenario_seed: int, client_id: str, history: History) -> Ledger:
    rng = random.Random(repr(("etsy-ledger", scenario_seed, client_id)))
    used: set[int] = set()

    def fresh(low: int, high: int) -> int:
        while (value := rng.randint(low, high)) in used:
            pass
        used.add(value)
        return value

    events = sorted(
        ((e, r.receipt_id) for r in history.receipts for e in _receipt_events(r)),
        key=lambda pair: (pair[0][0], pair[1]),
    )
    by_receipt = {r.receipt_id: r for r in history.receipts}
    ledger = Ledger(fresh(10_000_000, 99_999_999))
    balance, sequence, i = 0, 0, 0
    payday = history.start - history.start % DAY + PAYOUT_HOUR * HOUR
    while (payday // DAY + 3) % 7 != PAYOUT_WEEKDAY:
        payday += DAY
    while i < len(events) or payday < history.horizon:
        if i < len(events) and (events[i][0][0] <= payday or payday >= history.horizon):
            (at, amount, description, kind, ref_type, ref_id), rid = events[i]
            i += 1
            if at >= history.horizon:
                continue
            balance += amount
            sequence += 1
            entry_id = fresh(1_000_000_000, 9_999_999_999)
            ledger.entries.append(
                Entry(
                    entry_id,
                    sequence,
                    at,
                    amount,
                    balance,
                    description,
                    kind,
                    ref_type,
                    ref_id,
                    by_receipt[rid],
                )
            )
            continue
        if balance > 0:
            sequence += 1
            payout_id = fresh(100_000_000, 999_999_999)
            entry_id = fresh(1_000_000_000, 9_999_999_999)
            ledger.entries.append(
                Entry(
                    entry_id,
                    sequence,
                    payday,
                    -balance,
                    0,
                    "disbursement",
                    "DISBURSE2",
                    "disbursement",
                    payout_id,
                )
            )
            balance = 0
        payday += 7 * DAY
    return ledger
