"""Pure: the chains that make Amazon's uncounted listings checkable.

Inventory: each marketplace is listed ``INVENTORY_LISTINGS`` times in a row, every page
naming its repeat. Financial events: a group still open is listed after the closed ones,
the first of them ``OPEN_GROUP_WAIT`` on, its pages carrying the running total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.integrity import RunningTotal
from shared.platforms.amazon import pagination

EMPTY_INVENTORY = {"payload": {"inventorySummaries": []}}
NO_EVENTS = {"payload": {"FinancialEvents": {}}}


def walk(first, body):
    chain, request = [], first
    while request is not None:
        chain.append(request)
        request = pagination.next_request(request, body(request))
    return chain


def test_each_marketplace_is_listed_twice_in_a_row() -> None:
    tokens = iter(["t1", None, None, None, None])

    def body(request):
        token = next(tokens)
        return {**EMPTY_INVENTORY, "pagination": {"nextToken": token} if token else {}}

    chain = walk(pagination.inventory_request(["M1", "M2"]), body)
    assert [(r.state["listing"], r.params.get("nextToken")) for r in chain] == [
        ("M1#1", None),
        ("M1#1", "t1"),
        ("M1#2", None),
        ("M2#1", None),
        ("M2#2", None),
    ]
    assert [r.page_number for r in chain] == [0, 1, 2, 3, 4]
    assert [r.calls_ahead for r in chain] == [4, 4, 3, 2, 1]


def test_a_chain_from_before_the_repeats_ends_as_it_did() -> None:
    old = pagination.inventory_request(["M1"]).model_copy(
        update={"state": {"market": "M1", "remaining": []}}
    )
    assert pagination.next_request(old, EMPTY_INVENTORY) is None


def group(name: str, start: datetime, *, open_: bool = False, total: str | None = None):
    end = None if open_ else start + timedelta(days=14)
    return pagination.EventGroup(name, start, end, "USD", total)


def test_open_groups_come_last_carrying_their_running_totals() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    seen = (start + timedelta(days=20), start + timedelta(days=20, seconds=1))
    groups = [
        group("OPEN1", start + timedelta(days=14), open_=True, total="12.50"),
        group("CLOSED", start, total="99.00"),
        group("OPEN2", start + timedelta(days=15), open_=True, total="-3"),
    ]
    chain = walk(
        pagination.groups_events_request(groups, by_date_before=None, seen=seen),
        lambda _r: NO_EVENTS,
    )
    assert [r.state["group_id"] for r in chain] == ["CLOSED", "OPEN1", "OPEN2"]
    assert [r.not_before_s for r in chain] == [0.0, pagination.OPEN_GROUP_WAIT, 0.0]
    assert "running" not in chain[0].state
    running = RunningTotal.model_validate(chain[1].state["running"])
    assert (running.payout_id, str(running.total.amount), running.total.currency) == (
        "OPEN1",
        "12.50",
        "USD",
    )
    assert (running.seen_from, running.seen_to) == seen
    assert [r.calls_ahead for r in chain] == [1, 2, 1]  # no permit waits out the wait


def test_the_next_page_of_an_open_group_carries_its_total_too() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    seen = (start, start + timedelta(seconds=1))
    first = pagination.groups_events_request(
        [group("OPEN", start, open_=True, total="1")], by_date_before=None, seen=seen
    )
    assert first is not None
    second = pagination.next_request(first, {"payload": {"NextToken": "n", "FinancialEvents": {}}})
    assert second is not None and second.params["NextToken"] == "n"
    assert second.state["running"] == first.state["running"] and second.not_before_s == 0.0


def test_without_a_seen_span_or_a_total_an_open_group_is_listed_as_before() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    unseen = pagination.groups_events_request(
        [group("OPEN", start, open_=True, total="1")], by_date_before=None
    )
    untold = pagination.groups_events_request(
        [group("OPEN", start, open_=True)], by_date_before=None, seen=(start, start)
    )
    for first in (unseen, untold):
        assert first is not None and "running" not in first.state and first.not_before_s == 0
