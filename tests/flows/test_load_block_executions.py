"""When a block's execution continues as new (``load_block._full``).

Histories stay short: an execution ends after ``TURNS_PER_EXECUTION`` turns or
``WAITS_PER_EXECUTION`` permit waits, but not while the batch still holds permits the
next turn can use (continuing would release them and the next execution would ask the
ambassador again), and never later than twice the turns or past the page cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from orchestrators.load_block import (
    PAGES_PER_EXECUTION,
    TURNS_PER_EXECUTION,
    WAITS_PER_EXECUTION,
    _full,
)
from shared.flows.models import BlockProgress, BlockSpec
from shared.flows.permits import Permits

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
T, W = TURNS_PER_EXECUTION, WAITS_PER_EXECUTION
USABLE = [NOW + timedelta(seconds=1)]  # a permit the next turn can use
STALE = [NOW - timedelta(seconds=5)]  # past its lease


def _case(turns: int, waits: int, times: list[datetime], requests: int = 0) -> bool:
    context = SimpleNamespace(current_utc_datetime=NOW, instance_id="b1")
    spec = BlockSpec(
        client="c1",
        platform="etsy",
        account="a1",
        resource="orders",
        block_id="b1",
        window={"start": NOW - timedelta(days=1), "end": NOW},
    )
    permits = Permits(context, spec)
    permits.lease, permits.times, permits.waits = timedelta(seconds=2), list(times), waits
    return _full(context, BlockProgress(requests=requests), permits, turns)


@pytest.mark.parametrize(
    ("turns", "waits", "times", "requests", "full"),
    [
        (T - 1, W - 1, [], 0, False),  # room left
        (T, 0, [], 0, True),  # turns used up
        (0, W, [], 0, True),  # waits used up
        (T, 0, USABLE, 0, False),  # holding a usable permit: one more turn
        (0, W, USABLE, 0, False),
        (T, W, STALE, 0, True),  # only expired permits: nothing to keep
        (2 * T, 0, USABLE, 0, True),  # the hard cap
        (0, 0, USABLE, PAGES_PER_EXECUTION, True),  # the page cap
    ],
)
def test_when_an_execution_is_full(turns, waits, times, requests, full) -> None:
    assert _case(turns, waits, times, requests) is full
