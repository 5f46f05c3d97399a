"""The block check as the flows call it.

``check``: stored pages -> (problems, records, reported). The checks themselves are
``shared.integrity.check_block``'s; ``check`` turns the stored pages into its inputs
and adds the one check only the flows can make: the pages stored are exactly
``0 .. pages-1`` (no page lost between fetch and check). Pages that carry an open
payout's running total (``running`` metadata: an Amazon transactions block listing a
settlement group still open) are checked against the transactions listed
(``integrity.running_totals_off``).

``linked``: the checks that join a block to another resource's blocks — every order
with its items, every settled payout equal to the sum of its transactions, every payout
that stored transactions name stored (Amazon) — read from
Table storage (records) and the ledger (which blocks are done). Both ends of a link
check it, each only over what the other end has finished (see ``linked``), so whichever
block is verified last checks the link in full, and no check judges half-loaded data:
blocks run side by side (``sync_client``), in any order. The rules are
``shared.integrity``'s ("Links between resources").

A failed link names its *suspects* (``Links.suspects``): the done blocks on the other
end whose windows hold a record the check found lacking (the items blocks of an order
without items, the orders blocks of an orphan item's date, the transactions blocks
covering a payout that does not add up, the payouts blocks meeting the span a payout
named by transactions but not stored started in). The block itself may be the incomplete side
too, and its retry re-loads it; the suspects are loaded again as new generations
before that retry (``shared.flows.generations.reopen``), so a hole on either side heals.

Known gap: if both ends are verified at the same moment, each may find the other not
done yet and the link goes unchecked (never falsely failed).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.flows.chains import WINDOW_SLACK
from shared.flows.generations import DAILY
from shared.flows.models import BlockSpec
from shared.flows.pages import StoredPage
from shared.integrity import (
    PAYOUT_STARTS_BEFORE,
    PayoutScope,
    covered,
    deduplicate,
    items_problem,
    money_problem,
    needs_items,
    orders_lacking_items,
    orphans,
    orphans_problem,
    payout_scope,
    payout_sums_from,
    payouts_off,
    payouts_unlisted,
    unlisted_problem,
)
from shared.models import Money, Order, OrderItem, Payout, Record, Transaction, record_from_json
from shared.platforms.base import Window
from shared.settings import Settings
from shared.storage.blocks import Block, BlockState
from shared.storage.ledger import Ledger
from shared.storage.records import UNDATED, RecordStore, period_of


def check(
    spec: BlockSpec, pages: list[StoredPage], expected: int
) -> tuple[list[str], int, int | None]:
    """(problems, distinct records, reported count or None)."""
    problems: list[str] = []
    numbers = [p.number for p in pages]
    if numbers != list(range(expected)):
        problems.append(f"stored pages {numbers[:10]} are not the {expected} pages fetched")
    records = [r for p in pages for r in p.records]
    reports = [p.reported for p in pages if p.reported is not None]
    reported = max(reports) if reports else None
    problems += _integrity(spec, pages, records)
    return problems, len({r.natural_key for r in records}), reported


def _integrity(spec: BlockSpec, pages: list[StoredPage], records: list) -> list[str]:
    from shared.integrity import PageFacts, check_block

    facts = [
        PageFacts(
            page_number=page.number,
            record_count=len(page.records),
            reported_count=page.reported,
            has_next=page.has_next,
            cursor=page.cursor,
            listing=page.metadata.get("listing", ""),
        )
        for page in pages
    ]
    window = judged_window(spec)
    report = check_block(spec.resource, window, facts, records, by_update=spec.tier == "daily")
    return [str(p) for p in report.problems] + _running(pages, records)


def _running(pages: list[StoredPage], records: list) -> list[str]:
    """The open payouts' running totals the pages carry (``running`` metadata), each
    against the transactions listed (``integrity.running_totals_off``)."""
    from shared.integrity import RunningTotal, running_problem, running_totals_off

    totals: dict[str, RunningTotal] = {}
    for page in pages:
        text = page.metadata.get("running")
        if text:
            try:
                running = RunningTotal.model_validate_json(text)
            except ValueError:
                return [f"page {page.number} carries a malformed running total"]
            totals[running.payout_id] = running
    if not totals:
        return []
    unique, _ = deduplicate(records)
    off = running_totals_off([r for r in unique if isinstance(r, Transaction)], totals.values())
    return [running_problem(off)] if off else []


def judged_window(spec: BlockSpec) -> Window:
    """The window the records are judged by: the block's, widened at its end where the
    block reaches its records through parents that the window selects (Amazon lists a
    settlement group's events, posted until the group closes)."""
    slack = WINDOW_SLACK.get((spec.platform, spec.resource))
    if slack is None:
        return spec.window
    return Window(start=spec.window.start, end=spec.window.end + slack)


# --- links between resources (shared.integrity, "Links between resources") ----------

SEEK_CONCURRENCY = 8
SCAN_FROM = 50
"""Orders of one month from which reading the month's items beats a seek per order."""
UNDATED_FIRST = frozenset({"amazon"})
"""Platforms whose items carry no date (Amazon getOrderItems): their rows sit in the
undated partition, so that is where a seek looks first."""


@dataclass
class Links:
    """What the cross-resource checks of one block found; ``counts`` for the log;
    ``suspects``: with problems, the done blocks on the other end that may hold the hole
    (their window holds a record found lacking; never the block checked)."""

    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    suspects: list[Block] = field(default_factory=list)


async def linked(
    settings: Settings, spec: BlockSpec, records: list[Record], *, now: datetime | None = None
) -> Links:
    """The link checks of ``spec``'s block, whose (verified) ``records`` are stored:

    - ``orders``: every order needing items (``integrity.needs_items``) whose creation a
      done ``order_items`` block covers has an item stored; the others wait for that
      block, which checks them from its end.
    - ``orders`` (listed by creation, not daily) also: every stored item dated in the
      block's window has its order stored (items are dated by their order's creation:
      the listing dropped it), whichever end was verified first.
    - ``order_items``: every order stored so far with its creation in the block's window
      has an item stored (this block's or an earlier one's). Orders not stored yet are
      judged by their orders block, once this block is done. Once done ``orders``
      blocks cover the window, the order of every item dated in the window must be
      stored too; a daily block's items (of orders changed in its window, created any
      time) are judged so where done orders blocks listed by creation (not daily ones)
      hold their date.
    - ``payouts``: every settled payout (``integrity.payout_scope``) whose transactions
      done blocks listed after its settlement cover equals their stored sum; and every
      payout that stored transactions posted in its window (and the month after) name
      is stored, where done payouts blocks and this one cover the span the payout's
      start lies in (``integrity.payouts_unlisted``).
    - ``transactions``: the same sums for the stored payouts this block's transactions
      name or whose span (``PayoutScope.cover``) meets its window, counting this block
      done; and the payouts its transactions name are stored, where done payouts blocks
      cover the span their start lies in.

    ``now`` is the verification's instant (the block being verified finished its listing
    by then). Demo runs load orders only and are not cross-checked."""
    if spec.tier == "demo":
        return Links()
    unique, _ = deduplicate(records)
    context = _Context(settings, spec, now)
    if spec.resource == "orders":
        return await _orders_side(context, [r for r in unique if isinstance(r, Order)])
    if spec.resource == "order_items":
        return await _items_side(context, [r for r in unique if isinstance(r, OrderItem)])
    if spec.resource == "payouts":
        payouts = [r for r in unique if isinstance(r, Payout)]
        links = await _check_payouts(context, payouts, await context.done("transactions"))
        return _joined(links, await _payouts_side_unlisted(context))
    if spec.resource == "transactions":
        return await _transactions_side(context, [r for r in unique if isinstance(r, Transaction)])
    return Links()


Row = dict[str, Any]
"""A stored record's fields as read (``RecordStore.read``), not validated yet."""


class _Partition:
    """One (resource, period) of the account, read once per check: its rows, and the
    record of each row once some caller kept it (validated at most once)."""

    __slots__ = ("records", "rows")

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.records: list[Record | None] = [None] * len(rows)


class _Context:
    def __init__(self, settings: Settings, spec: BlockSpec, now: datetime | None) -> None:
        self.spec, self.ledger, self.store = spec, Ledger(settings), RecordStore(settings)
        self.now = now
        self._read: dict[tuple[str, str], _Partition] = {}
        self._blocks: list[Block] | None = None

    async def blocks(self, resource: str) -> list[Block]:
        """The account's ``resource`` blocks, from one listing per check (the emulator
        answers a listing by scanning the whole blocks table)."""
        if self._blocks is None:
            spec = self.spec
            self._blocks = await self.ledger.list_blocks(spec.client, spec.platform, spec.account)
        return [b for b in self._blocks if b.resource == resource]

    async def done(self, resource: str) -> list[Block]:
        return [b for b in await self.blocks(resource) if b.state == BlockState.DONE]

    async def stored(
        self, resource: str, periods: Iterable[str], where: Callable[[Row], bool] | None = None
    ) -> list[Record]:
        """The account's stored ``resource`` records of ``periods`` (each partition read
        once per check), in partition and row order.

        ``where``, if given, tests each row as read (its fields, not validated): only the
        rows it passes are validated into records and returned. It must pass every row
        whose record the caller keeps (it may pass more: the caller still filters the
        records), so the caller's result is the same as without it; rows no caller
        keeps are never validated (most of a month's rows, for one block's links)."""
        spec, out = self.spec, []
        wanted = sorted(set(periods))
        unread = [p for p in wanted if (resource, p) not in self._read]
        reads = [self.store.read(spec.client, spec.platform, resource, period=p) for p in unread]
        for period, rows in zip(unread, await asyncio.gather(*reads), strict=True):  # at once
            self._read[(resource, period)] = _Partition(
                [r for r in rows if r.get("account") == spec.account]
            )
        for period in wanted:
            part = self._read[(resource, period)]
            records = part.records
            for index, row in enumerate(part.rows):
                if where is not None and not where(row):
                    continue
                record = records[index]
                if record is None:
                    record = records[index] = record_from_json(row)
                out.append(record)
        return out

    async def seek_items(self, order: Order) -> int:
        """How many items of ``order`` are stored (RowKey range reads, no scan)."""
        spec = self.spec
        dated = [period_of(order.created_at), period_of(order.created_at + timedelta(days=1))]
        periods = [UNDATED, *dated] if spec.platform in UNDATED_FIRST else [*dated, UNDATED]
        for period in dict.fromkeys(periods):
            rows = await self.store.read_prefix(
                spec.client,
                spec.platform,
                "order_items",
                period=period,
                account=spec.account,
                head=f"{order.order_id}|",
            )
            if rows:
                return len(rows)
        return 0


def _in(name: str, window: Window) -> Callable[[Row], bool]:
    """A ``stored`` row test: the row's ``name`` lies in ``window`` — or is not a time
    as read (None, or a value the record's validation would still have to turn into
    one), so the caller's own test of the record decides."""
    start, end = window.start, window.end

    def test(row: Row) -> bool:
        value = row.get(name)
        if type(value) is not datetime or value.tzinfo is None:
            return value is not None
        return start <= value < end

    return test


def _among(name: str, wanted: set) -> Callable[[Row], bool]:
    """A ``stored`` row test: the row's ``name`` is one of ``wanted``."""
    return lambda row: row.get(name) in wanted


def _holding(blocks: Iterable[Block], instants: Iterable[datetime]) -> list[Block]:
    """The ``blocks`` whose window holds one of ``instants``."""
    wanted = sorted(set(instants))

    def holds(block: Block) -> bool:
        first = bisect_left(wanted, block.window_start)  # the earliest instant in it, if any
        return first < len(wanted) and wanted[first] < block.window_end

    return [b for b in blocks if holds(b)]


def _meeting(blocks: Iterable[Block], spans: Iterable[Window]) -> list[Block]:
    """The ``blocks`` whose window overlaps one of ``spans``."""
    spans = list(spans)
    return [
        b for b in blocks if any(b.window_start < s.end and s.start < b.window_end for s in spans)
    ]


def months(window: Window) -> list[str]:
    """The ``yyyy-mm`` periods ``[window.start, window.end]`` touches, oldest first."""
    first = window.start.astimezone(UTC)
    last = window.end.astimezone(UTC)
    year, month, out = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


async def _with_items(context: _Context, orders: list[Order], found: Counter) -> Counter:
    """``found`` completed by seeks for the orders it has no item of."""
    gate = asyncio.Semaphore(SEEK_CONCURRENCY)

    async def seek(order: Order) -> None:
        async with gate:
            found[order.order_id] += await context.seek_items(order)

    lacking = [o for o in orders if found.get(o.order_id, 0) < 1]
    await asyncio.gather(*(seek(o) for o in lacking))
    return found


async def _items_by_month(context: _Context, orders: list[Order]) -> Counter:
    """Items per order id, read from the month partitions of the orders' creation when
    there are enough orders to pay for a scan (items carry their order's date where the
    payload gives it; the rest is left to seeks)."""
    by_month = Counter(period_of(o.created_at) for o in orders)
    wanted = {o.order_id for o in orders}
    months_worth = [m for m, n in by_month.items() if n >= SCAN_FROM]
    where = _among("order_id", wanted)
    items = await context.stored("order_items", months_worth, where) if months_worth else []
    return Counter(i.order_id for i in items if isinstance(i, OrderItem) and i.order_id in wanted)


async def _orders_side(context: _Context, orders: list[Order]) -> Links:
    links = await _items_of(context, [o for o in orders if needs_items(o)])
    if context.spec.tier == "daily":  # a daily listing is by update: items say nothing
        return links
    return _joined(links, await _orphans_of_window(context))


async def _orphans_of_window(context: _Context) -> Links:
    """From an orders block's end (listed by creation): the stored items dated in its
    window whose order is not stored. An item is dated by its order's creation, so its
    order lies in this window: the listing dropped it (the block itself retries)."""
    window = context.spec.window
    items = [
        i
        for i in await context.stored("order_items", months(window), _in("created_at", window))
        if isinstance(i, OrderItem) and i.created_at and window.start <= i.created_at < window.end
    ]
    if not items:
        return Links(counts={"orphans": 0})
    ids = {i.order_id for i in items}  # only these ids' orders matter to ``orphans``
    stored = await context.stored("orders", months(window), _among("order_id", ids))
    orphaned = orphans(items, {o.order_id for o in stored if isinstance(o, Order)})
    problems = [f"{orphans_problem(orphaned)} (dated in this window)"] if orphaned else []
    return Links(problems, {"orphans": len(orphaned)})


async def _items_of(context: _Context, orders: list[Order]) -> Links:
    if not orders:
        return Links()
    done = await context.done("order_items")
    windows = [Window(start=b.window_start, end=b.window_end) for b in done]
    judged = [o for o in orders if any(w.start <= o.created_at < w.end for w in windows)]
    found = await _items_by_month(context, judged)
    found = await _with_items(context, judged, found)
    links = _items_links(judged, found, waiting=len(orders) - len(judged))
    links.problems = [
        f"{p} (their order_items blocks are done without them)" for p in links.problems
    ]
    if links.problems:
        bare = set(orders_lacking_items(judged, found))
        links.suspects = _holding(done, (o.created_at for o in judged if o.order_id in bare))
    return links


async def _items_side(context: _Context, items: list[OrderItem]) -> Links:
    window = context.spec.window
    ids, dated_in = {i.order_id for i in items}, _in("created_at", window)  # for orphans, items

    def kept(row: Row) -> bool:
        return row.get("order_id") in ids or dated_in(row)

    stored = [
        o for o in await context.stored("orders", months(window), kept) if isinstance(o, Order)
    ]
    orders = [o for o in stored if needs_items(o) and window.start <= o.created_at < window.end]
    found = await _with_items(context, orders, Counter(i.order_id for i in items))
    links = _items_links(orders, found, waiting=0)
    done = await context.done("orders")
    if context.spec.tier != "daily":
        if not covered(window, [Window(start=b.window_start, end=b.window_end) for b in done]):
            return links
        # items dated outside the window (a bulk listing runs on past it) are not
        # this window's; their orders lie in other months
        dated = [i for i in items if i.created_at and window.start <= i.created_at <= window.end]
    else:  # items of orders changed in the window: judged where listings by creation
        done = [b for b in done if not b.block_id.startswith(DAILY)]  # cover their date
        dated = [i for i in items if i.created_at and _holding(done, [i.created_at])]
        stored = await _orders_of(context, dated, done)
    orphaned = orphans(dated, {o.order_id for o in stored if isinstance(o, Order)})
    links.counts["orphans"] = len(orphaned)
    if orphaned:
        links.problems.append(orphans_problem(orphaned))
        lost = set(orphaned)  # their orders blocks may lack them
        dates = (i.created_at for i in dated if i.order_id in lost and i.created_at)
        links.suspects = _holding(done, dates)
    return links


async def _orders_of(context: _Context, items: list[OrderItem], done: list[Block]) -> list:
    """The stored orders of ``items`` (dated, of any time): read from their dates'
    months; for those not found there, from the months of the done orders blocks whose
    windows hold their dates (the listings that had them)."""
    dates = {i.order_id: i.created_at for i in items if i.created_at}
    kept = _among("order_id", {i.order_id for i in items})  # the caller keeps their ids only
    stored = await context.stored("orders", {period_of(d) for d in dates.values()}, kept)
    lacking = orphans(items, {o.order_id for o in stored if isinstance(o, Order)})
    if not lacking:
        return stored
    holders = _holding(done, [dates[o] for o in lacking if o in dates])
    wider = {m for b in holders for m in months(Window(start=b.window_start, end=b.window_end))}
    return stored + await context.stored("orders", wider, kept)


def _items_links(judged: list[Order], found: Counter, *, waiting: int) -> Links:
    bare = orders_lacking_items(judged, found)
    counts = {
        "items_judged": len(judged),
        "items_waiting": waiting,
        "orders_without_items": len(bare),
    }
    return Links([items_problem(bare, len(judged))] if bare else [], counts)


async def _transactions_side(context: _Context, transactions: list[Transaction]) -> Links:
    """The stored payouts this block may complete: named by its transactions, or whose
    transactions' span (``PayoutScope.cover``) meets its window; and the payouts its
    transactions name that are not stored (``_unlisted``)."""
    named = {t.payout_id for t in transactions if t.payout_id}
    window = context.spec.window
    stored = [p for p in await context.stored("payouts", [UNDATED]) if isinstance(p, Payout)]
    unlisted = await _unlisted(context, transactions, stored, await context.done("payouts"))
    payouts = [p for p in stored if p.payout_id in named or _meets(payout_scope(p), window)]
    if not payouts:
        return unlisted
    return _joined(await _sums_side(context, payouts), unlisted)


async def _sums_side(context: _Context, payouts: list[Payout]) -> Links:
    own = context.spec.block_id
    blocks = [
        b
        for b in await context.blocks("transactions")
        if b.state == BlockState.DONE or b.block_id == own
    ]
    return await _check_payouts(context, payouts, blocks)


def _joined(first: Links, second: Links) -> Links:
    """Both checks' findings in one (suspects once each)."""
    suspects = {b.block_id: b for b in [*first.suspects, *second.suspects]}
    return Links(
        [*first.problems, *second.problems],
        {**first.counts, **second.counts},
        list(suspects.values()),
    )


async def _unlisted(
    context: _Context, transactions: list[Transaction], payouts: list[Payout], blocks: list[Block]
) -> Links:
    """Payouts that ``transactions`` name but that are not stored, judged where the
    payouts listings ``blocks`` (made after the transactions were posted) cover the span
    the payout's start lies in (``integrity.payouts_unlisted``): a listing that should
    have held it dropped it. Suspects: those listings, other than the block checked."""
    spans = payouts_unlisted(transactions, (p.payout_id for p in payouts))
    lacking = []
    for payout, span in sorted(spans.items()):
        listed = [
            Window(start=b.window_start, end=b.window_end)
            for b in blocks
            if b.created_at >= span.end
        ]
        if covered(span, listed):
            lacking.append(payout)
    counts = {
        "payouts_unlisted": len(lacking),
        "payouts_unlisted_waiting": len(spans) - len(lacking),
    }
    if not lacking:
        return Links([], counts)
    own = context.spec.block_id
    done = [b for b in blocks if b.state == BlockState.DONE and b.block_id != own]
    return Links([unlisted_problem(lacking)], counts, _meeting(done, [spans[p] for p in lacking]))


async def _payouts_side_unlisted(context: _Context) -> Links:
    """From a payouts block's end: the stored transactions posted while a payout starting
    in its window may run (its window and ``PAYOUT_STARTS_BEFORE`` after) that name a
    payout not stored, judged over the done payouts blocks and this one."""
    spec = context.spec
    before = PAYOUT_STARTS_BEFORE.get(spec.platform)
    if before is None:
        return Links()
    span = Window(start=spec.window.start, end=spec.window.end + before)
    transactions = [
        t
        for t in await context.stored("transactions", months(span), _in("posted_at", span))
        if isinstance(t, Transaction) and t.posted_at and span.start <= t.posted_at < span.end
    ]
    payouts = [p for p in await context.stored("payouts", [UNDATED]) if isinstance(p, Payout)]
    blocks = [
        b
        for b in await context.blocks("payouts")
        if b.state == BlockState.DONE or b.block_id == spec.block_id
    ]
    return await _unlisted(context, transactions, payouts, blocks)


def _meets(scope: PayoutScope | None, window: Window) -> bool:
    return scope is not None and scope.cover.start < window.end and window.start < scope.cover.end


async def _check_payouts(context: _Context, payouts: list[Payout], blocks: list[Block]) -> Links:
    ready: list[tuple[Payout, PayoutScope]] = []
    for payout in payouts:
        scope = payout_scope(payout)
        if scope is None:
            continue
        listed = [
            Window(start=b.window_start, end=b.window_end)
            for b in blocks
            if b.created_at >= scope.settled_at
        ]
        if covered(scope.cover, listed):
            ready.append((payout, scope))
    counts = {"payouts_settled_waiting": sum(1 for p in payouts if payout_scope(p)) - len(ready)}
    if not ready:
        return Links(counts={**counts, "payouts_checked": 0})
    periods = [m for _, scope in ready for m in months(scope.read)]
    if any(scope.undated for _, scope in ready):
        periods.append(UNDATED)
    wanted = {p.payout_id for p, _ in ready}
    transactions = [
        t
        for t in await context.stored("transactions", periods, _among("payout_id", wanted))
        if isinstance(t, Transaction) and t.payout_id in wanted
    ]
    try:
        sums = payout_sums_from(transactions)
    except ValueError as exc:
        return Links([str(exc)], counts)
    for payout, _ in ready:  # a settled payout with no transaction stored sums to zero
        assert payout.amount is not None
        sums.setdefault(payout.payout_id, Money(amount=Decimal(0), currency=payout.amount.currency))
    wrong, checked, _ = payouts_off([p for p, _ in ready], sums)
    counts["payouts_checked"] = checked
    if not wrong:
        return Links([], counts)
    off = [scope.cover for payout, scope in ready if payouts_off([payout], sums)[0]]
    own = context.spec.block_id
    listings = [b for b in blocks if b.state == BlockState.DONE and b.block_id != own]
    return Links([money_problem(wrong)], counts, _meeting(listings, off))
