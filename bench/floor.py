"""The rate-limit floor: the shortest time the platforms' limits allow a backfill. Pure.

For every limit bucket (a lane of the ambassador's ``PlatformPolicy``), count the fewest
calls (or cost points) a strategy needs with the largest pages the connectors ask for,
then the time the bucket needs to serve them after its burst; daily quotas are counted
in whole days (the first reset comes at the quota's reset time after the start). A
bucket of a per-account policy serves one client; a per-application bucket (eBay, Etsy:
``PER_APPLICATION``) serves the calls of every client together. The floor is the
slowest bucket. Nothing else is counted: token requests, report processing time, bulk
operation run time and the latency of the calls themselves are not rate limits.

Calls counted, per resource, from the connectors' chains (page sizes read from the
connector modules):

Amazon (per seller; operation = bucket)
    orders, order_items  bulk: one all-orders report for both (createReport, at least
                         one getReport poll, one getReportDocument). Per record:
                         getOrders pages of 100; order items walk the getOrders pages
                         again, then getOrderItems per order (pages of 10 items).
    returns              the returns report (Amazon has no list): same three calls.
    payouts              listFinancialEventGroups, 180-day slices, pages of 100.
    transactions         the groups again (the driver), then listFinancialEventsByGroupId
                         per group, pages of 100; a closed group too old for it (the
                         connector's GROUP_EVENTS_FOR less GROUP_EVENTS_MARGIN)
                         listFinancialEvents over its span, pages of 100 of every
                         marketplace's dated events there (a floor: other groups'
                         undated events in the span are not counted).
    inventory            getInventorySummaries per marketplace, pages of 50, each
                         marketplace listed ``INVENTORY_LISTINGS`` (2) times in a row (the
                         connector compares the listings: a dropped SKU has no count).
Shopify (per shop; the GraphQL cost bucket, in points)
    bulk (orders, order items, returns, inventory: ``OFFERED_BULK``): per resource one
    bulkOperationRunQuery (``BULK_RUN_COST``) and one poll (``BULK_POLL_COST``); the
    JSONL download draws on no limit. Balance transactions and payouts are paged on
    every strategy (see ``OFFERED_BULK``). Per record: paged
    queries of ``Query.page_size()`` top nodes (orders for items and returns), each page
    charged the requested cost of the nodes it holds (an over-estimate for pages whose
    nested lists are shorter than requested). Returns, either way, then ask the details
    of the orders with refunds (``nodes(ids:)``, ``refunds.details_costs``: sized by each
    order's line items after a bulk file, at the paged path's nested page otherwise).
eBay (per application; Fulfillment / Finances / Inventory quotas)
    orders, order_items and returns each page getOrders (200); getTransactions (200),
    getPayouts (200), getInventoryItems (100). No bulk path: both strategies alike.
Etsy (per application; 10/s and 10,000/day)
    orders: getShopReceipts (100). order_items bulk: getShopReceiptTransactionsByShop
    (100); per record: the receipts, then getShopReceiptTransactionsByReceipt per
    receipt. transactions and payouts: ledger entries in windows of at most 31 days,
    pages of 100, each resource its own chain. returns: receipts by last modified, then
    getShopPaymentByReceiptId per receipt with refunds. inventory: getListingsByShop
    with the inventory included (100).
Quiltt (per profile): the transactions connection, pages of 100.

Every chain costs at least one call per window or slice even when it is empty.

``only``: the (platform, resource) pairs allowed their bulk path (None: every path a
platform offers, ``OFFERED_BULK``). ``floor(..., bulk=True, only=BULK_HISTORY)`` is the
floor of the paths Tributary's planner actually takes (``shared.flows.chains.BULK_HISTORY``):
it differs from the all-paths floor where the product leaves an offered bulk path unused.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from shared.ambassador.policies import LaneSpec, PlatformPolicy
from shared.ambassador.protocol import PER_APPLICATION
from shared.platforms.amazon.client import GROUP_EVENTS_FOR, GROUP_EVENTS_MARGIN
from shared.platforms.amazon.pagination import FINANCE_SLICE, INVENTORY_LISTINGS
from shared.platforms.amazon.pagination import PAGE_SIZE as AMAZON_PAGE
from shared.platforms.ebay.pagination import METHODS as EBAY_METHODS
from shared.platforms.etsy.pagination import LEDGER_WINDOW_S
from shared.platforms.etsy.pagination import PAGE_LIMIT as ETSY_PAGE
from shared.platforms.quiltt.pagination import PAGE_CAP as QUILTT_PAGE
from shared.platforms.shopify.queries import BULK_POLL_COST, BULK_RUN_COST, QUERIES
from shared.platforms.shopify.refunds import details_costs

AMAZON_ITEMS_PAGE = 10  # getOrderItems items per page
AMAZON_INVENTORY_PAGE = 50  # getInventorySummaries summaries per page
DAY_S = 86_400.0


@dataclass
class PlatformCensus:
    """The data of one (client, platform), as the floor needs it."""

    client: str
    platform: str
    start: float  # epoch s: the history the onboarding asks for begins here
    end: float  # epoch s: now at the start of the run
    counts: dict[str, int] = field(default_factory=dict)
    per_parent: dict[str, list[int]] = field(default_factory=dict)  # children per parent
    times: dict[str, list[float]] = field(default_factory=dict)  # record times, epoch s


Census = dict[tuple[str, str], PlatformCensus]


@dataclass(frozen=True)
class Bucket:
    platform: str
    scope: str  # the client, or "application"
    lane: str
    calls: int
    units: int  # what the bucket counts: calls, or cost points
    seconds: float


@dataclass
class Floor:
    seconds: float
    binding: Bucket | None
    buckets: list[Bucket]
    per_platform_s: dict[str, float]
    calls: int  # every call the strategy needs (all buckets)
    calls_per_platform: dict[str, int]


def pages(n: int, size: int) -> int:
    """Pages of ``size`` for ``n`` records: at least one (an empty list is one call)."""
    return max(1, math.ceil(n / size))


def slices(start: float, end: float, width: float, times: list[float]) -> list[int]:
    """Records per consecutive slice of ``width`` seconds covering ``[start, end)``."""
    count = max(1, math.ceil((end - start) / width))
    out = [0] * count
    for t in times:
        if start <= t < end:
            out[min(count - 1, int((t - start) // width))] += 1
    return out


def _add(out: dict[str, list[int]], lane: str, calls: int, units: int | None = None) -> None:
    entry = out.setdefault(lane, [0, 0])
    entry[0] += calls
    entry[1] += calls if units is None else units


Paths = Collection[tuple[str, str]] | None

OFFERED_BULK: frozenset[tuple[str, str]] = frozenset(
    {
        ("amazon", "orders"),
        ("amazon", "order_items"),
        ("amazon", "returns"),
        ("shopify", "orders"),
        ("shopify", "order_items"),
        ("shopify", "returns"),
        ("shopify", "inventory"),
        ("etsy", "order_items"),
    }
)
"""(platform, resource) pairs the platform's real API can load in bulk: the most any
strategy's floor may count as bulk (``uses_bulk``).

Amazon: the all-orders report serves orders and items, the returns report returns.
Etsy: getShopReceiptTransactionsByShop. eBay and Quiltt have none.

Shopify's bulk queries (``bulkOperationRunQuery``, S-BULK; shopify.dev
/docs/api/usage/bulk-operations/queries) need at least one connection, at most five,
nested at most two deep, none inside a list field, selected through ``edges { node }``
(a captured 2026-04 answer refuses ``nodes``), with no top-level ``node``. Orders with
their line items, and inventory items with their inventory levels, are such queries
from a top-level connection: peers run both in bulk (Airbyte source-shopify's
``InventoryItem`` and ``InventoryLevel`` bulk queries; estuary's source-shopify-native
``inventory_levels``: ``inventoryItems`` with their ``inventoryLevels`` and
``quantities(names:)``, our shape). Shopify Payments balance transactions and payouts
are connections below the ``shopifyPaymentsAccount`` object, not top-level connections,
and no source found shows a bulk query accepting them: the guide's examples seen and
the captured bulk queries (airhorns/shopify-draft-proxy, fixtures 2026-04/bulk-operations)
all start at a top-level connection, and the peers page them (Airbyte's ``balance_transactions`` on
REST ``shopify_payments/balance/transactions.json``; Microsoft's Business Central
connector and public apps with paged ``shopifyPaymentsAccount { balanceTransactions(first:
100) }``; estuary has no such stream; singer-io tap-shopify none either). Until a
capture shows one accepted, the floor counts them paged on every strategy."""


def uses_bulk(platform: str, resource: str, bulk: bool, only: Paths = None) -> bool:
    """Whether the strategy loads ``resource`` of ``platform`` through its bulk path: a
    path the platform offers (``OFFERED_BULK``), restricted to ``only`` when given."""
    if not bulk or (platform, resource) not in OFFERED_BULK:
        return False
    return only is None or (platform, resource) in only


def amazon_calls(c: PlatformCensus, *, bulk: bool, only: Paths = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    orders_bulk = uses_bulk("amazon", "orders", bulk, only)
    items_bulk = uses_bulk("amazon", "order_items", bulk, only)
    # one all-orders report serves orders and items; returns always (Amazon lists none)
    reports = 1 + (orders_bulk or items_bulk)
    for lane in ("createReport", "getReport", "getReportDocument"):
        _add(out, lane, reports)
    order_pages = pages(c.counts["orders"], AMAZON_PAGE)
    paged = (not orders_bulk) + (not items_bulk)  # orders, and the items' driver
    if paged:
        _add(out, "getOrders", paged * order_pages)
    if not items_bulk:
        items = sum(pages(n, AMAZON_ITEMS_PAGE) for n in c.per_parent["items_per_order"])
        _add(out, "getOrderItems", items)
    width = FINANCE_SLICE.total_seconds()
    group_pages = sum(
        pages(n, AMAZON_PAGE) for n in slices(c.start, c.end, width, c.times["groups"])
    )
    _add(out, "listFinancialEventGroups", 2 * group_pages)  # payouts, and the events' driver
    by_group, by_date = 0, 0
    old_before = c.end - (GROUP_EVENTS_FOR - GROUP_EVENTS_MARGIN).total_seconds()
    ends = c.times.get("group_ends") or [0.0] * len(c.times["groups"])
    spans = c.per_parent.get("events_in_group_span") or c.per_parent["events_per_group"]
    for own, start, end, span in zip(
        c.per_parent["events_per_group"], c.times["groups"], ends, spans, strict=True
    ):
        if end and start < old_before:  # the connector lists it by posted date
            by_date += pages(span, AMAZON_PAGE)
        else:
            by_group += pages(own, AMAZON_PAGE)
    _add(out, "listFinancialEventsByGroupId", by_group)
    if by_date:
        _add(out, "listFinancialEvents", by_date)
    markets = c.per_parent["summaries_per_market"] or [0]
    listing = sum(pages(n, AMAZON_INVENTORY_PAGE) for n in markets)
    _add(out, "getInventorySummaries", INVENTORY_LISTINGS * listing)
    return out


def shopify_points(resource: str, n: int) -> int:
    """Points of a paged GraphQL load of ``n`` top nodes (requested cost per page)."""
    q = QUERIES[resource]
    size = q.page_size()
    full, rest = divmod(n, size)
    return full * q.cost(size) + (q.cost(rest) if rest or not full else 0)


def shopify_calls(c: PlatformCensus, *, bulk: bool, only: Paths = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for resource, n in c.counts.items():
        on_bulk = uses_bulk("shopify", resource, bulk, only)
        if on_bulk:
            _add(out, "graphql", 2, BULK_RUN_COST + BULK_POLL_COST)
        else:
            _add(
                out, "graphql", pages(n, QUERIES[resource].page_size()), shopify_points(resource, n)
            )
        if resource == "returns":
            hints = c.per_parent.get("lines_per_refunded_order", [])
            costs = details_costs(hints if on_bulk else None, orders=len(hints))
            _add(out, "graphql", len(costs), sum(costs))
    return out


def ebay_calls(c: PlatformCensus, *, bulk: bool, only: Paths = None) -> dict[str, list[int]]:
    lanes = {
        "orders": "fulfillment",
        "order_items": "fulfillment",
        "returns": "fulfillment",
        "transactions": "finances",
        "payouts": "finances",
        "inventory": "inventory",
    }
    out: dict[str, list[int]] = {}
    for resource, lane in lanes.items():
        _add(out, lane, pages(c.counts[resource], EBAY_METHODS[resource].limit))
    return out


def etsy_calls(c: PlatformCensus, *, bulk: bool, only: Paths = None) -> dict[str, list[int]]:
    receipts, lines, listings = c.counts["receipts"], c.counts["lines"], c.counts["listings"]
    receipt_pages = pages(receipts, ETSY_PAGE)
    windows = slices(c.start, c.end, float(LEDGER_WINDOW_S), c.times["ledger"])
    ledger = sum(pages(n, ETSY_PAGE) for n in windows)
    calls = receipt_pages  # orders
    items_bulk = uses_bulk("etsy", "order_items", bulk, only)
    calls += pages(lines, ETSY_PAGE) if items_bulk else receipt_pages + receipts  # order items
    calls += 2 * ledger  # transactions, payouts
    calls += receipt_pages + c.counts["refunded"]  # returns: a payment per refunded receipt
    calls += pages(listings, ETSY_PAGE)  # inventory: listings with their inventory
    return {"api": [calls, calls]}


def quiltt_calls(c: PlatformCensus, *, bulk: bool, only: Paths = None) -> dict[str, list[int]]:
    n = pages(c.counts["bank_transactions"], QUILTT_PAGE)
    return {"api": [n, n]}


CALLS = {
    "amazon": amazon_calls,
    "shopify": shopify_calls,
    "ebay": ebay_calls,
    "etsy": etsy_calls,
    "quiltt": quiltt_calls,
}


def _first_reset(start: float, reset_utc: str) -> float:
    """Seconds from ``start`` to the next daily reset at ``reset_utc`` (``HH:MM``)."""
    hour, minute = (int(x) for x in str(reset_utc).split(":")[:2])
    at = datetime.fromtimestamp(start, UTC)
    reset = datetime.combine(at.date(), time(hour, minute), UTC)
    if reset <= at:
        reset += timedelta(days=1)
    return reset.timestamp() - start


def lane_seconds(lane: LaneSpec, units: int, start: float) -> float:
    """Shortest time ``lane`` takes to admit ``units``, its burst or window full at start."""
    worst = 0.0
    for spec in lane.limits:
        p = spec.params
        if spec.kind in ("token_bucket", "leaky_bucket", "cost_bucket"):
            seconds = max(0.0, units - float(p["burst"])) / float(p["rate"])
        elif spec.kind == "sliding_window":
            limit, window = float(p["limit"]), float(p["window_s"])
            if window >= DAY_S:
                seconds = (math.ceil(units / limit) - 1) * window
            else:
                seconds = max(0.0, units - limit) * window / limit
        elif spec.kind == "daily_quota":
            days = math.ceil(units / float(p["limit"])) - 1
            seconds = 0.0 if days <= 0 else _first_reset(start, p.get("reset_utc", "00:00"))
            seconds += max(0, days - 1) * DAY_S
        elif spec.kind == "fixed_window":
            seconds = max(0, math.ceil(units / float(p["limit"])) - 1) * float(p["window_s"])
        else:
            raise ValueError(f"floor: unknown limit kind {spec.kind!r}")
        worst = max(worst, seconds)
    return worst


def floor(
    census: Census, policies: Mapping[str, PlatformPolicy], *, bulk: bool, only: Paths = None
) -> Floor:
    """The floor of a strategy over ``census``: ``bulk=True`` takes the bulk paths where a
    platform has one (restricted to ``only`` when given), ``bulk=False`` is the
    per-record strategy."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    starts: dict[str, float] = {}
    for (client, platform), c in census.items():
        scope = "application" if platform in PER_APPLICATION else client
        starts[platform] = min(starts.get(platform, c.end), c.end)
        for lane, (calls, units) in CALLS[platform](c, bulk=bulk, only=only).items():
            entry = totals[(platform, scope, lane)]
            entry[0] += calls
            entry[1] += units
    buckets = []
    for (platform, scope, lane), (calls, units) in sorted(totals.items()):
        policy = policies[platform]
        spec = policy.lanes[policy.lane_of(lane)]
        buckets.append(
            Bucket(platform, scope, lane, calls, units, lane_seconds(spec, units, starts[platform]))
        )
    per_platform: dict[str, float] = defaultdict(float)
    calls_per: dict[str, int] = defaultdict(int)
    for b in buckets:
        per_platform[b.platform] = max(per_platform[b.platform], b.seconds)
        calls_per[b.platform] += b.calls
    binding = max(buckets, key=lambda b: b.seconds, default=None)
    return Floor(
        seconds=binding.seconds if binding else 0.0,
        binding=binding,
        buckets=buckets,
        per_platform_s=dict(per_platform),
        calls=sum(calls_per.values()),
        calls_per_platform=dict(calls_per),
    )
