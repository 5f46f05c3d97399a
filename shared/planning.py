"""The period planner: which blocks a resource's history is loaded in, and in what order.

Pure: no I/O, no clock. ``now`` is an argument (orchestrators pass
``context.current_utc_datetime``), so the same inputs always give the same plan.

Theory of operation
-------------------
A backfill of ``[history_start, now)`` is cut into *phases*, newest first, so that recent
data and the first statistics arrive early (DESIGN.md §1). With ``D`` the start of
yesterday (UTC midnight, one day before the day of ``now``) and ``M`` the first of D's
month::

    older years ... | year          | half_year     | month   | recent_day
    ──────────────────┼───────────────┼───────────────┼─────────┼────────────▶ now
                   M - 11 months   M - 5 months     M         D

- ``recent_day``  ``[D, now)``: yesterday and today so far — at least 24 hours of the
  newest data. Never split, and independent of density (see below).
- ``month``       ``[M, D)``: the rest of the current calendar month (empty on the 1st).
- ``half_year``   the five calendar months before ``M``: with the month, half a year.
- ``year``        the six calendar months before those: with the above, twelve months.
- ``older``       everything earlier, one calendar year at a time, newest year first.
- ``history``     bulk plans only: everything before ``D`` (see "Bulk history" below).

Every phase is clipped to ``history_start``; phases that end up empty are left out.

Each phase window is then split into blocks of at most ``max_span`` (the *span*): the
time in which the resource is expected to produce ``target_pages`` pages of
``page_size`` records at the observed ``density`` (records per day)::

    span = page_size * target_pages / density  days      (at least one hour)

so a busy seller's year is cut finer than a quiet one's, and a block orchestration's
history stays a few hundred events. Spans of a day or more are cut on UTC midnights,
shorter ones on whole hours; the cuts split a phase window evenly into
``ceil(length / span)`` parts, so pieces are alike and no sliver is left at the end.
Cuts never cross a phase boundary, and older-year phases end on calendar years, so a
year's blocks are the same whatever day the plan is made.

Bulk history. With ``bulk=True`` (a platform with a bulk path for history: Amazon
reports, Shopify Bulk Operations) everything before ``recent_day`` is one phase,
``history``, loaded in bulk, and a bulk block targets ``bulk_records`` records instead
of pages. A bulk job costs the same few calls (create, poll, download) whatever window
it covers, so the month / half-year / year split would only multiply jobs: a quiet
seller's whole history is one job, a busy one's is cut evenly into jobs of about
``bulk_records`` records, newest first (the recent day still comes first, by the
per-record path, and the newest history job next). ``bulk_records=None`` makes the
whole history one job whatever the density (a bulk listing without a date filter, which
every job would read from its newest record down: Etsy's shop transactions).

Invariants (property-tested):

- windows are half-open ``[start, end)``, UTC, contiguous and non-overlapping, and
  together exactly cover ``[history_start, now)``;
- blocks are in load order, newest first: ``order`` is 0, 1, 2 … and each block ends
  where the one before it starts. Hence any prefix of a plan covers ``[s, now)`` for the
  start ``s`` of its last block (``block_limit`` keeps such a prefix);
- ``block_id`` is a function of (resource, window) only: planning again with the same
  inputs yields the same ids, so inserting the plan into the ledger again
  (``Ledger.plan_blocks``) is idempotent;
- the ``recent_day`` block depends on (resource, now) only: a caller may load it first,
  measure the density on it (``observed_density``) and plan the rest with that density —
  the recent-day block keeps its id in the second plan.

A plan made with different inputs (another density, another ``now``) has other windows
for the recent blocks: plan a backfill once, and rely on the ledger afterwards.

Snapshot resources (``inventory``: levels as of now, no history) get one block
``[history_start, now)`` with phase ``snapshot``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.platforms.base import Window

Phase = Literal["recent_day", "month", "half_year", "year", "older", "history", "snapshot"]

SNAPSHOT_RESOURCES = frozenset({"inventory"})
"""Resources that are a state as of now rather than a history of events."""

DEFAULT_DENSITY = 100.0
"""Records per day assumed when none was observed yet (a mid-sized seller)."""
PAGE_SIZE = 100
"""Records per page assumed for paged blocks (the platforms' usual maximum is 100-250)."""
TARGET_PAGES = 50
"""Pages a paged block should hold: a few hundred history events per block."""
BULK_RECORDS = 25_000
"""Records a bulk block (one report / bulk file) should hold."""
MIN_SPAN = timedelta(hours=1)
"""The shortest block the planner cuts (a block may still hold more pages than
targeted; the block orchestrator continues-as-new beyond a few hundred)."""

MAX_SPAN_DAYS = 100 * 366
"""A span this long is no limit at all (None)."""

DAY = timedelta(days=1)


class PlannedBlock(BaseModel):
    """One block of a plan. ``order`` is the load order (0 first); ``bulk`` says the block
    is loaded through the platform's bulk path. Plain JSON across durable boundaries."""

    model_config = ConfigDict(frozen=True)

    block_id: str = Field(min_length=1)
    resource: str
    window: Window
    phase: Phase
    bulk: bool = False
    order: int = Field(ge=0)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} is naive; every time in Tributary is UTC-aware")
    return value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    text = value.strftime("%Y%m%dT%H%M%S")
    return f"{text}.{value.microsecond:06d}Z" if value.microsecond else text + "Z"


def block_id(resource: str, window: Window) -> str:
    """``{resource}.{start}.{end}`` with compact UTC stamps, e.g.
    ``orders.20240301T000000Z.20240401T000000Z``: readable, and a function of the
    resource and window only."""
    start, end = _utc(window.start, "start"), _utc(window.end, "end")
    return f"{resource}.{_stamp(start)}.{_stamp(end)}"


def observed_density(records: int, window: Window) -> float:
    """Records per day seen in ``window`` (0 for an empty window)."""
    days = (window.end - window.start) / DAY
    return records / days if days > 0 else 0.0


def span_for(
    density: float | None,
    *,
    bulk: bool = False,
    page_size: int = PAGE_SIZE,
    target_pages: int = TARGET_PAGES,
    bulk_records: int | None = BULK_RECORDS,
) -> timedelta | None:
    """The longest block for ``density`` records/day (None: unbounded, no records
    expected, or ``bulk`` with ``bulk_records`` None). Never shorter than ``MIN_SPAN``.
    Raises ValueError for a negative density."""
    density = DEFAULT_DENSITY if density is None else density
    if density < 0 or math.isnan(density):
        raise ValueError(f"density must be records per day >= 0, got {density!r}")
    records = bulk_records if bulk else page_size * target_pages
    if density == 0 or records is None:
        return None
    days = records / density
    return None if days >= MAX_SPAN_DAYS else max(MIN_SPAN, timedelta(days=days))


def _month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(value: datetime, months: int) -> datetime:
    index = value.year * 12 + value.month - 1 + months
    return value.replace(year=index // 12, month=index % 12 + 1)


def _recent_day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - DAY


def _phases(
    history_start: datetime, now: datetime, *, bulk: bool = False
) -> list[tuple[Phase, datetime, datetime]]:
    """(phase, start, end) newest first, clipped to history_start, empty ones left out;
    with ``bulk`` everything before the recent day is the one ``history`` phase."""
    day = _recent_day_start(now)
    if bulk:
        merged: list[tuple[Phase, datetime, datetime]] = [
            ("recent_day", max(day, history_start), now),
            ("history", history_start, day),
        ]
        return [(p, s, e) for p, s, e in merged if s < e]
    month = _month_start(day)
    half, year = _add_months(month, -5), _add_months(month, -11)
    spans: list[tuple[Phase, datetime, datetime]] = [
        ("recent_day", day, now),
        ("month", month, day),
        ("half_year", half, month),
        ("year", year, half),
    ]
    end = year
    while end > history_start:
        start = end.replace(year=end.year - 1) if end.month == 1 else end.replace(month=1)
        spans.append(("older", start, end))
        end = start
    clipped = [(p, max(s, history_start), e) for p, s, e in spans]
    return [(p, s, e) for p, s, e in clipped if s < e]


def _floor(value: datetime, unit: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (value - epoch) // unit * unit


def _cuts(start: datetime, end: datetime, span: timedelta | None) -> list[datetime]:
    """Boundaries ``[start, c1, …, end]`` splitting the window evenly into pieces of
    about ``span``, the inner cuts on whole days (span >= 1 day) or hours."""
    if span is None or end - start <= span:
        return [start, end]
    unit = DAY if span >= DAY else timedelta(hours=1)
    parts = math.ceil((end - start) / span)
    inner = set()
    for i in range(1, parts):
        ideal = start + (end - start) * i / parts
        cut = _floor(ideal + unit / 2, unit)  # the nearest grid point
        if start < cut < end:
            inner.add(cut)
    return [start, *sorted(inner), end]


def plan_blocks(
    resource: str,
    history_start: datetime,
    now: datetime,
    *,
    density: float | None = None,
    bulk: bool = False,
    block_limit: int | None = None,
    page_size: int = PAGE_SIZE,
    target_pages: int = TARGET_PAGES,
    bulk_records: int | None = BULK_RECORDS,
    max_span: timedelta | None = None,
) -> list[PlannedBlock]:
    """The blocks loading ``resource`` over ``[history_start, now)``, newest first (see
    the module docstring).

    ``density`` is records/day observed for the resource (None: ``DEFAULT_DENSITY``);
    ``bulk`` says the platform has a bulk path for its history (one ``history`` phase
    before the recent day, in blocks of about ``bulk_records``; None: one block);
    ``block_limit`` keeps only the first blocks in load order (a demo or a first
    slice); ``max_span`` caps every block (a platform's window rule). Returns [] when
    ``history_start >= now``. Raises ValueError for naive datetimes, an empty resource,
    a negative density or limit."""
    if not resource:
        raise ValueError("resource must be named")
    if block_limit is not None and block_limit < 0:
        raise ValueError(f"block_limit must be >= 0, got {block_limit}")
    if max_span is not None and max_span < MIN_SPAN:
        raise ValueError(f"max_span must be at least {MIN_SPAN}, got {max_span}")
    start, now = _utc(history_start, "history_start"), _utc(now, "now")
    if resource in SNAPSHOT_RESOURCES:
        phases: list[tuple[Phase, datetime, datetime]] = [("snapshot", start, now)]
        phases = phases if start < now else []
    else:
        phases = _phases(start, now, bulk=bulk)
    sizing = {"page_size": page_size, "target_pages": target_pages, "bulk_records": bulk_records}
    plan: list[PlannedBlock] = []
    for phase, low, high in phases:
        in_bulk = bulk and phase not in ("recent_day", "snapshot")
        span = (
            None
            if phase in ("recent_day", "snapshot")
            else span_for(density, bulk=in_bulk, **sizing)
        )
        if max_span is not None:
            span = max_span if span is None else min(span, max_span)
        cuts = _cuts(low, high, span)
        for a, b in reversed(list(pairwise(cuts))):
            window = Window(start=a, end=b)
            plan.append(
                PlannedBlock(
                    block_id=block_id(resource, window),
                    resource=resource,
                    window=window,
                    phase=phase,
                    bulk=in_bulk,
                    order=len(plan),
                )
            )
    return plan if block_limit is None else plan[:block_limit]


def daily_window(watermark: datetime, now: datetime, overlap: timedelta) -> Window:
    """The daily sync's window ``[watermark - overlap, now)``: every change since the
    watermark, plus ``overlap`` before it so that a record updated while the last sync
    ran is seen again (its upsert is idempotent). Raises ValueError for naive datetimes,
    a negative overlap, or a watermark in the future of ``now``."""
    watermark, now = _utc(watermark, "watermark"), _utc(now, "now")
    if overlap < timedelta(0):
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if watermark > now:
        raise ValueError(f"watermark {watermark.isoformat()} is after now {now.isoformat()}")
    start = watermark - overlap
    if start >= now:
        raise ValueError("the daily window is empty: watermark equals now and overlap is 0")
    return Window(start=start, end=now)
