"""Through ``QuilttConnector``, the sandbox's ``tiny`` bank data comes back complete: the
normalized bank transactions equal the normalized ground truth exactly, raw nodes equal
the sandbox's records, and the accounts equal its accounts — by one chain, by windows
(Quiltt's date filters), and with faults on while the loop honours the outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from sandbox.faults import FaultRates, Faults
from sandbox.world import World
from shared.normalize import normalize
from shared.platforms.base import Window
from tests.platforms.quiltt import support
from tests.platforms.quiltt.support import ACCOUNT, CLIENT, ISSUE_CALL, Drained, drain


def _keyed(records: list[Any], key: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for record in records:
        k = key(record)
        assert out.get(k, record) == record, f"two different records under {k!r}"
        out[k] = record
    return out


def _nodes(drained: Drained) -> list[dict[str, Any]]:
    return [e["node"] for p in drained.payloads() for e in p["data"]["transactions"]["edges"]]


def _normalized(pages: list[Any]) -> dict[str, Any]:
    records = [
        r for page in pages for r in normalize("quiltt", "bank_transactions", page, account=ACCOUNT)
    ]
    return _keyed(records, lambda r: r.natural_key)


def _assert_complete(world: World, drained: list[Drained], accounts: Drained) -> None:
    truth = world.ground_truth(CLIENT, "quiltt", "bank_transactions")
    assert truth
    raw = _keyed([n for d in drained for n in _nodes(d)], lambda n: n["id"])
    assert raw == _keyed(truth, lambda n: n["id"])
    got = _normalized([p for d in drained for p in d.payloads()])
    page = {"data": {"transactions": {"count": len(truth), "nodes": truth}}}
    want = _normalized([page])
    assert set(got) == set(want) and got == want
    (listed,) = accounts.payloads()
    assert listed["data"]["accounts"] == world.ground_truth(CLIENT, "quiltt", "accounts") != []


async def _crawl(world: World, windows: list[Window | None], page_size: int = 100):
    conn = support.connector(world, page_size=page_size)
    try:
        drained = [
            await drain(conn, conn.first_request("bank_transactions", w), world.clock)
            for w in windows
        ]
        accounts = await drain(conn, conn.first_request("accounts", None), world.clock)
    finally:
        await conn.aclose()
    return drained, accounts


def _monthly(world: World) -> list[Window]:
    """Calendar months from before the history to after now, at odd hours: the date filter
    must round a window's edges to the days it really holds."""
    start = datetime.fromtimestamp(world.scenario.client(CLIENT).history_start, UTC)
    edge = datetime(start.year, start.month, 1, 7, 30, tzinfo=UTC) - timedelta(days=31)
    end = datetime.fromtimestamp(world.clock.now(), UTC) + timedelta(days=2)
    edges = [edge]
    while edges[-1] < end:
        edges.append(edges[-1] + timedelta(days=30, hours=5))
    return [Window(start=a, end=b) for a, b in pairwise(edges)]


async def test_one_chain_returns_everything_with_one_session() -> None:
    world = support.world()
    drained, accounts = await _crawl(world, [None])
    _assert_complete(world, drained, accounts)
    assert world.accounting.calls[ISSUE_CALL] == 1
    assert len(drained[0].pages) >= 2  # the tiny history needs more than one page of 100
    assert drained[0].pages[0].reported_count == len(_nodes(drained[0]))


async def test_windows_by_date_filter_partition_the_history() -> None:
    world = support.world()
    windows = _monthly(world)
    drained, accounts = await _crawl(world, windows, page_size=25)
    _assert_complete(world, drained, accounts)
    for window, chain in zip(windows, drained, strict=True):
        for node in _nodes(chain):
            booked = datetime.fromisoformat(node["date"]).replace(tzinfo=UTC)
            assert window.start <= booked < window.end, (node["date"], window)
    assert world.accounting.calls[ISSUE_CALL] == 1


@pytest.mark.parametrize("seed", [1, 9])
async def test_crawl_with_default_faults_is_still_complete(seed: int) -> None:
    world = support.world(Faults("default", seed=seed))
    # small pages: enough requests (about 80) for the default rates to hit some
    drained, accounts = await _crawl(world, [None, *_monthly(world)], page_size=5)
    _assert_complete(world, drained[:1], accounts)
    _assert_complete(world, drained[1:], accounts)
    assert world.accounting.summary("quiltt")["faults_injected"] > 0


HARSH = FaultRates(
    server_error=0.05,
    throttle_despite_budget=0.05,
    slow=0.05,
    timeout=0.05,
    short_page=0.1,
    duplicate=0.1,
    lost_next_token=0.1,
)


@pytest.mark.parametrize("seed", [2, 6])
async def test_crawl_with_harsh_faults_and_small_pages_is_still_complete(seed: int) -> None:
    world = support.world(Faults("none", seed=seed, per_platform={"quiltt": HARSH}))
    drained, accounts = await _crawl(world, [None, *_monthly(world)], page_size=5)
    _assert_complete(world, drained[:1], accounts)
    _assert_complete(world, drained[1:], accounts)
    kinds = {kind for (p, kind), n in world.accounting.faults.items() if p == "quiltt" and n}
    assert {"short_page", "duplicate", "lost_next_token", "server_error"} <= kinds
    assert {"throttle_despite_budget", "timeout"} <= kinds
    outcomes: dict[str, int] = {}
    for chain in drained:
        for name, n in chain.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + n
    assert outcomes.get("transient", 0) > 0 and outcomes.get("throttled", 0) > 0
    assert world.accounting.calls[ISSUE_CALL] == 1
