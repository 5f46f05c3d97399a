"""A seller's eBay history, generated from seeds: catalog, orders, shipments, refunds.

Deterministic: one ``random.Random`` seeded with (scenario seed, client id, client seed,
"ebay"), never the global generator. All times are whole epoch seconds, UTC.

Time model: activity is generated from the client's ``history_start`` up to
``history_end + 30 days`` (``horizon``); what the API shows is decided by the views as of
the world clock. An order is born paid (eBay lists orders once checkout completes), then
changes at its events: shipments, a cancellation, refunds (returns), and "touches" (the
``updated_during_sync`` fault). Its ``lastModifiedDate`` at ``t`` is its last event <= t.

Orders arrive as a Poisson process with yearly (Q4 peak) and weekly seasonality and a US
daytime profile, plus one flash sale: 800 single-item orders of one discounted SKU within
20 minutes at the reference volume (7 orders/day over 730 days), scaled down with volume
and span. Money is USD; eBay collects and remits sales tax, so the seller's share of a
line is its cost plus shipping, and eBay's fees are charged on the total including tax.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.ebay.formats import Ids, cents

DAY = 86_400
HOUR = 3_600
FUTURE_DAYS = 30
REFERENCE_VOLUME = 7.0
FVF_RATE = Decimal("0.136")  # final value fee, most categories
_HOUR_WEIGHTS = (5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 8, 7, 6)
_TAX_RATES = tuple(Decimal(r) for r in ("0", "0.06", "0.0625", "0.07", "0.0725", "0.0825"))
_STATES = (("CA", "San Jose"), ("TX", "Austin"), ("NY", "Albany"), ("FL", "Tampa"), ("OH", "Akron"))
_BRANDS = ("Acme", "Northwind", "Globex", "Initech", "Umbrella", "Hooli")
_NOUNS = ("Camera Strap", "Vinyl Record", "Watch Band", "Lego Set", "Trading Card", "Lens Cap")
_ADJ = ("Vintage", "Sealed", "Rare", "Refurbished", "Genuine", "Collector")


@dataclass(frozen=True)
class Sku:
    sku: str
    legacy_item_id: str
    title: str
    brand: str
    mpn: str
    price: Decimal
    shipping: Decimal
    launched: int
    initial_stock: int


@dataclass(frozen=True)
class Line:
    line_item_id: str
    sku: Sku
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    tax: Decimal
    fixed_fee: Decimal  # the per-order fee, carried by the order's first line

    @property
    def cost(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def total(self) -> Decimal:
        return self.cost + self.shipping + self.tax

    @property
    def seller_share(self) -> Decimal:
        return self.cost + self.shipping

    @property
    def fvf(self) -> Decimal:
        return cents(self.total * FVF_RATE)

    @property
    def fee(self) -> Decimal:
        return self.fvf + self.fixed_fee


@dataclass(frozen=True)
class Refund:
    refund_id: str
    at: int
    lines: tuple[int, ...]  # indices into the order's lines
    amount: Decimal  # what the buyer gets back (line totals, tax included)
    seller_amount: Decimal  # what leaves the seller's funds (cost + shipping)
    reason: str  # CANCEL | RETURN


@dataclass(frozen=True)
class Shipment:
    fulfillment_id: str
    at: int
    lines: tuple[int, ...]
    label_cost: Decimal | None  # an eBay shipping label bought for it, if any


@dataclass
class Order:
    order_id: str
    created: int
    buyer: str
    state: str
    city: str
    lines: list[Line]
    shipments: list[Shipment] = field(default_factory=list)
    canceled: int | None = None
    refunds: list[Refund] = field(default_factory=list)
    touches: list[int] = field(default_factory=list)  # updated_during_sync, kept sorted

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    def events(self) -> list[int]:
        times = [self.created, *(s.at for s in self.shipments), *(r.at for r in self.refunds)]
        if self.canceled is not None:
            times.append(self.canceled)
        return sorted([*times, *self.touches])

    def last_modified(self, t: float) -> int:
        times = self.events()
        return times[bisect.bisect_right(times, t) - 1]

    def touch(self, at: int) -> None:
        bisect.insort(self.touches, at)


@dataclass
class History:
    start: int
    end: int
    horizon: int
    skus: list[Sku]
    orders: list[Order]  # by creation time


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
    """Yearly peak in mid-December, weekend dip; mean close to 1."""
    doy = (day_start // DAY) % 365.25
    yearly = 1.0 + 0.35 * math.cos(2 * math.pi * (doy - 348) / 365.25)
    weekday = (day_start // DAY + 3) % 7  # 0 = Monday
    return yearly * (0.85 if weekday >= 5 else 1.06)


def flash_sale_size(volume: float, span_days: float) -> int:
    return round(800 * min(1.0, volume / REFERENCE_VOLUME) * min(1.0, span_days / 730))


def _catalog(rng: random.Random, ids: Ids, prefix: str, start: int, end: int, volume: float):
    skus = []
    for i in range(30 + round(volume * 8)):
        early = rng.random() < 0.7
        launched = start - rng.randint(0, 365 * DAY) if early else rng.randint(start, end)
        price = Decimal(str(min(400, max(3, round(math.exp(rng.gauss(3.1, 0.6))))))) - Decimal(
            "0.01"
        )
        brand = rng.choice(_BRANDS)
        skus.append(
            Sku(
                sku=f"{prefix}-{i + 1:04d}",
                legacy_item_id=ids.numeric("1", 11),
                title=f"{rng.choice(_ADJ)} {brand} {rng.choice(_NOUNS)}",
                brand=brand,
                mpn=f"{brand[:3].upper()}-{rng.randint(1000, 9999)}",
                price=price,
                shipping=Decimal(0)
                if rng.random() < 0.5
                else Decimal(rng.choice(("3.99", "5.99", "9.99"))),
                launched=launched,
                initial_stock=rng.randint(20, 120),
            )
        )
    return sorted(skus, key=lambda s: s.sku)


def _order(rng: random.Random, ids: Ids, buyers: list[str], skus: list[Sku], t0: int, deal=None):
    state, city = rng.choice(_STATES)
    rate = rng.choice(_TAX_RATES)
    if deal is not None:
        chosen, quantities = [deal[0]], [1]
    else:
        n = rng.choices((1, 2, 3), (72, 20, 8))[0]
        chosen = rng.sample(skus, min(n, len(skus)))
        quantities = [1 if rng.random() < 0.85 else rng.randint(2, 3) for _ in chosen]
    lines = []
    for k, (sku, qty) in enumerate(zip(chosen, quantities, strict=True)):
        price = deal[1] if deal is not None else sku.price
        tax = cents((price * qty + sku.shipping) * rate)
        total = price * qty + sku.shipping + tax
        fixed = Decimal(0) if k else (Decimal("0.30") if total <= 10 else Decimal("0.40"))
        lines.append(Line(ids.numeric("10", 12), sku, qty, price, sku.shipping, tax, fixed))
    buyer = rng.choice(buyers) if buyers and rng.random() < 0.35 else f"buyer_{ids.numeric('', 8)}"
    buyers.append(buyer)
    order = Order(ids.order(), t0, buyer, state, city, lines)
    _lifecycle(rng, ids, order, fast=deal is not None)
    return order


def _lifecycle(rng: random.Random, ids: Ids, order: Order, fast: bool) -> None:
    t0, everything = order.created, tuple(range(len(order.lines)))
    if not fast and rng.random() < 0.03:
        order.canceled = t0 + rng.randint(HOUR // 2, 20 * HOUR)
        order.refunds.append(_refund(ids, order, order.canceled, everything, "CANCEL"))
        return
    first = t0 + rng.randint(3 * HOUR, 60 * HOUR)
    split = len(everything) > 1 and rng.random() < 0.25
    groups = [everything[:1], everything[1:]] if split else [everything]
    for k, group in enumerate(groups):
        at = first + k * rng.randint(DAY // 2, 2 * DAY)
        label = cents(Decimal(rng.uniform(3.5, 14))) if rng.random() < 0.6 else None
        order.shipments.append(Shipment(ids.numeric("", 12), at, group, label))
    if rng.random() < 0.06:
        at = order.shipments[-1].at + rng.randint(4 * DAY, 25 * DAY)
        which = (rng.randrange(len(order.lines)),)
        order.refunds.append(_refund(ids, order, at, which, "RETURN"))


def _refund(ids: Ids, order: Order, at: int, which: tuple[int, ...], reason: str) -> Refund:
    lines = [order.lines[i] for i in which]
    buyer = sum((line.total for line in lines), Decimal(0))
    seller = sum((line.seller_share for line in lines), Decimal(0))
    return Refund(ids.numeric("5", 11), at, which, buyer, seller, reason)


def _arrivals(rng: random.Random, start: int, horizon: int, volume: float) -> list[int]:
    times, day = [], start - start % DAY
    while day < horizon:
        for _ in range(poisson(rng, volume * seasonality(day))):
            hour = rng.choices(range(24), _HOUR_WEIGHTS)[0]
            t = day + hour * HOUR + rng.randrange(HOUR)
            if start <= t < horizon:
                times.append(t)
        day += DAY
    return sorted(times)


def generate(
    scenario_seed: int, client_id: str, client_seed: int, start: float, end: float, volume: float
) -> History:
    """The client's catalog and orders from ``start`` to ``end + 30 days``."""
    rng = random.Random(repr(("ebay", scenario_seed, client_id, client_seed)))
    ids = Ids(rng)
    start_s, end_s = int(start), int(end)
    horizon = end_s + FUTURE_DAYS * DAY
    skus = _catalog(rng, ids, f"EB{client_seed % 1000:03d}", start_s, end_s, volume)
    buyers: list[str] = []
    orders = []
    for t0 in _arrivals(rng, start_s, horizon, volume):
        available = [s for s in skus if s.launched <= t0]
        orders.append(_order(rng, ids, buyers, available, t0))
    n_flash = flash_sale_size(volume, (end_s - start_s) / DAY)
    if n_flash:
        flash_at = start_s + int(0.41 * (end_s - start_s)) // DAY * DAY + 17 * HOUR
        deal_sku = next(s for s in skus if s.launched <= flash_at)
        deal = (deal_sku, cents(deal_sku.price * Decimal("0.75")))
        for k in range(n_flash):
            orders.append(_order(rng, ids, buyers, skus, flash_at + k * 1200 // n_flash, deal))
    orders.sort(key=lambda o: (o.created, o.order_id))
    return History(start_s, end_s, horizon, skus, orders)
