"""A seller's Etsy history, generated from seeds: listings, receipts, shipments, refunds.

Deterministic: one ``random.Random`` seeded with (scenario seed, client id, client seed,
"etsy"), never the global generator. Times are whole epoch seconds (UTC); money is whole
US cents (Etsy's ``Money`` is ``{amount, divisor: 100, currency_code}``).

Time model: activity runs from ``history_start`` to ``history_end + 30 days``
(``horizon``); the views decide what exists at the world clock. A receipt is born paid
(Etsy lists receipts once checkout completes), ships 1-5 days later, may be canceled
before shipping (2 %: fully refunded) or partly refunded after delivery (5 %: one
transaction returned), and may be "touched" by the ``updated_during_sync`` fault. Its
``update_timestamp`` at ``t`` is its last event <= t.

Receipts arrive as a Poisson process with a strong Q4 (handmade gifts) peak, a weekly
cycle and a US daytime profile, plus one flash sale: 800 single-item receipts of one
discounted listing within 20 minutes at the reference volume (6 receipts/day over 730
days), scaled down with volume and span. Etsy, as marketplace facilitator, collects the
buyers' US sales tax (``total_tax_cost``) and debits it from the seller's ledger.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field

DAY = 86_400
HOUR = 3_600
FUTURE_DAYS = 30
REFERENCE_VOLUME = 6.0
_HOUR_WEIGHTS = (6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 7, 8, 8, 8, 8, 8, 7, 7)
_TAX_BP = (0, 600, 625, 700, 725, 825)  # basis points
_PLACES = (("CA", "Oakland", "94607"), ("NY", "Brooklyn", "11201"), ("TX", "Austin", "78701"))
_CRAFTS = ("Ceramic Mug", "Knit Scarf", "Silver Ring", "Tote Bag", "Candle", "Art Print")
_STYLES = ("Handmade", "Personalized", "Vintage", "Boho", "Minimalist", "Rustic")


@dataclass(frozen=True)
class Listing:
    listing_id: int
    product_id: int
    offering_id: int
    image_id: int
    sku: str
    title: str
    price: int  # cents
    shipping: int  # cents
    created: int
    initial_stock: int


@dataclass(frozen=True)
class Line:
    transaction_id: int
    listing: Listing
    quantity: int
    price: int  # unit price, cents

    @property
    def cost(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True)
class Refund:
    adjustment_id: int
    at: int
    amount: int  # cents returned to the buyer
    reason: str  # cancel_order | customer_return


@dataclass
class Receipt:
    receipt_id: int
    created: int
    buyer_user_id: int
    name: str
    state: str
    city: str
    zip: str
    lines: list[Line]
    shipping: int
    tax: int
    discount: int
    payment_id: int
    shipment_id: int
    shipped: int | None = None
    tracking: str = ""
    refunds: list[Refund] = field(default_factory=list)
    touches: list[int] = field(default_factory=list)

    @property
    def total_price(self) -> int:
        return sum(line.cost for line in self.lines)

    @property
    def grandtotal(self) -> int:
        return self.total_price - self.discount + self.shipping + self.tax

    @property
    def canceled(self) -> bool:
        return any(r.reason == "cancel_order" for r in self.refunds)

    def events(self) -> list[int]:
        times = [self.created, *(r.at for r in self.refunds), *self.touches]
        if self.shipped is not None:
            times.append(self.shipped)
        return sorted(times)

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
    shop_id: int
    user_id: int
    listings: list[Listing]
    receipts: list[Receipt]  # by creation time


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set()

    def make(self, low: int, high: int) -> int:
        while True:
            value = self.rng.randint(low, high)
            if value not in self.used:
                self.used.add(value)
                return value


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
    """Strong early-December peak (gifts), weekend lift; mean close to 1."""
    doy = (day_start // DAY) % 365.25
    yearly = 1.0 + 0.5 * math.cos(2 * math.pi * (doy - 340) / 365.25)
    weekday = (day_start // DAY + 3) % 7  # 0 = Monday
    return yearly * (1.1 if weekday >= 5 else 0.96)


def flash_sale_size(volume: float, span_days: float) -> int:
    return round(800 * min(1.0, volume / REFERENCE_VOLUME) * min(1.0, span_days / 730))


def _catalog(rng: random.Random, ids: _Ids, start: int, end: int, volume: float) -> list[Listing]:
    listings = []
    for i in range(20 + round(volume * 8)):
        created = (
            start - rng.randint(0, 400 * DAY) if rng.random() < 0.7 else rng.randint(start, end)
        )
        price = max(300, round(math.exp(rng.gauss(7.9, 0.6)) / 100) * 100 - 1)
        listings.append(
            Listing(
                listing_id=ids.make(1_000_000_000, 1_999_999_999),
                product_id=ids.make(10_000_000_000, 19_999_999_999),
                offering_id=ids.make(20_000_000_000, 29_999_999_999),
                image_id=ids.make(3_000_000_000, 3_999_999_999),
                sku=f"ETSY-{i + 1:04d}",
                title=f"{rng.choice(_STYLES)} {rng.choice(_CRAFTS)}",
                price=price,
                shipping=rng.choice((0, 0, 399, 599, 895)),
                created=created,
                initial_stock=rng.randint(10, 80),
            )
        )
    return listings


def _receipt(rng: random.Random, ids: _Ids, pool: list[Listing], t0: int, deal=None) -> Receipt:
    state, city, zip_code = rng.choice(_PLACES)
    if deal is not None:
        chosen, quantities = [deal[0]], [1]
    else:
        n = rng.choices((1, 2, 3), (75, 18, 7))[0]
        chosen = rng.sample(pool, min(n, len(pool)))
        quantities = [1 if rng.random() < 0.88 else 2 for _ in chosen]
    lines = [
        Line(
            ids.make(2_000_000_000, 2_999_999_999), listing, qty, deal[1] if deal else listing.price
        )
        for listing, qty in zip(chosen, quantities, strict=True)
    ]
    items = sum(line.cost for line in lines)
    discount = items // 10 if deal is None and rng.random() < 0.1 else 0
    shipping = max(line.listing.shipping for line in lines)
    tax = (items - discount + shipping) * rng.choice(_TAX_BP) // 10_000
    buyer = rng.randint(100_000_000, 999_999_999)
    receipt = Receipt(
        receipt_id=ids.make(1_000_000_000, 3_999_999_999),
        created=t0,
        buyer_user_id=buyer,
        name=f"Buyer {buyer % 10_000}",
        state=state,
        city=city,
        zip=zip_code,
        lines=lines,
        shipping=shipping,
        tax=tax,
        discount=discount,
        payment_id=ids.make(4_000_000_000, 4_999_999_999),
        shipment_id=ids.make(5_000_000_000, 5_999_999_999),
    )
    _lifecycle(rng, ids, receipt, fast=deal is not None)
    return receipt


def _lifecycle(rng: random.Random, ids: _Ids, receipt: Receipt, fast: bool) -> None:
    t0 = receipt.created
    if not fast and rng.random() < 0.02:
        at = t0 + rng.randint(HOUR, 30 * HOUR)
        receipt.refunds.append(
            Refund(ids.make(6_000_000_000, 6_999_999_999), at, receipt.grandtotal, "cancel_order")
        )
        return
    receipt.shipped = t0 + rng.randint(DAY, 5 * DAY)
    receipt.tracking = f"9400{rng.randrange(10**18):018d}"
    if rng.random() < 0.05:
        line = rng.choice(receipt.lines)
        at = receipt.shipped + rng.randint(5 * DAY, 30 * DAY)
        receipt.refunds.append(
            Refund(ids.make(6_000_000_000, 6_999_999_999), at, line.cost, "customer_return")
        )


def _arrivals(rng: random.Random, start: int, horizon: int, volume: float) -> list[int]:
    times, day = [], start - start % DAY
    while day < horizon:
        for _ in range(poisson(rng, volume * seasonality(day))):
            t = day + rng.choices(range(24), _HOUR_WEIGHTS)[0] * HOUR + rng.randrange(HOUR)
            if start <= t < horizon:
                times.append(t)
        day += DAY
    return sorted(times)


def account_ids(scenario_seed: int, client_id: str, client_seed: int) -> tuple[int, int]:
    """The client's (shop_id, user_id), known without generating the history."""
    rng = random.Random(repr(("etsy-account", scenario_seed, client_id, client_seed)))
    return rng.randint(10_000_000, 99_999_999), rng.randint(10_000_000, 99_999_999)


def generate(
    scenario_seed: int, client_id: str, client_seed: int, start: float, end: float, volume: float
) -> History:
    """The client's listings and receipts from ``start`` to ``end + 30 days``."""
    rng = random.Random(repr(("etsy", scenario_seed, client_id, client_seed)))
    ids = _Ids(rng)
    start_s, end_s = int(start), int(end)
    horizon = end_s + FUTURE_DAYS * DAY
    shop_id, user_id = account_ids(scenario_seed, client_id, client_seed)
    listings = _catalog(rng, ids, start_s, end_s, volume)
    receipts = []
    for t0 in _arrivals(rng, start_s, horizon, volume):
        pool = [item for item in listings if item.created <= t0]
        receipts.append(_receipt(rng, ids, pool, t0))
    n_flash = flash_sale_size(volume, (end_s - start_s) / DAY)
    if n_flash:
        flash_at = start_s + int(0.57 * (end_s - start_s)) // DAY * DAY + 16 * HOUR
        deal_listing = next(item for item in listings if item.created <= flash_at)
        deal = (deal_listing, deal_listing.price * 7 // 10)
        for k in range(n_flash):
            receipts.append(_receipt(rng, ids, listings, flash_at + k * 1200 // n_flash, deal))
    receipts.sort(key=lambda r: (r.created, r.receipt_id))
    return History(start_s, end_s, horizon, shop_id, user_id, listings, receipts)
