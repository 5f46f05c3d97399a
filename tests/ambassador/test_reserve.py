"""What the daily syncs need of a day quota, learned from their runs (explicit times)."""

from __future__ import annotations

import pytest

from shared.ambassador import reserve
from shared.ambassador.limits import US

T0 = 1_790_000_000 * US  # 2026-09-21T14:13:20Z
H = 3_600 * US
DAY = 24 * H


def runs_of(*grants: tuple[float, int]) -> list[list[int]]:
    """The runs after recording ``(hours after T0, units)`` in order."""
    runs: list[list[int]] = []
    for hours, units in grants:
        reserve.record(runs, T0 + round(hours * H), units)
    return runs


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        # grants less than RUN_GAP_S (6 h) apart make one run
        ([(0, 5), (1, 5), (6.5, 5)], [[0, 6.5, 15]]),
        # a gap of more than 6 h starts a new run
        ([(0, 5), (6.01, 5)], [[0, 0, 5], [6.01, 6.01, 5]]),
        # units given back come off the run they fell in, never below 0
        ([(0, 5), (0.5, -3)], [[0, 0, 2]]),
        ([(0, 5), (24, 4), (1, -9)], [[0, 0, 0], [24, 24, 4]]),
        # ... and are ignored outside any run
        ([(0, 5), (12, -3)], [[0, 0, 5]]),
    ],
)
def test_daily_grants_make_runs_split_by_a_gap(grants: list, expected: list) -> None:
    hours = [[(a - T0) / H, (b - T0) / H, n] for a, b, n in runs_of(*grants)]
    assert [[round(a, 2), round(b, 2), n] for a, b, n in hours] == expected


def test_at_most_max_runs_are_kept_the_oldest_go() -> None:
    runs = runs_of(*[(24 * day, day + 1) for day in range(reserve.MAX_RUNS + 3)])
    assert len(runs) == reserve.MAX_RUNS
    assert runs[0][2] == 4  # runs 1-3 are gone


def test_the_need_is_the_largest_run_of_the_last_week_with_a_margin() -> None:
    runs = runs_of((0, 50), (24, 20), (48, 30))
    assert reserve.need(runs, T0 + 2 * DAY) == 60  # 50 and a fifth
    # the run of day 0 is forgotten a week after it started
    assert reserve.need(runs, T0 + 7 * DAY + 1) == 36
    assert reserve.prune(runs, T0 + 7 * DAY + 1) == runs[1:]
    assert reserve.need([], T0) == 0


def day_of(t: int) -> int:
    return (t - T0) // DAY


@pytest.mark.parametrize(
    ("grants", "now_h", "over"),
    [
        ([], 1.0, False),  # nothing learned: the floor is kept
        ([(0, 5)], 0.4, False),  # the syncs granted 24 min ago may still be running
        ([(0, 5)], 0.6, True),  # quiet for 36 min: over
        ([(0, 5)], 24.1, False),  # the latest run is yesterday's: today's are due
    ],
)
def test_the_syncs_are_over_once_todays_run_has_been_quiet(
    grants: list, now_h: float, over: bool
) -> None:
    runs = runs_of(*grants)
    assert reserve.over(runs, T0 + round(now_h * H), day_of) is over
