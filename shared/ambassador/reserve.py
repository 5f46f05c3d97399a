"""How much of a day quota the daily syncs need, learned from their own runs. Pure.

A day quota's *reserve* is the part backfill permits may not take, so that the daily
syncs (which outrank backfills) find room the moment they start. Held but unused, it
idles: on Etsy's sliding day every unit taken in the 24 h before the syncs start is
still counted when they do, so a reserve ``r`` caps a long backfill at ``limit - r``
per day (the daily syncs' own use inside that). So the reserve is what the syncs
actually used, not a fixed tenth of the quota.

The contract (``need``; the limits clamp it, ``FixedWindow.hold``/``SlidingWindow.hold``):

* A *run* of the daily syncs is the units granted to daily-tier flows on a quota lane
  with no gap of ``RUN_GAP_S`` between two grants: ``[first µs, last µs, units]``.
  Units given back (released, or expired unsent) come off the run they fell in.
* The need is the largest run that started within the last ``MEMORY_S`` (a week: a
  weekday's syncs are as big as last week's), plus ``MARGIN`` (clients added since).
  With no run in memory it is 0: the limit keeps its floor.
* The limit holds ``min(ceiling, max(floor, need))``: ``reserve`` of the quota at most
  (the setting, as before), ``reserve_floor`` at least (room for the first syncs of a
  new entity or of clients that just connected).

Why the syncs cannot starve whatever is learned: they outrank every backfill, so each
unit the quota frees (a sliding day frees what was taken a day earlier; a fixed window
all of it at its reset) goes to them first while they wait; the reserve only decides
whether they must wait for that. Syncs that needed more than the reserve are learned
from, and the next day's reserve covers them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from shared.ambassador.limits import US

RUN_GAP_S = 6 * 3_600.0  # daily-tier grants further apart belong to different runs
MEMORY_S = 7 * 86_400.0  # runs that started longer ago are forgotten
MARGIN = 0.2  # the need is the largest run remembered plus this fraction of it
MAX_RUNS = 10  # runs kept (a week of daily syncs and a few extra)
QUIET_S = 1_800.0  # a run is over once no daily-tier permit came for this long


def record(runs: list[list[int]], at: int, units: int) -> None:
    """Add ``units`` (negative: given back) granted to daily syncs for ``at`` (µs) to
    ``runs`` (changed in place, oldest first). Units given back come off the run ``at``
    lies in (never below 0); outside any run they are ignored."""
    gap = round(RUN_GAP_S * US)
    if units < 0:
        for run in reversed(runs):
            if run[0] - gap <= at <= run[1] + gap:
                run[2] = max(0, run[2] + units)
                return
        return
    if runs and runs[-1][0] - gap <= at <= runs[-1][1] + gap:
        last = runs[-1]
        last[0], last[1], last[2] = min(last[0], at), max(last[1], at), last[2] + units
        return
    runs.append([at, at, units])
    runs.sort(key=lambda run: run[0])
    del runs[:-MAX_RUNS]


def prune(runs: list[list[int]], now: int) -> list[list[int]]:
    """The runs that started within ``MEMORY_S`` before ``now``."""
    oldest = now - round(MEMORY_S * US)
    return [run for run in runs if run[0] >= oldest]


def need(runs: list[list[int]], now: int) -> int:
    """Units the daily syncs are expected to need at once: the largest run remembered
    at ``now``, plus ``MARGIN``; 0 with none."""
    largest = max((run[2] for run in prune(runs, now)), default=0)
    return math.ceil(largest * (1.0 + MARGIN))


def over(runs: list[list[int]], now: int, day_of: Callable[[int], int]) -> bool:
    """Whether the day's syncs are over at ``now``, so that the quota's release period
    may give the reserve to backfills (the caller checks that no daily flow is live):
    the latest run started on the quota day of ``now`` (``day_of``: µs -> day index)
    and has been quiet for ``QUIET_S`` (the blocks of a client's sync follow each
    other, and clients' syncs start minutes apart). A day whose syncs do not come keeps
    its reserve; with no run remembered the floor is kept (released when its period
    starts, it went to backfills holding permits a horizon ahead before the first
    syncs had asked at all)."""
    if not runs:
        return False
    first, last, _ = runs[-1]
    return day_of(first) == day_of(now) and now >= last + round(QUIET_S * US)
