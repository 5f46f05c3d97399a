"""How many permits a block asks for (``Permits.want``): pure, no host needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.flows.models import BlockSpec
from shared.flows.permits import BATCH, FIRST_ASK, SLOW_RESPONSE, Permits
from shared.platforms.base import PageRequest, Window


def _permits(spacing: float | None, pace: float | None, lease_s: float) -> Permits:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    spec = BlockSpec(
        client="c1",
        platform="etsy",
        account="shop1",
        resource="orders",
        block_id="orders.june",
        window=Window(start=start, end=start + timedelta(days=30)),
    )
    permits = Permits(context=None, spec=spec, pace={} if pace is None else {"api": pace})
    if spacing is not None:
        permits.spacing["api"] = spacing
    permits.lease = timedelta(seconds=lease_s)
    return permits


def test_the_first_ask_learns_the_spacing():
    assert _permits(None, None, 0.25).want("api") == FIRST_ASK


def test_a_lane_slower_than_the_chain_gets_a_full_batch():
    # Amazon's getOrderItems: a permit every 2 s, a response in 0.3 s
    assert _permits(2.0, 0.3, 2.0).want("api") == BATCH


@pytest.mark.parametrize("pace", [0.2, 0.3, 0.4])
def test_a_fast_lane_gets_no_permit_a_slow_response_would_leave_expired(pace):
    # Etsy: 10/s (0.1 s apart), lease 0.25 s. The k-th permit of a batch is used after k
    # responses: k (L - s) late. Every permit asked must still be in its lease when the
    # responses before it are slow (SLOW_RESPONSE times the mean).
    spacing, lease = 0.1, 0.25
    n = _permits(spacing, pace, lease).want("api")
    assert n >= 1
    slow = SLOW_RESPONSE * pace
    assert (n - 1) * (slow - spacing) <= lease
    # the mean response alone would have allowed more than one for the fastest pace:
    # the margin is what holds it to one (30 % of Etsy's granted permits expired unsent)
    if pace == 0.2:
        assert 1 + int(lease / (pace - spacing)) > n


def test_a_long_lease_allows_more_permits_on_a_fast_lane():
    # a slow response 0.51 s, 0.41 s late per permit: the fifth is 1.64 s late, in a 2 s lease
    assert _permits(0.1, 0.3, 2.0).want("api") == 5


def _request(calls_ahead: int | None) -> PageRequest:
    return PageRequest(
        platform="etsy", resource="orders", route="api", path="/x", calls_ahead=calls_ahead
    )


@pytest.mark.parametrize("ahead", [1, 3])
def test_no_more_permits_than_the_chain_surely_uses(ahead):
    # a report step (1) or a chain with 3 calls left on the route: a slow lane would
    # otherwise get a full batch and hand most of it back when the block ends
    permits = _permits(2.0, 0.3, 2.0)
    assert permits.want("api") == BATCH
    assert permits.asks(_request(ahead)) == ahead


def test_an_unknown_chain_length_asks_as_the_lane_allows():
    permits = _permits(2.0, 0.3, 2.0)
    assert permits.asks(_request(None)) == BATCH
    assert _permits(None, None, 0.25).asks(_request(5)) == FIRST_ASK
