"""Offset paging over a result set that moves: orders modified while a lastmodifieddate
window is paged leave the window, the offsets of the rest shift, and a record can slide
onto a page already read. The chain notices the drop in ``total`` and steps back by it,
so every order that did not change is still read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.faults import FaultRates, Faults
from shared.platforms.base import Outcome, Window
from shared.platforms.ebay import pagination
from tests.platforms.ebay.support import EbayEnv

PAGE = 5
BETWEEN_PAGES_S = 700.0  # longer than the fault's 1-600 s delay: edits land between pages


def modified_dates(env: EbayEnv) -> dict[str, str]:
    return {o["orderId"]: o["lastModifiedDate"] for o in env.truth("orders")}


async def crawl_slowly(env: EbayEnv) -> tuple[set[str], set[str], int]:
    """(order ids read, ids in the window that did not change, pages stepped back)."""
    faults = Faults(per_platform={"ebay": FaultRates(updated_during_sync=0.03)}, seed=0)
    env.world.faults = faults
    connector = env.connector(PAGE)
    window = Window(start=env.now() - timedelta(days=20), end=env.now())
    before = modified_dates(env)
    request = connector.first_request("orders", window, by_update=True)
    read, steps_back = set(), 0
    while request is not None:
        result = await connector.fetch(request)
        assert result.classified.outcome is Outcome.OK, result.classified.reason
        read |= {o["orderId"] for o in result.payload.get("orders", [])}
        following = result.next
        if following is not None and following.params["offset"] < request.params["offset"]:
            steps_back += 1
        request = following
        env.clock.advance(BETWEEN_PAGES_S)
    await connector.aclose()
    after = modified_dates(env)
    start, end = (w.strftime("%Y-%m-%dT%H:%M:%S") for w in (window.start, window.end))
    steady = {
        oid for oid, stamp in before.items() if start <= stamp[:19] < end and after[oid] == stamp
    }
    return read, steady, steps_back


async def test_a_dropping_total_steps_back_and_nothing_steady_is_skipped() -> None:
    env = EbayEnv(quiet_for=None)
    read, steady, steps_back = await crawl_slowly(env)
    assert steps_back > 0, "orders left the window while it was paged"
    assert steady and steady <= read


async def test_without_restarts_the_same_crawl_skips_records(monkeypatch) -> None:
    """The control: the protection is what makes the crawl above complete."""
    monkeypatch.setattr(pagination, "shifted", lambda seen, current: 0)
    env = EbayEnv(quiet_for=None)
    read, steady, _ = await crawl_slowly(env)
    assert steady - read, "offset paging over a shrinking set skipped a steady order"


@pytest.mark.parametrize(
    ("resource", "offset", "seen", "current", "following"),
    [
        ("orders", 20, None, 50, 30),  # first page seen: plain offset + limit
        ("orders", 20, 50, 50, 30),
        ("orders", 20, 50, 47, 17),  # three left before this page: they slid to 17-19
        ("orders", 20, 50, 55, 30),  # five joined: they only push others later
        ("orders", 40, 50, 45, 35),
        ("orders", 40, 50, 50, None),  # the last page
        ("inventory", 2, 100, 100, 3),  # page numbers
        ("inventory", 2, 100, 97, 1),  # the page the slid records are on now
    ],
)
def test_next_offset(resource, offset, seen, current, following) -> None:
    now = EbayEnv(quiet_for=None).now()
    window = Window(start=now - timedelta(days=1), end=now)
    request = pagination.first_request(resource, window, limit=10)
    state = {"total": seen} if seen is not None else {}
    request = request.model_copy(
        update={"params": {**request.params, "offset": offset}, "state": state}
    )
    nxt = pagination.next_request(request, {"total": current})
    assert (nxt.params["offset"] if nxt else None) == following
    if nxt:
        assert nxt.state["total"] == current
