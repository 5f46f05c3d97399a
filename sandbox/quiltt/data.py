"""Seeded bank history of one client as Quiltt would hold it: accounts and transactions.

Deterministic from (scenario seed, client seed, client id): the same scenario always gives
the same ids, dates and amounts. Two independent streams keep the parts stable: ordinary
bank activity does not move when the marketplaces' payouts change, and vice versa.

Contents, from ``history_start - 30 days`` (accounts open) to ``history_end + 30 days``
("future" activity that appears as the clock advances):

* Accounts: Business Checking, Business Savings, Business Credit Card (USD), plus one
  checking account per other currency the payouts arrive in.
* Ordinary activity: about ``volume['quiltt']`` transactions a day (more on weekdays, a
  mild yearly wave): card spend that posts 1-3 days later (PENDING until then), supplier
  ACH debits, bank fees, checking->savings transfers (two records), card refunds,
  interest, other deposits; a monthly service fee and a monthly card autopay of the whole
  card balance (two records).
* Deposits mirroring the marketplaces' payouts: a payout paid on day D lands as a CREDIT
  (a DEBIT for a negative payout) in the checking account of its currency, dated D + 1..3
  business days (Sat/Sun skipped), same amount. A share of payouts (``mismatch_share``,
  default 3 %) goes wrong, recorded in the plan: ``amount_mismatch`` (off by 1-9 cents),
  ``missing`` (no deposit), ``duplicated`` (two identical deposits). Zero payouts make no
  deposit (``zero_amount``).

Times are UTC epoch seconds; a transaction's ``day`` counts days since 1970-01-01 UTC and
its ``date`` is that day as ``YYYY-MM-DD``. Money is held in integer cents, unsigned, with
``entry_type`` CREDIT (money in) or DEBIT (money out).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.platform import PayoutFact
    from sandbox.scenario import ClientSpec

DAY = 86_400.0
HOUR = 3_600.0
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DEPOSIT_NAMES = {
    "amazon": "AMAZON.COM SERVICES PAYMENTS",
    "shopify": "SHOPIFY TRANSFER",
    "ebay": "EBAY COMMERCE INC PAYOUT",
    "etsy": "ETSY INC DEPOSIT",
}
_MERCHANTS = (
    "UPS SHIPPING",
    "USPS POSTAGE",
    "FEDEX SHIPPING",
    "ULINE PACKAGING",
    "GOOGLE ADS",
    "META ADS",
    "ADOBE CREATIVE CLOUD",
    "STAPLES",
    "SHELL OIL",
    "AMAZON WEB SERVICES",
    "CANVA PRO",
    "HOME DEPOT",
    "COSTCO WHOLESALE",
    "DELTA AIR LINES",
    "UBER TRIP",
)
_SUPPLIERS = ("ACME WHOLESALE", "PACIFIC TEXTILES", "NORTHWIND TRADERS", "GLOBEX SUPPLY")
_FEES = ("WIRE TRANSFER FEE", "ACH BATCH FEE", "INTL TRANSACTION FEE", "RETURNED ITEM FEE")
# kind -> weight of the random daily events; a transfer makes two records. Besides these,
# a monthly service fee (1st) and the card autopay of the card balance (25th, two records).
_KINDS = {
    "card_spend": 60,
    "supplier": 12,
    "fee": 4,
    "transfer": 4,
    "card_refund": 5,
    "interest": 3,
    "deposit": 6,
}
OUTCOMES = ("matched", "amount_mismatch", "missing", "duplicated", "zero_amount")


def base62(rng: random.Random, length: int = 22) -> str:
    n = rng.getrandbits(6 * length)
    return "".join(_ALPHABET[(n >> (6 * i)) % 62] for i in range(length))


def iso_date(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def add_business_days(day: int, n: int) -> int:
    """``day`` + ``n`` business days (Mon-Fri; 1970-01-01 was a Thursday)."""
    while n > 0:
        day += 1
        if (day + 3) % 7 < 5:
            n -= 1
    return day


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    type: str  # CHECKING | SAVINGS | CREDIT
    kind: str  # DEPOSITORY | CREDIT
    mask: str
    currency: str
    opened: float
    opening_cents: int
    limit_cents: int | None = None  # credit limit (credit accounts)


@dataclass(frozen=True)
class Txn:
    id: str
    account_id: str
    day: int
    description: str
    cents: int  # unsigned
    entry_type: str  # CREDIT | DEBIT
    currency: str
    created: float  # visible from here on (PENDING until ``posted``)
    posted: float  # status POSTED from here on (== created when it posts at once)

    @cached_property
    def date(self) -> str:
        return iso_date(self.day)

    @property
    def signed_cents(self) -> int:
        return self.cents if self.entry_type == "CREDIT" else -self.cents


@dataclass(frozen=True)
class PayoutMatch:
    """The planned fate of one payout at the bank (the reconciliation ground truth)."""

    payout: PayoutFact
    outcome: str  # one of OUTCOMES
    deposits: tuple[Txn, ...]


@dataclass(frozen=True)
class BankData:
    client_id: str
    profile_id: str
    connection_id: str
    accounts: tuple[Account, ...]
    txns: tuple[Txn, ...]  # sorted by (day, created, id)
    matches: tuple[PayoutMatch, ...]

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)


def profile_id(scenario_seed: int, client_id: str) -> str:
    return "p_" + base62(random.Random(f"quiltt-profile|{scenario_seed}|{client_id}"))


def generate(
    scenario_seed: int,
    spec: ClientSpec,
    payouts: list[PayoutFact],
    mismatch_share: float = 0.03,
) -> BankData:
    """The client's whole bank history (past and 30 days of future)."""
    rng = random.Random(f"quiltt-activity|{scenario_seed}|{spec.seed}|{spec.client_id}")
    opened = spec.history_start - 30 * DAY
    connection = "conn_" + base62(rng)

    def account(name: str, type_: str, kind: str, currency: str, cents: int) -> Account:
        limit = 1_500_000 if kind == "CREDIT" else None
        mask = f"{rng.randrange(10_000):04d}"
        return Account(
            "acct_" + base62(rng), name, type_, kind, mask, currency, opened, cents, limit
        )

    usd = {
        "checking": account("Business Checking", "CHECKING", "DEPOSITORY", "USD", 2_500_000),
        "savings": account("Business Savings", "SAVINGS", "DEPOSITORY", "USD", 5_000_000),
        "card": account("Business Credit Card", "CREDIT", "CREDIT", "USD", 0),
    }
    end = spec.history_end + 30 * DAY
    txns = _activity(rng, usd, spec.volume.get("quiltt", 0.0), spec.history_start, end)
    checking = {"USD": usd["checking"]}
    dep_rng = random.Random(f"quiltt-deposits|{scenario_seed}|{spec.seed}|{spec.client_id}")
    for fact in payouts:
        if fact.currency not in checking:
            checking[fact.currency] = Account(
                "acct_" + base62(dep_rng),
                f"Business Checking ({fact.currency})",
                "CHECKING",
                "DEPOSITORY",
                f"{dep_rng.randrange(10_000):04d}",
                fact.currency,
                opened,
                0,
            )
    matches = tuple(
        _deposit(dep_rng, fact, checking[fact.currency], mismatch_share) for fact in payouts
    )
    txns += [t for m in matches for t in m.deposits]
    txns.sort(key=lambda t: (t.day, t.created, t.id))
    accounts = (*usd.values(), *(a for c, a in sorted(checking.items()) if c != "USD"))
    return BankData(
        spec.client_id,
        profile_id(scenario_seed, spec.client_id),
        connection,
        accounts,
        tuple(txns),
        matches,
    )


def _count(rng: random.Random, rate: float) -> int:
    """Roughly Poisson(rate): exact for small rates, normal approximation above 30."""
    if rate <= 0:
        return 0
    if rate > 30:
        return max(0, round(rng.gauss(rate, math.sqrt(rate))))
    n, p, limit = 0, rng.random(), math.exp(-rate)
    while p > limit:
        n += 1
        p *= rng.random()
    return n


def _lognormal_cents(rng: random.Random, median: float, sigma: float, cap: float) -> int:
    return max(100, min(round(rng.lognormvariate(math.log(median), sigma) * 100), round(cap * 100)))


def _activity(
    rng: random.Random, acct: dict[str, Account], per_day: float, start: float, end: float
) -> list[Txn]:
    out: list[Txn] = []
    kinds, weights = zip(*_KINDS.items(), strict=True)
    card_cents = 0  # running card balance (negative: owed), for the monthly autopay
    for day in range(math.floor(start / DAY), math.ceil(end / DAY)):
        if day * DAY + 8 * HOUR >= end:
            break
        weekday, month_day = (day + 3) % 7, datetime.fromtimestamp(day * DAY, UTC).day
        season = 1.0 + 0.15 * math.sin(2 * math.pi * (day % 365) / 365)
        rate = per_day * season * (1.15 if weekday < 5 else 0.6)
        events = [rng.choices(kinds, weights)[0] for _ in range(_count(rng, rate))]
        if month_day == 1:
            events.append("service_fee")
        if month_day == 25 and card_cents < 0:
            events.append("card_payment")
        for kind in events:
            created = day * DAY + rng.uniform(8 * HOUR, 22 * HOUR)
            made = _event(rng, kind, acct, day, created, -card_cents)
            card_cents += sum(t.signed_cents for t in made if t.account_id == acct["card"].id)
            out.extend(made)
    return out


def _event(
    rng: random.Random,
    kind: str,
    acct: dict[str, Account],
    day: int,
    created: float,
    card_owed: int,
) -> list[Txn]:
    def txn(account: Account, text: str, cents: int, entry: str, posted: float = created) -> Txn:
        return Txn(
            "txn_" + base62(rng),
            account.id,
            day,
            text,
            cents,
            entry,
            account.currency,
            created,
            posted,
        )

    if kind == "card_spend":
        lag = rng.uniform(1.0, 3.0) * DAY
        cents = _lognormal_cents(rng, 45.0, 0.9, 5_000)
        return [txn(acct["card"], rng.choice(_MERCHANTS), cents, "DEBIT", created + lag)]
    if kind == "card_refund":
        cents = _lognormal_cents(rng, 30.0, 0.8, 1_000)
        return [txn(acct["card"], "REFUND " + rng.choice(_MERCHANTS), cents, "CREDIT")]
    if kind == "supplier":
        cents = _lognormal_cents(rng, 400.0, 0.8, 20_000)
        return [txn(acct["checking"], "ACH DEBIT " + rng.choice(_SUPPLIERS), cents, "DEBIT")]
    if kind == "fee":
        cents = rng.choice((500, 1_200, 2_500, 3_500))
        return [txn(acct["checking"], rng.choice(_FEES), cents, "DEBIT")]
    if kind == "service_fee":
        return [txn(acct["checking"], "MONTHLY SERVICE FEE", 1_500, "DEBIT")]
    if kind == "interest":
        return [txn(acct["savings"], "INTEREST PAYMENT", rng.randint(50, 2_500), "CREDIT")]
    if kind == "deposit":
        cents = _lognormal_cents(rng, 250.0, 0.7, 10_000)
        text = rng.choice(("MOBILE CHECK DEPOSIT", "ZELLE PAYMENT FROM CUSTOMER", "WIRE IN"))
        return [txn(acct["checking"], text, cents, "CREDIT")]
    if kind == "transfer":
        cents = rng.randint(1, 10) * 10_000
        tail = acct["savings"].mask
        return [
            txn(acct["checking"], f"ONLINE TRANSFER TO SAVINGS ...{tail}", cents, "DEBIT"),
            txn(acct["savings"], f"ONLINE TRANSFER FROM CHECKING ...{tail}", cents, "CREDIT"),
        ]
    cents = card_owed  # card_payment: the monthly autopay of the whole card balance
    return [
        txn(acct["checking"], "CREDIT CARD AUTOPAY", cents, "DEBIT"),
        txn(acct["card"], "PAYMENT - THANK YOU", cents, "CREDIT"),
    ]


def _deposit(rng: random.Random, fact: PayoutFact, account: Account, share: float) -> PayoutMatch:
    cents = int((fact.amount * 100).to_integral_value())
    roll, kind_roll = rng.random(), rng.random()
    day = add_business_days(math.floor(fact.paid_at / DAY), rng.randint(1, 3))
    created = max(day * DAY + rng.uniform(6 * HOUR, 14 * HOUR), fact.paid_at + HOUR)
    if cents == 0:
        return PayoutMatch(fact, "zero_amount", ())
    outcome = "matched"
    if roll < share:
        outcome = (
            "amount_mismatch"
            if kind_roll < 0.5
            else ("missing" if kind_roll < 0.75 else "duplicated")
        )
    name = DEPOSIT_NAMES.get(fact.platform, f"{fact.platform.upper()} PAYOUT")
    entry = "CREDIT" if cents > 0 else "DEBIT"
    if entry == "DEBIT":
        name = name.rsplit(" ", 1)[0] + " DEBIT"
    amount = abs(cents)
    if outcome == "amount_mismatch":
        off = rng.randint(1, 9)
        amount = amount + off if amount <= off or rng.random() < 0.5 else amount - off

    def deposit(when_day: int, when: float) -> Txn:
        return Txn(
            "txn_" + base62(rng),
            account.id,
            when_day,
            name,
            amount,
            entry,
            account.currency,
            when,
            when,
        )

    if outcome == "missing":
        return PayoutMatch(fact, outcome, ())
    first = deposit(day, created)
    if outcome != "duplicated":
        return PayoutMatch(fact, outcome, (first,))
    again = add_business_days(day, rng.randint(0, 1))
    second = deposit(again, max(created + 600.0, again * DAY + rng.uniform(6 * HOUR, 14 * HOUR)))
    return PayoutMatch(fact, outcome, (first, second))


def money(cents: int) -> float:
    """Cents as the JSON number Quiltt sends (e.g. 5678 -> 56.78)."""
    return float(Decimal(cents) / 100)
