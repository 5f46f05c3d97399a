"""A seller's Amazon history, generated from seeds: catalog, orders, items, returns.

Deterministic: everything comes from one ``random.Random`` seeded with the scenario seed,
the client and the platform, so the same scenario always yields the same history.

Time model: all times are whole epoch seconds (UTC). Activity is generated from the
client's ``history_start`` up to ``history_end + 30 days`` ("future" activity): what the API
shows is decided later by the views, as of the world clock. An order is a list of versions
(Pending → Unshipped → [PartiallyShipped →] Shipped, or → Canceled); a version is visible
from its time on. Orders arrive as a Poisson process with yearly and weekly seasonality and
US/JP daytime peaks, plus one flash sale (800 orders in 20 minutes at the reference volume
of 11 orders/day over two years; scaled down with volume and span).

Finance events, payout groups and inventory are derived from these orders in
``finance.py`` and ``inventory.py``.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from sandbox.amazon.formats import JP, US, Marketplace, quantize

DAY = 86_400
HOUR = 3_600
FUTURE_DAYS = 30
US_TAX_RATE = Decimal("0.0825")

_ADJECTIVES = ("Classic", "Ultra", "Compact", "Eco", "Deluxe", "Smart", "Travel", "Pro", "Mini")
_NOUNS = (
    "Water Bottle",
    "Desk Lamp",
    "Yoga Mat",
    "Phone Stand",
    "Backpack",
    "Tea Kettle",
    "Notebook Set",
    "Cable Organizer",
    "Plant Pot",
    "Coffee Grinder",
    "Lunch Box",
)
_JP_NOUNS = ("水筒", "デスクライト", "ヨガマット", "スマホスタンド", "リュック", "ケトル")
_RETURN_REASONS = (
    "NO_LONGER_NEEDED",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "ORDERED_WRONG_ITEM",
    "DAMAGED_BY_CARRIER",
    "SWITCHEROO",
)


@dataclass(frozen=True)
class Sku:
    sku: str
    asin: str
    fnsku: str
    title: str
    marketplace: Marketplace
    channel: str  # AFN (fulfilled by Amazon) | MFN (by the seller)
    price: Decimal  # list price per unit
    launched: int
    weight: float  # popularity


@dataclass(frozen=True)
class Item:
    order_item_id: str
    sku: Sku
    quantity: int
    item_price: Decimal  # unit price x quantity
    promotion: Decimal  # discount on the item (>= 0)
    promotion_id: str | None
    tax: Decimal
    shipping: Decimal

    @property
    def net(self) -> Decimal:
        return self.item_price - self.promotion


@dataclass(frozen=True)
class Version:
    at: int
    status: str
    paid: bool
    shipped: tuple[int, ...]  # units shipped so far, per item


@dataclass
class Order:
    order_id: str
    marketplace: Marketplace
    channel: str
    purchased: int
    items: list[Item]
    versions: list[Version]  # sorted by time; versions[0].at == purchased
    is_business: bool
    ship_to: tuple[str, str, str]  # city, state/region, postal code

    def version_at(self, t: float) -> Version | None:
        i = bisect.bisect_right([v.at for v in self.versions], t)
        return self.versions[i - 1] if i else None

    def touch(self, t: int) -> None:
        """A change at ``t`` that keeps the order's content (bumps LastUpdateDate)."""
        current = self.version_at(t) or self.versions[0]
        bisect.insort(
            self.versions,
            Version(t, current.status, current.paid, current.shipped),
            key=lambda v: v.at,
        )

    def shipments(self) -> list[tuple[int, tuple[int, ...]]]:
        """(time, units shipped per item in that shipment) for each shipping version."""
        out, before = [], tuple(0 for _ in self.items)
        for v in self.versions:
            if v.shipped != before and any(v.shipped):
                out.append((v.at, tuple(a - b for a, b in zip(v.shipped, before, strict=True))))
                before = v.shipped
        return out


@dataclass(frozen=True)
class Return:
    rma_id: str
    order: Order
    item: Item
    quantity: int
    requested: int
    reason: str
    received: int | None  # back at the seller / fulfillment center
    refunded: int | None  # RefundEvent posted
    sellable: bool


@dataclass
class History:
    client_id: str
    start: int
    horizon: int
    skus: list[Sku]
    orders: list[Order]  # by purchase time
    returns: list[Return]  # by request time
    by_id: dict[str, Order] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {o.order_id: o for o in self.orders}


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng, self.seen = rng, set()

    def unique(self, make) -> str:
        while (value := make(self.rng)) in self.seen:
            pass
        self.seen.add(value)
        return value

    def order_id(self, marketplace: Marketplace) -> str:
        first = "11" if marketplace is US else "50"
        return self.unique(
            lambda r: (
                f"{first}{r.randint(1, 4)}-{r.randint(0, 9_999_999):07d}-"
                f"{r.randint(0, 9_999_999):07d}"
            )
        )

    def digits(self, n: int) -> str:
        return self.unique(lambda r: str(r.randint(10 ** (n - 1), 10**n - 1)))

    def alnum(self, prefix: str, n: int) -> str:
        chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        return self.unique(lambda r: prefix + "".join(r.choice(chars) for _ in range(n)))


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k, p = k + 1, p * rng.random()
    return k


_MONTHLY = (0.80, 0.78, 0.90, 0.92, 0.95, 0.95, 1.08, 0.95, 0.95, 1.00, 1.32, 1.50)


def seasonality(t: int) -> float:
    """Holiday peak in November-December, a quiet January-February, Prime Day in July,
    busier weekends (mean about 1)."""
    day = t // DAY
    weekday = (day + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    return _MONTHLY[time.gmtime(t).tm_mon - 1] * (1.15 if weekday >= 5 else 0.94)


def _hour(rng: random.Random, marketplace: Marketplace) -> int:
    local_peak = rng.choices(
        range(24), weights=[1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9, 7, 4, 2]
    )[0]
    local_to_utc = 9 if marketplace is JP else -6  # US traffic centred on Central time
    return (local_peak - local_to_utc) % 24


def catalog(rng: random.Random, ids: _Ids, volume: float, start: int, span: int) -> list[Sku]:
    n_us = max(24, round(volume * 4))
    out = []
    for i in range(n_us + max(4, n_us // 4)):
        jp = i >= n_us
        market = JP if jp else US
        title = (
            f"{rng.choice(_JP_NOUNS)} {rng.randint(1, 9)}型"
            if jp
            else f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        )
        base = Decimal(rng.randint(8, 120)) - Decimal("0.01")
        price = quantize(base * 150, "JPY") if jp else base
        launched = start if rng.random() < 0.85 else start + int(rng.uniform(0.1, 0.7) * span)
        out.append(
            Sku(
                sku=f"{'JP-' if jp else ''}SKU-{i:04d}-{ids.alnum('', 4)}",
                asin=ids.alnum("B0", 8),
                fnsku=ids.alnum("X00", 7),
                title=title,
                marketplace=market,
                channel="AFN" if rng.random() < 0.7 else "MFN",
                price=price,
                launched=launched,
                weight=1.0 / (1 + i % n_us) ** 0.8,
            )
        )
    return out


def _item(
    rng: random.Random, ids: _Ids, sku: Sku, first: bool, promo: tuple[str, Decimal] | None
) -> Item:
    currency = sku.marketplace.currency
    qty = rng.choices((1, 2, 3), weights=(85, 11, 4))[0]
    unit = quantize(sku.price * Decimal(str(rng.uniform(0.95, 1.05))), currency)
    price = unit * qty
    discount = quantize(price * promo[1], currency) if promo else Decimal(0)
    tax = quantize((price - discount) * US_TAX_RATE, currency) if currency == "USD" else Decimal(0)
    shipping = Decimal(0)
    if sku.channel == "MFN" and first:
        shipping = Decimal("4.99") if currency == "USD" else Decimal(500)
    return Item(
        ids.digits(14), sku, qty, price, discount, promo[0] if promo else None, tax, shipping
    )


def _versions(
    rng: random.Random, t0: int, channel: str, items: list[Item], fast: bool
) -> list[Version]:
    zeros = tuple(0 for _ in items)
    full = tuple(i.quantity for i in items)
    versions = [Version(t0, "Pending", False, zeros)]
    if not fast and rng.random() < 0.03:
        return [*versions, Version(t0 + rng.randint(1800, DAY), "Canceled", False, zeros)]
    paid = t0 + (
        rng.randint(20, 120) if fast else min(6 * HOUR, 60 + int(rng.expovariate(1 / 600)))
    )
    versions.append(Version(paid, "Unshipped", True, zeros))
    if rng.random() < 0.015:
        return [*versions, Version(paid + rng.randint(HOUR, 12 * HOUR), "Canceled", True, zeros)]
    ship = paid + (
        rng.randint(4 * HOUR, 30 * HOUR) if channel == "AFN" else rng.randint(12 * HOUR, 72 * HOUR)
    )
    if channel == "MFN" and len(items) > 1 and rng.random() < 0.15:
        first = (items[0].quantity, *zeros[1:])
        versions.append(Version(ship, "PartiallyShipped", True, first))
        ship += rng.randint(DAY, 3 * DAY)
    return [*versions, Version(ship, "Shipped", True, full)]


class _Pools:
    """SKUs on sale per marketplace and channel at an instant, with popularity weights."""

    def __init__(self, skus: list[Sku]) -> None:
        self.skus = sorted(skus, key=lambda s: s.launched)
        self.launches = [s.launched for s in self.skus]
        self._cache: dict[tuple[str, int], dict[str, tuple[list[Sku], list[float]]]] = {}

    def at(self, market: Marketplace, t: int) -> dict[str, tuple[list[Sku], list[float]]]:
        n = bisect.bisect_right(self.launches, t)
        key = (market.marketplace_id, n)
        if key not in self._cache:
            live = [s for s in self.skus[:n] if s.marketplace is market]
            self._cache[key] = {}
            for channel in ("AFN", "MFN"):
                pool = [s for s in live if s.channel == channel]
                if pool:
                    self._cache[key][channel] = (pool, list(accumulate(s.weight for s in pool)))
        return self._cache[key]


def _pick_skus(rng: random.Random, pool: tuple[list[Sku], list[float]], n: int) -> list[Sku]:
    skus, cumulative = pool
    chosen: list[Sku] = []
    while len(chosen) < min(n, len(skus)):
        sku = rng.choices(skus, cum_weights=cumulative)[0]
        if sku not in chosen:
            chosen.append(sku)
    return chosen


def _order(
    rng: random.Random,
    ids: _Ids,
    pools: _Pools,
    t0: int,
    market: Marketplace,
    *,
    flash: Sku | None = None,
    n_items: int | None = None,
) -> Order | None:
    if flash is not None:
        market, channel, chosen = flash.marketplace, flash.channel, [flash]
        promo: tuple[str, Decimal] | None = ("FLASH-DEAL-1", Decimal("0.20"))
    else:
        by_channel = pools.at(market, t0)
        if not by_channel:
            return None
        if n_items is not None:  # a business order: the channel with the wider range
            channel = max(by_channel, key=lambda c: len(by_channel[c][0]))
        else:
            channel = "AFN" if rng.random() < 0.7 else "MFN"
            channel = channel if channel in by_channel else next(iter(by_channel))
        count = n_items or rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        chosen = _pick_skus(rng, by_channel[channel], count)
        promo = ("COUPON-10", Decimal("0.10")) if rng.random() < 0.04 else None
    items = [_item(rng, ids, s, i == 0, promo) for i, s in enumerate(chosen)]
    city = rng.choice(
        (
            ("Seattle", "WA", "98101"),
            ("Austin", "TX", "73301"),
            ("Denver", "CO", "80202"),
            ("Miami", "FL", "33101"),
        )
    )
    if market is JP:
        city = rng.choice((("渋谷区", "東京都", "150-0002"), ("大阪市", "大阪府", "530-0001")))
    return Order(
        ids.order_id(market),
        market,
        channel,
        t0,
        items,
        _versions(rng, t0, channel, items, fast=flash is not None),
        is_business=n_items is not None,
        ship_to=city,
    )


def _returns(rng: random.Random, ids: _Ids, orders: list[Order]) -> list[Return]:
    out = []
    for order in orders:
        final = order.versions[-1]
        if final.status != "Shipped" or rng.random() >= 0.06:
            continue
        item = rng.choice(order.items)
        requested = final.at + rng.randint(3 * DAY, 25 * DAY)
        fate = rng.random()
        received = refunded = None
        if fate < 0.8:
            received = requested + rng.randint(3 * DAY, 10 * DAY)
            refunded = received + rng.randint(HOUR * 12, 2 * DAY)
        elif fate < 0.9:
            refunded = requested + rng.randint(HOUR, 2 * DAY)  # returnless refund
        out.append(
            Return(
                ids.alnum("D", 9),
                order,
                item,
                item.quantity,
                requested,
                rng.choice(_RETURN_REASONS),
                received,
                refunded,
                rng.random() < 0.7,
            )
        )
    return sorted(out, key=lambda r: r.requested)


def flash_sale_size(volume: float, span_days: float) -> int:
    """800 orders at the reference (11 orders/day over 730 days), scaled down otherwise."""
    return round(800 * min(1.0, volume / 11) * min(1.0, span_days / 730))


def generate(
    scenario_seed: int, client_id: str, client_seed: int, start: float, end: float, volume: float
) -> History:
    rng = random.Random(f"amazon/{scenario_seed}/{client_id}/{client_seed}")
    ids = _Ids(rng)
    start_s, horizon = int(start), int(end) + FUTURE_DAYS * DAY
    skus = catalog(rng, ids, volume, start_s, horizon - start_s)
    pools = _Pools(skus)
    orders: list[Order] = []
    big_at = start_s + int(0.4 * (int(end) - start_s))
    flash_at = start_s + int(0.62 * (int(end) - start_s)) // DAY * DAY + 18 * HOUR
    n_flash = flash_sale_size(volume, (end - start) / DAY)
    for day in range(start_s // DAY * DAY, horizon, DAY):
        for _ in range(poisson(rng, volume * seasonality(day))):
            market = JP if rng.random() < 0.12 else US
            t0 = day + _hour(rng, market) * HOUR + rng.randint(0, HOUR - 1)
            if start_s <= t0 < horizon and (order := _order(rng, ids, pools, t0, market)):
                orders.append(order)
        if day <= big_at < day + DAY:
            big = _order(rng, ids, pools, big_at, US, n_items=rng.randint(12, 20))
            orders.extend([big] if big else [])
        if day <= flash_at < day + DAY and n_flash:
            deal = max(
                (s for s in skus if s.marketplace is US and s.launched <= flash_at),
                key=lambda s: (s.channel == "AFN", s.weight),
            )
            for k in range(n_flash):
                t0 = flash_at + (k * 1200) // n_flash
                orders.append(_order(rng, ids, pools, t0, US, flash=deal))
    orders.sort(key=lambda o: (o.purchased, o.order_id))
    return History(client_id, start_s, horizon, skus, orders, _returns(rng, ids, orders))
