"""A shop's Shopify history, generated from seeds: products, orders, line items, refunds.

Deterministic: one ``random.Random`` seeded with (scenario seed, client id, client seed,
"shopify"), never the global generator. Times are whole epoch seconds (UTC); money is
whole cents of the shop currency (USD). IDs grow with creation time, as Shopify's do.

Time model: activity runs from ``history_start`` to ``history_end + 30 days``
(``horizon``); the views decide what exists at the world clock. An order is born paid;
it is fulfilled 1-4 days later (and then, for most orders, archived: ``closedAt``), may
be cancelled before fulfilment (2 %: fully refunded), or partly refunded after delivery
(6 %: one line returned); the ``updated_during_sync`` fault may "touch" it (a new note).
Its ``updatedAt`` at ``t`` is its last event <= t.

Orders arrive as a Poisson process with a late-November peak (Black Friday / Cyber
Monday) and December gifting, a weekly cycle, a US daytime profile, a few burst days
(x3 traffic), and one flash sale: 800 orders of one discounted variant within 20 minutes
at the reference volume (9 orders/day over 730 days), scaled down with volume and span.
15 % of buyers pay in CAD (``presentmentMoney``); the shop's money is always USD.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

DAY = 86_400
HOUR = 3_600
FUTURE_DAYS = 30
REFERENCE_VOLUME = 9.0
CAD_RATE = 1.36
_HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 8, 8, 8, 8, 8, 9, 9, 9, 8, 7, 5, 4)
_TAX_BP = (0, 600, 625, 725, 825, 887)
_GOODS = ("Tee", "Hoodie", "Cap", "Mug", "Sticker Pack", "Tote", "Poster", "Socks")
_COLOURS = ("Black", "White", "Navy", "Olive", "Sand", "Red")
_NOTES = ("Customer changed their mind", "Damaged in transit", "Wrong size", "")


@dataclass(frozen=True)
class Variant:
    variant_id: int
    product_id: int
    inventory_item_id: int
    sku: str
    title: str  # product title
    option: str  # variant title
    price: int  # cents
    created: int
    initial_stock: int


@dataclass(frozen=True)
class Line:
    line_id: int
    variant: Variant
    quantity: int
    price: int  # unit price, cents
    discount: int  # cents off the line
    tax: int  # cents
    tax_bp: int

    @property
    def gross(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True)
class RefundLine:
    refund_line_id: int
    line: Line
    quantity: int
    subtotal: int  # cents
    tax: int


@dataclass(frozen=True)
class Refund:
    refund_id: int
    transaction_id: int  # the order transaction of kind refund
    at: int
    note: str
    lines: tuple[RefundLine, ...]
    shipping: int  # shipping refunded, cents

    @property
    def amount(self) -> int:
        return sum(rl.subtotal + rl.tax for rl in self.lines) + self.shipping


@dataclass
class Order:
    order_id: int
    number: int
    created: int
    lines: list[Line]
    shipping: int
    currency: str  # presentment currency
    transaction_id: int  # the sale transaction
    fulfilled: int | None = None
    closed: int | None = None
    cancelled: int | None = None
    refunds: list[Refund] = field(default_factory=list)
    touches: list[int] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.gross - line.discount for line in self.lines)

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping + self.tax

    def events(self) -> list[int]:
        times = [self.created, *(r.at for r in self.refunds), *self.touches]
        times += [t for t in (self.fulfilled, self.closed, self.cancelled) if t is not None]
        return sorted(times)

    def updated_at(self, t: float) -> int:
        times = self.events()
        return times[max(0, bisect.bisect_right(times, t) - 1)]

    def touch(self, at: int) -> None:
        bisect.insort(self.touches, at)


@dataclass
class History:
    start: int
    end: int
    horizon: int
    variants: list[Variant]
    orders: list[Order]  # by creation time (and id)


class _Ids:
    """Increasing ids with random gaps, one sequence per kind."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last = {
            "order": 5_600_000_000_000,
            "line": 13_900_000_000_000,
            "refund": 910_000_000_000,
            "refund_line": 480_000_000_000,
            "txn": 6_900_000_000_000,
            "product": 8_100_000_000_000,
            "variant": 44_000_000_000_000,
            "item": 46_000_000_000_000,
        }

    def next(self, kind: str) -> int:
        self.last[kind] += self.rng.randint(1, 997)
        return self.last[kind]


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def seasonality(day_start: int) -> float:
    """A Black Friday / Cyber Monday peak, December gifting, a summer dip; weekend lift."""
    doy = (day_start // DAY) % 365.25
    yearly = 1.0 + 0.35 * math.cos(2 * math.pi * (doy - 345) / 365.25)
    if 327 <= doy <= 333:  # the last week of November
        yearly *= 2.5
    weekday = (day_start // DAY + 3) % 7  # 0 = Monday
    return yearly * (1.15 if weekday >= 5 else 0.94)


def flash_sale_size(volume: float, span_days: float) -> int:
    return round(800 * min(1.0, volume / REFERENCE_VOLUME) * min(1.0, span_days / 730))


def _catalog(rng: random.Random, ids: _Ids, start: int, end: int, volume: float) -> list[Variant]:
    variants = []
    for p in range(8 + round(volume * 2)):
        product_id, title = ids.next("product"), f"{rng.choice(_COLOURS)} {_GOODS[p % 8]}"
        created = (
            start - rng.randint(0, 300 * DAY) if rng.random() < 0.75 else rng.randint(start, end)
        )
        price = rng.choice((1200, 1800, 2400, 3200, 4500, 5900))
        for size in ("S", "M", "L")[: rng.randint(1, 3)]:
            variants.append(
                Variant(
                    variant_id=ids.next("variant"),
                    product_id=product_id,
                    inventory_item_id=ids.next("item"),
                    sku=f"SH-{p + 1:03d}-{size}",
                    title=title,
                    option=size,
                    price=price - 1,
                    created=created,
                    initial_stock=rng.randint(20, 120),
                )
            )
    return variants


def _line(rng: random.Random, ids: _Ids, variant: Variant, qty: int, price: int, off: bool) -> Line:
    gross = price * qty
    discount = gross // 10 if off else 0
    tax_bp = rng.choice(_TAX_BP)
    return Line(
        ids.next("line"),
        variant,
        qty,
        price,
        discount,
        (gross - discount) * tax_bp // 10_000,
        tax_bp,
    )


def _order(rng: random.Random, ids: _Ids, pool: list[Variant], t0: int, deal=None) -> Order:
    if deal is not None:
        lines = [_line(rng, ids, deal[0], 1, deal[1], False)]
    else:
        chosen = rng.sample(pool, min(rng.choices((1, 2, 3, 4), (62, 25, 9, 4))[0], len(pool)))
        off = rng.random() < 0.12
        lines = [_line(rng, ids, v, 1 if rng.random() < 0.85 else 2, v.price, off) for v in chosen]
    shipping = 0 if sum(line.gross for line in lines) >= 7500 else rng.choice((499, 699, 899))
    currency = "CAD" if rng.random() < 0.15 else "USD"
    order = Order(ids.next("order"), 0, t0, lines, shipping, currency, ids.next("txn"))
    _lifecycle(rng, ids, order, fast=deal is not None)
    return order


def _lifecycle(rng: random.Random, ids: _Ids, order: Order, fast: bool) -> None:
    t0 = order.created
    if not fast and rng.random() < 0.02:
        at = t0 + rng.randint(HOUR, 20 * HOUR)
        order.cancelled = order.closed = at
        lines = tuple(
            RefundLine(
                ids.next("refund_line"), line, line.quantity, line.gross - line.discount, line.tax
            )
            for line in order.lines
        )
        order.refunds.append(
            Refund(ids.next("refund"), ids.next("txn"), at, "Order canceled", lines, order.shipping)
        )
        return
    order.fulfilled = t0 + rng.randint(DAY // 2, 4 * DAY)
    if rng.random() < 0.8:
        order.closed = order.fulfilled + rng.randint(60, 3 * HOUR)
    if rng.random() < 0.06:
        line = rng.choice(order.lines)
        qty = 1
        subtotal = (line.gross - line.discount) * qty // line.quantity
        tax = line.tax * qty // line.quantity
        at = order.fulfilled + rng.randint(4 * DAY, 25 * DAY)
        refund_line = RefundLine(ids.next("refund_line"), line, qty, subtotal, tax)
        order.refunds.append(
            Refund(ids.next("refund"), ids.next("txn"), at, rng.choice(_NOTES), (refund_line,), 0)
        )


def _arrivals(rng: random.Random, start: int, horizon: int, volume: float) -> list[int]:
    times, day = [], start - start % DAY
    while day < horizon:
        burst = 3.0 if rng.random() < 0.01 else 1.0
        for _ in range(poisson(rng, volume * seasonality(day) * burst)):
            t = day + rng.choices(range(24), _HOUR_WEIGHTS)[0] * HOUR + rng.randrange(HOUR)
            if start <= t < horizon:
                times.append(t)
        day += DAY
    return sorted(times)


def generate(
    scenario_seed: int, client_id: str, client_seed: int, start: float, end: float, volume: float
) -> History:
    """The shop's catalogue and orders from ``start`` to ``end + 30 days``."""
    rng = random.Random(repr(("shopify", scenario_seed, client_id, client_seed)))
    start_s, end_s = int(start), int(end)
    horizon = end_s + FUTURE_DAYS * DAY
    ids = _Ids(rng)
    variants = _catalog(rng, ids, start_s, end_s, volume)
    arrivals = [(t, None) for t in _arrivals(rng, start_s, horizon, volume)]
    n_flash = flash_sale_size(volume, (end_s - start_s) / DAY)
    if n_flash:
        flash_at = start_s + int(0.61 * (end_s - start_s)) // DAY * DAY + 17 * HOUR
        deal_variant = next(v for v in variants if v.created <= flash_at)
        deal = (deal_variant, deal_variant.price * 6 // 10)
        arrivals += [(flash_at + k * 1200 // n_flash, deal) for k in range(n_flash)]
    arrivals.sort(key=lambda a: a[0])
    orders = []
    for t0, deal in arrivals:  # ids are drawn in creation order, so they grow with time
        pool = [v for v in variants if v.created <= t0] or variants[:1]
        orders.append(_order(rng, ids, pool, t0, deal))
    for number, order in enumerate(orders, start=1001):
        order.number = number
    return History(start_s, end_s, horizon, variants, orders)
