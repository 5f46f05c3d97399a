"""Quota use: a daily quota binds only runs long enough to spend it."""

from __future__ import annotations

import pytest

from bench.plot import sustained_rate
from shared.ambassador.policies import LaneSpec, LimitSpec

DAY = 86_400.0
ETSY = LaneSpec(
    "api",
    (
        LimitSpec("sliding_window", "second", {"limit": 10, "window_s": 1.0}),
        LimitSpec("sliding_window", "day", {"limit": 10_000, "window_s": DAY}),
    ),
)


@pytest.mark.parametrize(
    ("horizon_s", "want"),
    [
        (None, 10_000 / DAY),  # the long run: the day binds
        (120.0, 10.0),  # two minutes: the quota lasts, 10/s binds
        (3 * 3600.0, 10_000 / (3 * 3600.0)),  # three hours at 10/s would spend 108,000
        (2 * DAY, 10_000 / DAY),
    ],
)
def test_sustained_rate_over_the_run(horizon_s, want) -> None:
    assert sustained_rate(ETSY, horizon_s) == pytest.approx(want)


def test_token_bucket_rate_whatever_the_horizon() -> None:
    lane = LaneSpec("x", (LimitSpec("token_bucket", "b", {"rate": 0.5, "burst": 30}),))
    assert sustained_rate(lane, 60.0) == sustained_rate(lane) == 0.5
