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


def test_the_first_ask_is_one_permit():
    # before any answer the lane's spacing is unknown: a second permit on a fast lane
    # (Etsy's 0.07 s) would often expire unsent behind the first response
    assert FIRST_ASK == 1
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


class _Context:
    """The orchestration context as far as ``Permits.batch`` uses it, recording signals."""

    def __init__(self, now: datetime) -> None:
        self.current_utc_datetime = now
        self.instance_id = "c1|etsy|orders.june"
        self.signals: list[tuple[str, dict]] = []
        self._ids = 0

    def new_uuid(self) -> str:
        self._ids += 1
        return f"id-{self._ids}"

    def signal_entity(self, _entity, operation: str, payload: dict) -> None:
        self.signals.append((operation, payload))


def test_permits_past_their_lease_are_forfeited_not_dropped():
    # a batch of four, 0.1 s apart with a 0.25 s lease, looked at 0.4 s after the first:
    # the first two are past their lease, the third is still in it (and past its time)
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    times = [start + timedelta(seconds=0.1 * k) for k in range(4)]
    permits = _permits(0.1, 0.3, 0.25)
    permits.context = _Context(start + timedelta(seconds=0.4))
    permits.key, permits.grant_id, permits.times = ("api", 1), "grant-1", list(times)
    request = PageRequest(platform="etsy", resource="orders", route="api", path="/receipts")
    batch = permits.batch(request)
    with pytest.raises(StopIteration) as done:
        next(batch)  # usable times left: no call to the entity, no wait
    assert done.value.value == times[2:]
    assert permits.times == times[2:]
    [(operation, payload)] = permits.context.signals
    assert operation == "release" and payload["grant_id"] == "grant-1"
    assert payload["unused"] == 0
    assert [datetime.fromisoformat(t) for t in payload["expired"]] == times[:2]


def _batch_answer(times: list[datetime], spacing_s: float | None) -> dict:
    return {
        "request_id": "id-1",
        "route": "api",
        "lane": "etsy",
        "granted": len(times),
        "times": [t.isoformat() for t in times],
        "lease_s": 0.25,
        "spacing_s": spacing_s,
    }


@pytest.mark.parametrize("spacing_s", [None, 0.1])
def test_a_batch_interleaved_with_other_callers_does_not_pass_for_a_slow_lane(spacing_s):
    # Etsy (0.1 s apart, lease 0.25 s): a batch of two with another caller's permits
    # between them lies 0.4 s apart, wider than a response (0.3 s). Read as the lane's
    # spacing, the next ask was a full batch the chain could use only a few of (the rest
    # expired and the lane idled about 2 s each time). The lane's own steady spacing, sent
    # with the answer, keeps the ask to what a slow response leaves within the lease.
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    times = [start, start + timedelta(seconds=0.4)]
    context = _Context(start)
    context.call_entity = lambda _entity, _op, _payload: "acquire"
    permits = _permits(None, 0.3, 0.25)
    permits.context = context
    request = PageRequest(platform="etsy", resource="orders", route="api", path="/receipts")
    batch = permits.batch(request)
    assert next(batch) == "acquire"
    with pytest.raises(StopIteration) as done:
        batch.send(_batch_answer(times, spacing_s))
    assert done.value.value == times
    if spacing_s is None:  # an older answer without it: the batch's own gap, as before
        assert permits.want("api") == BATCH
    else:
        assert permits.spacing["api"] == pytest.approx(0.1)
        assert permits.want("api") < BATCH
        assert (permits.want("api") - 1) * (SLOW_RESPONSE * 0.3 - 0.1) <= 0.25


@pytest.mark.parametrize(
    ("spacing_s", "pace", "wants"),
    [
        (2.0, 0.3, BATCH),  # Amazon's items: a slow lane, a full batch next
        (0.07, 0.3, 1),  # Etsy's spread window: one at a time
        (0.0, 0.3, 1 + int(0.25 / (SLOW_RESPONSE * 0.3))),  # a window with no spread
    ],
)
def test_one_permit_teaches_the_lane_spacing(spacing_s, pace, wants):
    # the first answer grants one permit: its spacing_s alone sets the next ask
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    context = _Context(start)
    context.call_entity = lambda _entity, _op, _payload: "acquire"
    permits = _permits(None, pace, 0.25)
    permits.context = context
    request = PageRequest(platform="etsy", resource="orders", route="api", path="/receipts")
    batch = permits.batch(request)
    assert next(batch) == "acquire"
    with pytest.raises(StopIteration) as done:
        batch.send(_batch_answer([start], spacing_s))
    assert done.value.value == [start]
    assert permits.spacing["api"] == pytest.approx(spacing_s)
    assert permits.want("api") == wants


def test_an_answer_without_spacing_leaves_one_permit_unlearned():
    # an answer from before spacing_s: one permit shows no spacing, so the ask stays at one
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    context = _Context(start)
    context.call_entity = lambda _entity, _op, _payload: "acquire"
    permits = _permits(None, 0.3, 0.25)
    permits.context = context
    request = PageRequest(platform="etsy", resource="orders", route="api", path="/receipts")
    batch = permits.batch(request)
    next(batch)
    with pytest.raises(StopIteration):
        batch.send(_batch_answer([start], None))
    assert "api" not in permits.spacing
    assert permits.want("api") == FIRST_ASK
