"""Integrity checks of one loaded block. Pure: facts and records in, a report out.

A block is marked done only if ``check_block`` finds no problem (DESIGN.md §5). The
report lists every problem found (not only the first), so a failed block's ledger row
says all that went wrong; ``counts`` holds the figures behind the verdict, ``notes`` what
is worth knowing but is no fault of the load.

The checks
----------
1. **Page chain.** At least one page (an empty window still answers one empty page);
   pages numbered ``0 .. n-1`` without gap or repeat; the last page has no next; no two
   pages name the same next request (``cursor``): that chain would loop. A block's
   pages may form several chains (Amazon order items walk one order after another, Etsy
   ledger windows are cut into 31-day pieces): a page that ends its chain (``has_next``
   False) mid-block is fine, only the last page must end one. The records given must be
   the records the pages hold (``sum(record_count)``).
2. **Counts.** Where the platform states how many records a listing holds
   (``reported_count``), the block's distinct *units* must be exactly that many. A unit
   is what platforms count: an order, a transaction (its fee components share a
   ``transaction_id``), a bank entry — see ``COUNTED_UNITS``; other resources (items,
   returns, payouts, inventory) come from listings that count their parents (orders,
   ledger entries), so their counts are not compared. Each chain's count is its last
   page's (the freshest); the block's is the sum over chains (``PageFacts.chain``). If
   pages without chain ids report different counts, they cannot be told apart: the
   check is skipped with a note.
3. **Duplicates.** Two records with one natural key in one block are a platform fault
   (pagination that shifted under us, a page served twice). They are reported in
   ``counts["duplicates"]`` and ``notes`` and do *not* fail the block: the loader's
   upsert keeps one row per key (the last delivered, as ``RecordStore.upsert`` does), and
   the record such a shift may have pushed out of sight is caught by the count check.
   ``strict_duplicates=True`` makes them a problem instead.
4. **Window.** Every record lies in ``[start, end)`` by the field its listing filters on
   (``TIME_FIELDS``): orders and items by the order's creation, transactions by
   posting, payouts by issue (Amazon: by the settlement group's start), bank entries by
   booking date — compared by date, since banks give no time (the window's start is
   taken back to its midnight). Returns are judged only where they are listed by their
   own date (Amazon's returns report); elsewhere they come with their orders. A record
   stamped exactly at ``end`` is accepted (Amazon, eBay, Etsy and Shopify filter with
   inclusive bounds, so the next block lists it too; the upsert absorbs it) and counted
   in ``counts["on_end"]``. A record without the field (an Amazon service fee has no time,
   items of a report without dates) is not judged: ``counts["undated"]``.
   ``by_update=True`` (a daily window listing what *changed*) judges orders by
   ``updated_at`` and leaves order-derived records (items, returns) unjudged: their
   creation lies before the change.
5. **Orders and items.** ``items_for_orders`` maps order id -> number of item lines,
   as known from elsewhere: for an ``orders`` block, the items loaded for each order
   (every order needs at least one); for an ``order_items`` block, the orders of the
   window with their line counts (0: unknown, at least one), and every item must belong
   to one of them.
6. **Money.** ``payout_sums`` maps payout id -> the sum of the payout's transactions
   (``payout_sums_from``); every payout of the block named there must equal its sum
   exactly, in the same currency. Payouts the map does not name (the platform gives no
   link from transactions to payouts) or without an amount are counted as unchecked.
7. **Repeated listings.** Where a listing states no count and nothing else names all
   its records (Amazon's inventory summaries), a block lists it more than once
   (``PageFacts.listing``: ``{what}#{n}``, the pages of one repeat sharing it); every
   repeat of one ``what`` must name the same natural keys. A key one repeat lacks was
   dropped by it (a short page, a lost token): the block fails (its upserts hold the
   union meanwhile). A key dropped by every repeat goes unseen: with faults drawn per
   request that is the chance of all of them failing at the same place.
8. **Open groups' running totals.** ``running_totals_off``: the events a block lists
   of a payout still open must add up to the running total its payouts listing showed
   (Amazon's open settlement groups), up to the instant of that total.

Links between resources
-----------------------
Orders and their items, payouts and their transactions are loaded by different blocks
that run side by side, so neither side can wait for the other. The flows
(``shared.flows.verdicts``) check a link from *both* ends, each end only over what the
other end has finished, so the block verified last checks the link in full and no check
ever judges half-loaded data. The pure rules for that live here:

- ``needs_items``: where a platform guarantees an order carries items
  (``ITEMS_GUARANTEED``; exempt statuses in ``ITEMLESS_STATUSES``), and
  ``orders_lacking_items`` / ``items_problem`` to judge and word it; ``orphans`` /
  ``orphans_problem`` for items whose order is not stored.
- ``payout_scope``: for a *settled* payout, the instant after which a transactions
  listing sees its final set, the span such listings must cover, and the span its
  transactions lie in (``SETTLED`` per platform, ``PAYOUT_LOOKBACK``); ``covered``
  tells whether windows cover a span; ``payouts_off`` compares payouts with sums.
- ``payouts_unlisted``: the other way round, payouts that stored transactions name but
  that are not stored, with the span their start lies in (``PAYOUT_STARTS_BEFORE``):
  where done payouts listings cover that span, the payout was dropped from one of them
  (a short page) — its own transactions cannot tell, since the money check starts
  from the payout.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from shared.models import Money, Order, OrderItem, Payout, Record, Transaction
from shared.platforms.base import Window

TIME_FIELDS: Mapping[str, str | None] = {
    "orders": "created_at",
    "order_items": "created_at",
    "transactions": "posted_at",
    "returns": None,
    "payouts": "issued_at",
    "bank_transactions": "booked_at",
}
"""Resource -> the field its listings filter on (None, or absent as ``inventory``: not
judged). Returns are listed through their orders (by the order's creation or change:
eBay, Shopify, Etsy), and a refund comes after its order, so their own date says
nothing about the window."""
PLATFORM_TIME_FIELDS: Mapping[tuple[str, str], str] = {
    ("amazon", "payouts"): "period_start",
    ("amazon", "returns"): "created_at",  # the returns report is by return date
}
"""Exceptions to ``TIME_FIELDS`` for one platform."""
BY_UPDATE_FIELDS: Mapping[str, str | None] = {
    "orders": "updated_at",
    "order_items": None,
    "returns": None,
}
"""``TIME_FIELDS`` overrides for a window listing changes (None: not judged)."""
DATE_GRANULAR = frozenset({"bank_transactions"})
"""Resources whose time field is a date (UTC midnight)."""


def _transaction_unit(record: Record) -> str:
    return getattr(record, "transaction_id", None) or record.natural_key


COUNTED_UNITS: Mapping[str, Callable[[Record], str]] = {
    "orders": lambda r: r.natural_key,
    "transactions": _transaction_unit,
    "bank_transactions": lambda r: r.natural_key,
}
"""Resource -> the unit a platform's reported count counts, for the resources whose
listings count them."""


class PageFacts(BaseModel):
    """What the block loop learnt about one stored page.

    ``reported_count`` is what the API said the page's listing holds (None: it did not
    say); ``record_count`` how many records the page normalized to; ``has_next`` whether
    the page named a following page; ``cursor`` the identity of that following request
    (next token, cursor, ``next.model_dump_json()``…) — two pages naming the same one
    mean a loop; ``chain`` the listing the page belongs to when a block holds several
    (a sub-window, an order id), "" otherwise; ``listing`` the repeat of a listing the
    page belongs to (``{what}#{n}``, check 7), "" if not repeated. The short names
    (``number``, ``records``, ``reported``, ``next_cursor``) are accepted too."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    page_number: int = Field(ge=0, validation_alias=AliasChoices("page_number", "number"))
    reported_count: int | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("reported_count", "reported")
    )
    record_count: int = Field(ge=0, validation_alias=AliasChoices("record_count", "records"))
    has_next: bool = False
    cursor: str | None = Field(default=None, validation_alias=AliasChoices("cursor", "next_cursor"))
    chain: str = ""
    listing: str = ""


class IntegrityReport(BaseModel):
    """``ok`` exactly when ``problems`` is empty."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    problems: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def _listed(items: Iterable[object], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- 1. page chain -------------------------------------------------------------------


def _chain(pages: Sequence[PageFacts], records: int) -> list[str]:
    if not pages:
        return ["no page was loaded"]
    problems = []
    numbers = [p.page_number for p in pages]
    if numbers != list(range(len(pages))):
        repeated = sorted(n for n, c in Counter(numbers).items() if c > 1)
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        problems.append(
            f"pages are not numbered 0..{len(pages) - 1} in order"
            + (f"; missing {_listed(missing)}" if missing else "")
            + (f"; repeated {_listed(repeated)}" if repeated else "")
        )
    last = max(pages, key=lambda p: p.page_number)
    if last.has_next:
        problems.append(f"the chain is cut short: last page {last.page_number} has a next page")
    cursors = Counter(p.cursor for p in pages if p.has_next and p.cursor)
    loops = [c for c, n in cursors.items() if n > 1]
    if loops:
        problems.append(f"the chain loops: next request repeated ({_listed(loops, 2)})")
    held = sum(p.record_count for p in pages)
    if held != records:
        problems.append(f"the pages hold {held} records but {records} were checked")
    return problems


# --- 2. counts -----------------------------------------------------------------------


def _reported(pages: Sequence[PageFacts]) -> tuple[int | None, str | None]:
    """(the block's reported total or None, a note when it cannot be told)."""
    by_chain: dict[str, list[int]] = defaultdict(list)
    for page in sorted(pages, key=lambda p: p.page_number):
        if page.reported_count is not None:
            by_chain[page.chain].append(page.reported_count)
    if not by_chain:
        return None, None
    if set(by_chain) == {""} and len(set(by_chain[""])) > 1:
        counts = _listed(sorted(set(by_chain[""])))
        return None, f"pages report different counts ({counts}) and name no chain: not compared"
    return sum(counts[-1] for counts in by_chain.values()), None


def _counts(resource: str, pages: Sequence[PageFacts], unique: Sequence[Record], out: dict):
    unit = COUNTED_UNITS.get(resource)
    if unit is None:
        return [], []
    reported, note = _reported(pages)
    if reported is None:
        return [], [note] if note else []
    units = len({unit(r) for r in unique})
    out["reported"], out["units"] = reported, units
    if units == reported:
        return [], []
    return [f"the API reports {reported} {resource} but {units} were loaded"], []


# --- 3. duplicates -------------------------------------------------------------------


def deduplicate(records: Iterable[Record]) -> tuple[list[Record], dict[str, int]]:
    """(one record per natural key — the last delivered, in first-seen order — and
    key -> deliveries for every key delivered more than once)."""
    latest: dict[str, Record] = {}
    seen: Counter[str] = Counter()
    for record in records:
        latest[record.natural_key] = record
        seen[record.natural_key] += 1
    return list(latest.values()), {k: n for k, n in seen.items() if n > 1}


# --- 4. window -----------------------------------------------------------------------


def time_field(resource: str, platform: str, *, by_update: bool = False) -> str | None:
    """The field records of ``resource`` on ``platform`` are judged by (None: not judged)."""
    if by_update and resource in BY_UPDATE_FIELDS:
        return BY_UPDATE_FIELDS[resource]
    return PLATFORM_TIME_FIELDS.get((platform, resource), TIME_FIELDS.get(resource))


def _window(resource: str, window: Window, unique: Sequence[Record], by_update: bool, out: dict):
    start, end = window.start, window.end
    if resource in DATE_GRANULAR:
        start = datetime.combine(start.date(), time(), tzinfo=start.tzinfo)
    outside, on_end, undated = [], 0, 0
    for record in unique:
        field = time_field(resource, record.platform, by_update=by_update)
        if field is None:
            continue
        stamp = getattr(record, field, None)
        if stamp is None:
            undated += 1
        elif stamp == end:
            on_end += 1
        elif not start <= stamp < end:
            outside.append(f"{record.natural_key} ({field} {stamp.isoformat()})")
    out["on_end"], out["undated"], out["outside"] = on_end, undated, len(outside)
    if not outside:
        return []
    span = f"[{window.start.isoformat()}, {window.end.isoformat()})"
    return [f"{len(outside)} {resource} lie outside the window {span}: {_listed(outside, 3)}"]


# --- 5. orders and items -------------------------------------------------------------


def _lacking(found: int, wanted: int) -> bool:
    return found < 1 if wanted < 1 else found != wanted


def _items(resource: str, unique: Sequence[Record], items_for_orders: Mapping[str, int], out):
    if resource == "orders":
        orders = [r.order_id for r in unique if isinstance(r, Order)]
        bare = [o for o in orders if items_for_orders.get(o, 0) < 1]
        out["orders_without_items"] = len(bare)
        return [f"{len(bare)} orders have no items: {_listed(bare)}"] if bare else []
    if resource != "order_items":
        return []
    found = Counter(r.order_id for r in unique if isinstance(r, OrderItem))
    problems = []
    orphans = sorted(set(found) - set(items_for_orders))
    if orphans:
        problems.append(f"items of {len(orphans)} orders not in the window: {_listed(orphans)}")
    short = [
        f"{order} ({found.get(order, 0)} of {'at least 1' if wanted < 1 else wanted})"
        for order, wanted in sorted(items_for_orders.items())
        if _lacking(found.get(order, 0), wanted)
    ]
    if short:
        problems.append(f"{len(short)} orders lack items or have others: {_listed(short)}")
    out["orders_without_items"] = sum(1 for o in items_for_orders if found.get(o, 0) < 1)
    return problems


# --- 6. money ------------------------------------------------------------------------


def payout_sums_from(
    transactions: Iterable[Transaction], *, exclude_kinds: Iterable[str] = ("payout",)
) -> dict[str, Money]:
    """payout id -> the sum of the transactions assigned to it (``payout_id``), without
    the payout's own transfer entries (``kind`` "payout", by default). Raises
    ValueError when one payout's transactions are in more than one currency."""
    skip = frozenset(exclude_kinds)
    sums: dict[str, Money] = {}
    for t in transactions:
        if t.payout_id is None or t.kind in skip:
            continue
        current = sums.get(t.payout_id)
        if current is not None and current.currency != t.amount.currency:
            raise ValueError(f"payout {t.payout_id} has transactions in two currencies")
        total = (current.amount if current else Decimal(0)) + t.amount.amount
        sums[t.payout_id] = Money(amount=total, currency=t.amount.currency)
    return sums


def payouts_off(
    payouts: Iterable[Payout], payout_sums: Mapping[str, Money]
) -> tuple[list[str], int, int]:
    """(one text per payout whose amount differs from its sum — amount or currency —,
    payouts compared, payouts not compared: not in ``payout_sums`` or without amount)."""
    wrong, checked, unchecked = [], 0, 0
    for payout in payouts:
        expected = payout_sums.get(payout.payout_id)
        if expected is None or payout.amount is None:
            unchecked += 1
            continue
        checked += 1
        got = payout.amount
        if got.currency != expected.currency or got.amount != expected.amount:
            wrong.append(
                f"{payout.payout_id} ({got.amount} {got.currency} against transactions "
                f"{expected.amount} {expected.currency})"
            )
    return wrong, checked, unchecked


def money_problem(wrong: Sequence[str]) -> str:
    return f"{len(wrong)} payouts differ from the sum of their transactions: {_listed(wrong)}"


def _money(resource: str, unique: Sequence[Record], payout_sums: Mapping[str, Money], out):
    if resource != "payouts":
        return []
    payouts = [r for r in unique if isinstance(r, Payout)]
    wrong, out["payouts_checked"], out["payouts_unchecked"] = payouts_off(payouts, payout_sums)
    return [money_problem(wrong)] if wrong else []


# --- 7. repeated listings ------------------------------------------------------------


def _repeats(pages: Sequence[PageFacts], records: Sequence[Record], out: dict) -> list[str]:
    """Keys some repeat of a listing lacks while another repeat of it names them."""
    keys: dict[str, dict[str, set[str]]] = defaultdict(dict)
    at = 0
    for page in pages:  # records come in page order, ``record_count`` each
        held = records[at : at + page.record_count]
        at += page.record_count
        if page.listing:
            what = page.listing.rpartition("#")[0] or page.listing
            keys[what].setdefault(page.listing, set()).update(r.natural_key for r in held)
    problems, lacking_total = [], 0
    for what, repeats in sorted(keys.items()):
        if len(repeats) < 2:
            continue
        union = set().union(*repeats.values())
        for listing, named in sorted(repeats.items()):
            lacking = sorted(union - named)
            lacking_total += len(lacking)
            if lacking:
                problems.append(
                    f"listing {listing} lacks {len(lacking)} records another listing of "
                    f"{what} named: {_listed(lacking)}"
                )
    if keys:
        out["listings"] = sum(len(r) for r in keys.values())
        out["listing_gaps"] = lacking_total
    return problems


# --- 8. open groups' running totals ----------------------------------------------------


class RunningTotal(BaseModel):
    """An open payout's total as its listing showed it: at some instant in ``[seen_from,
    seen_to]`` (the request's flight), the sum of the transactions posted by then."""

    model_config = ConfigDict(frozen=True)

    payout_id: str
    total: Money
    seen_from: datetime
    seen_to: datetime


def running_totals_off(
    transactions: Iterable[Transaction], totals: Iterable[RunningTotal]
) -> list[str]:
    """One text per running total the listed ``transactions`` of its payout cannot
    explain: no instant ``t`` in ``[seen_from, seen_to]`` makes the sum of the payout's
    transactions posted at or before ``t`` (and of its undated ones) equal to ``total``.

    The transactions must come from a listing that saw everything posted by
    ``seen_to`` (Amazon lists events posted two minutes before the request and
    earlier). Transactions posted later are not in the total and are left out;
    undated ones (Amazon's service fees) are counted in: one posted after the total
    makes a false difference, which a retry (a fresh total) clears."""
    wanted = {t.payout_id: t for t in totals}
    events: dict[str, list[Transaction]] = defaultdict(list)
    for t in transactions:
        if t.payout_id in wanted and t.kind != "payout":
            events[t.payout_id].append(t)
    out = []
    for payout_id, running in sorted(wanted.items()):
        listed = events.get(payout_id, [])
        if any(t.amount.currency != running.total.currency for t in listed):
            out.append(f"{payout_id} (transactions in another currency than its total)")
            continue
        before = sum(
            (
                t.amount.amount
                for t in listed
                if t.posted_at is None or t.posted_at < running.seen_from
            ),
            Decimal(0),
        )
        flight = sorted(
            (
                t
                for t in listed
                if t.posted_at and running.seen_from <= t.posted_at <= running.seen_to
            ),
            key=lambda t: t.posted_at or running.seen_from,
        )
        sums, at = {before}, before
        for i, t in enumerate(flight):
            at += t.amount.amount
            following = flight[i + 1].posted_at if i + 1 < len(flight) else None
            if following != t.posted_at:  # a total counts every event of its instant
                sums.add(at)
        if running.total.amount not in sums:
            got = before if not flight else at
            out.append(
                f"{payout_id} (running total {running.total.amount} {running.total.currency}"
                f" against transactions {got})"
            )
    return out


def running_problem(off: Sequence[str]) -> str:
    return (
        f"{len(off)} open payouts differ from the sum of their transactions listed: {_listed(off)}"
    )


# --- 9. links between resources (checked by the flows from both ends) ----------------

ITEMS_GUARANTEED = frozenset({"amazon", "shopify", "ebay", "etsy"})
"""Platforms on which an order always has at least one item line: Amazon's
getOrderItems lists a Pending order's items (only their prices are withheld), a Shopify
order and an eBay order (``lineItems``) are made of their lines, an Etsy receipt of its
transactions. The sandboxes generate every order with one to twenty lines."""
ITEMLESS_STATUSES: Mapping[str, frozenset[str]] = {"amazon": frozenset({"Canceled"})}
"""Platform -> order statuses whose orders may come without items: Amazon documents the
items of Pending orders but promises nothing for Canceled ones, so a Canceled order with
no items is accepted (its items are still loaded where Amazon gives them)."""


def needs_items(order: Order) -> bool:
    """Whether ``order`` must have at least one item stored."""
    if order.platform not in ITEMS_GUARANTEED:
        return False
    return order.status not in ITEMLESS_STATUSES.get(order.platform, frozenset())


def orders_lacking_items(orders: Iterable[Order], item_counts: Mapping[str, int]) -> list[str]:
    """Sorted ids of the ``orders`` that need items but have none in ``item_counts``
    (order id -> items found)."""
    return sorted(
        {o.order_id for o in orders if needs_items(o) and item_counts.get(o.order_id, 0) < 1}
    )


def items_problem(bare: Sequence[str], judged: int) -> str:
    return f"{len(bare)} of {judged} orders have no items stored: {_listed(bare)}"


def orphans(items: Iterable[OrderItem], order_ids: Iterable[str]) -> list[str]:
    """Sorted ids of the orders ``items`` belong to that are not among ``order_ids``."""
    return sorted({i.order_id for i in items} - set(order_ids))


def orphans_problem(orphaned: Sequence[str]) -> str:
    return f"items of {len(orphaned)} orders that are not stored: {_listed(orphaned)}"


PAYOUT_LOOKBACK = timedelta(days=31)
"""How long before its issue an eBay or Shopify payout's transactions may be posted: a
payout takes what became available, and a balance that is not positive carries over.
The daily sync re-lists transactions over the same month (``DAILY_LOOKBACK`` in
``shared.flows.chains``), so stored payout links are fresh over this span."""
SETTLED: Mapping[str, Callable[[Payout], bool]] = {
    "amazon": lambda p: p.period_end is not None,  # FinancialEventGroupEnd: Closed
    "ebay": lambda p: p.status == "SUCCEEDED",
    "shopify": lambda p: p.status == "PAID",
}
"""Platform -> whether a payout is settled (its transactions and amount are final).
Only platforms that link transactions to payouts are named: Amazon (events listed by
settlement group), eBay (``payoutId``), Shopify (``associatedPayout``). Etsy's payouts
are ledger disbursements that name no entries, Quiltt has no payouts."""
UNDATED_TRANSACTIONS = frozenset({"amazon"})
"""Platforms with transactions that carry no date (Amazon service fees)."""


class PayoutScope(BaseModel):
    """Where to look for a settled payout's transactions.

    A transactions listing made at or after ``settled_at`` sees the payout's final set;
    listings of that kind (done blocks planned at or after ``settled_at``) must cover
    ``cover`` before the sum can be compared; the transactions are posted in ``read``
    (both ends included), or undated where ``undated``."""

    model_config = ConfigDict(frozen=True)

    settled_at: datetime
    cover: Window
    read: Window
    undated: bool = False


def payout_scope(payout: Payout) -> PayoutScope | None:
    """The scope of ``payout`` if it is settled on a platform that links transactions to
    payouts and states an amount; None otherwise (not checkable, or not yet).

    Amazon lists a settlement group's events through the group, selected by the group's
    start: the block whose window holds ``period_start`` has them all (a group too old
    for ByGroupId is listed by posted date over its span: the same set). eBay and
    Shopify list transactions by posting date: every day of ``PAYOUT_LOOKBACK`` before
    the issue."""
    settled = SETTLED.get(payout.platform)
    if settled is None or not settled(payout) or payout.amount is None:
        return None
    undated = payout.platform in UNDATED_TRANSACTIONS
    if payout.platform == "amazon":
        start, end = payout.period_start, payout.period_end
        if start is None or end is None:
            return None
        cover = Window(start=start, end=start + timedelta(microseconds=1))
        return PayoutScope(
            settled_at=end,
            cover=cover,
            read=Window(start=start, end=end),
            undated=undated,
        )
    if payout.issued_at is None:
        return None
    span = Window(start=payout.issued_at - PAYOUT_LOOKBACK, end=payout.issued_at)
    return PayoutScope(settled_at=payout.issued_at, cover=span, read=span, undated=undated)


PAYOUT_STARTS_BEFORE: Mapping[str, timedelta] = {"amazon": timedelta(days=31)}
"""Platform -> how long before a transaction's posting the payout it names opened, where
the payouts listing selects payouts by that start and lists every payout, open or
closed: Amazon's settlement groups (``FinancialEventGroupStart``; a group closes within
a month, ``WINDOW_SLACK`` in ``shared.flows.chains``). eBay and Shopify name payouts
that may not be issued, hence not listed, yet: not judged."""


def payouts_unlisted(
    transactions: Iterable[Transaction], listed: Iterable[str]
) -> dict[str, Window]:
    """Payout id -> the span its start lies in, for each payout that dated ``transactions``
    of a ``PAYOUT_STARTS_BEFORE`` platform name and ``listed`` (payout ids stored) lacks.
    A payout starts at most that long before its earliest transaction and not after it:
    ``[earliest - span, earliest]`` (the end is taken one microsecond on, so the span of
    a window's start is not empty)."""
    have = set(listed)
    earliest: dict[str, tuple[datetime, timedelta]] = {}
    for t in transactions:
        before = PAYOUT_STARTS_BEFORE.get(t.platform)
        if before is None or t.payout_id is None or t.posted_at is None:
            continue
        if t.payout_id in have:
            continue
        seen = earliest.get(t.payout_id)
        if seen is None or t.posted_at < seen[0]:
            earliest[t.payout_id] = (t.posted_at, before)
    tick = timedelta(microseconds=1)
    return {
        payout: Window(start=first - before, end=first + tick)
        for payout, (first, before) in earliest.items()
    }


def unlisted_problem(payouts: Sequence[str]) -> str:
    return f"{len(payouts)} payouts named by stored transactions are not stored: {_listed(payouts)}"


def covered(span: Window, windows: Iterable[Window]) -> bool:
    """Whether the union of the half-open ``windows`` covers ``[span.start, span.end)``
    without a gap (an empty span is covered)."""
    reach = span.start
    for window in sorted(windows, key=lambda w: w.start):
        if reach >= span.end or window.start > reach:
            break
        reach = max(reach, window.end)
    return reach >= span.end


# --- the check -----------------------------------------------------------------------


def check_block(
    resource: str,
    window: Window,
    pages: Sequence[PageFacts],
    records: Sequence[Record],
    *,
    items_for_orders: Mapping[str, int] | None = None,
    payout_sums: Mapping[str, Money] | None = None,
    by_update: bool = False,
    strict_duplicates: bool = False,
) -> IntegrityReport:
    """Every check of the module docstring on one block's pages and records.

    ``records`` are all records normalized from ``pages``, in page order, of
    ``resource``; ``items_for_orders`` and ``payout_sums`` switch on checks 5 and 6."""
    problems = _chain(pages, len(records))
    strangers = sorted({r.resource for r in records} - {resource})
    if strangers:
        problems.append(f"records of {_listed(strangers)} in a {resource} block")
    unique, duplicates = deduplicate(records)
    counts = {"pages": len(pages), "records": len(unique), "duplicates": len(duplicates)}
    notes = []
    if duplicates:
        text = f"{len(duplicates)} keys delivered more than once: {_listed(sorted(duplicates))}"
        (problems if strict_duplicates else notes).append(text)
    found, skipped = _counts(resource, pages, unique, counts)
    problems += found
    notes += skipped
    problems += _window(resource, window, unique, by_update, counts)
    problems += _repeats(pages, records, counts)
    if items_for_orders is not None:
        problems += _items(resource, unique, items_for_orders, counts)
    if payout_sums is not None:
        problems += _money(resource, unique, payout_sums, counts)
    return IntegrityReport(ok=not problems, problems=problems, counts=counts, notes=notes)
