"""Through ``EtsyConnector``, every Etsy resource of the sandbox's ``tiny`` scenario comes
back complete: the normalized records equal the normalized ground truth exactly (same
natural keys, same fields), and the raw results equal the sandbox's own records — with
no faults, and with faults on when the loop honours the outcomes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import pairwise
from operator import itemgetter
from typing import Any

import pytest

from sandbox.faults import FaultRates, Faults
from sandbox.world import World
from shared.normalize import normalize
from shared.platforms.base import Window
from shared.platforms.etsy.pagination import LEDGER_WINDOW_S
from tests.platforms.etsy import support
from tests.platforms.etsy.support import ACCOUNT, CLIENT, Drained, drain

# (resource, bulk) -> the ground-truth resource and the raw natural key of its results
CHAINS = {
    ("orders", False): ("orders", "receipt_id"),
    ("order_items", False): ("order_items", "transaction_id"),
    ("order_items", True): ("order_items", "transaction_id"),
    ("transactions", False): ("transactions", "entry_id"),
    ("payouts", False): ("transactions", "entry_id"),  # the ledger; payouts picked by kind
    ("returns", False): ("payments", "payment_id"),
    ("inventory", False): ("inventory", "listing_id"),
}


def _window(world: World) -> Window:
    """The whole history, and a day past the crawl: a receipt modified while the crawl
    runs stays inside the ``last_modified`` window of the returns chain."""
    spec = world.scenario.client(CLIENT)
    start = datetime.fromtimestamp(spec.history_start - 86_400, UTC)
    return Window(start=start, end=datetime.fromtimestamp(world.clock.now() + 86_400, UTC))


def _keyed(records: list[Any], key: Any, latest: bool = False) -> dict[Any, Any]:
    """Records by key; a key seen twice (a repeated page entry) must hold equal records,
    unless ``latest``: then the later read wins (a record re-read after it changed)."""
    out: dict[Any, Any] = {}
    for record in records:
        k = key(record)
        assert latest or out.get(k, record) == record, f"two different records under {k!r}"
        out[k] = record
    return out


def _raw(drained: Drained, resource: str) -> list[dict[str, Any]]:
    results = [result for page in drained.payloads() for result in page["results"]]
    if resource == "inventory":  # listings with their inventory attached
        return [{"listing_id": r["listing_id"], **r["inventory"]} for r in results]
    if resource == "order_items" and not drained.pages[0].request.path.endswith("/transactions"):
        return [t for receipt in results for t in receipt["transactions"]]  # receipt pages
    return results


def _normalized(resource: str, pages: list[Any], latest: bool = False) -> dict[str, Any]:
    records = [r for page in pages for r in normalize("etsy", resource, page, account=ACCOUNT)]
    return _keyed(records, lambda r: r.natural_key, latest)


def _truth_pages(world: World, resource: str) -> list[Any]:
    truth_resource = CHAINS[(resource, False)][0]
    truth = world.ground_truth(CLIENT, "etsy", truth_resource)
    if resource == "inventory":
        return truth  # one getListingInventory answer per listing
    if resource == "payouts":
        truth = [e for e in truth if e["ledger_type"] == "DISBURSE2"]
    return [{"count": len(truth), "results": truth}]


async def _crawl(world: World, page_limit: int = 100) -> dict[tuple[str, bool], Drained]:
    conn = support.connector(world, page_limit=page_limit)
    window = _window(world)
    try:
        out = {}
        for resource, bulk in CHAINS:
            request = conn.first_request(resource, window, bulk=bulk)
            out[(resource, bulk)] = await drain(conn, request, world.clock)
        # A receipt may change while the crawl runs (``updated_during_sync``): re-read the
        # receipts once the change has landed, until a pass changes nothing more.
        for _ in range(5):
            touched = world.accounting.faults[("etsy", "updated_during_sync")]
            if not touched:
                break
            world.clock.advance(601)
            again = await drain(conn, conn.first_request("orders", window), world.clock)
            out[("orders", False)].pages += again.pages
            if world.accounting.faults[("etsy", "updated_during_sync")] == touched:
                break
    finally:
        await conn.aclose()
    return out


def _assert_complete(world: World, crawled: dict[tuple[str, bool], Drained]) -> None:
    for (resource, bulk), (truth_resource, key) in CHAINS.items():
        drained = crawled[(resource, bulk)]
        truth = world.ground_truth(CLIENT, "etsy", truth_resource)
        if resource == "returns":  # only the payments of receipts with refunds are read
            assert any(not p["payment_adjustments"] for p in truth)
            truth = [p for p in truth if p["payment_adjustments"]]
        assert truth, truth_resource
        latest = resource == "orders"  # receipts re-read after a change: the later read wins
        raw = _keyed(_raw(drained, resource), itemgetter(key), latest)
        expected = _keyed(truth, itemgetter(key))
        assert raw == expected, (resource, bulk, sorted(set(raw) ^ set(expected))[:5])
        got = _normalized(resource, drained.payloads(), latest)
        want = _normalized(resource, _truth_pages(world, resource))
        assert got, resource
        assert set(got) == set(want), (resource, bulk, sorted(set(got) ^ set(want))[:5])
        assert got == want, (resource, bulk)
    returns = _normalized("returns", crawled[("returns", False)].payloads())
    raw_returns = world.ground_truth(CLIENT, "etsy", "returns")
    assert set(returns) == {str(r["payment_adjustment_id"]) for r in raw_returns} != set()


async def test_clean_crawl_equals_ground_truth() -> None:
    world = support.world()
    crawled = await _crawl(world)
    _assert_complete(world, crawled)
    assert world.accounting.summary("etsy")["faults_injected"] == 0
    for drained in crawled.values():
        assert drained.outcomes.keys() <= {"ok", "throttled"}


async def test_ledger_windows_are_split_into_31_day_requests() -> None:
    world = support.world()
    conn = support.connector(world)
    start = datetime(2026, 7, 1, tzinfo=UTC)  # 100 days before the end: 4 sub-windows
    window = Window(start=start, end=datetime(2026, 10, 9, 12, 30, 0, 500_000, tzinfo=UTC))
    try:
        drained = await drain(conn, conn.first_request("transactions", window), world.clock)
    finally:
        await conn.aclose()
    windows = sorted(
        {(r.request.params["min_created"], r.request.params["max_created"]) for r in drained.pages}
    )
    assert len(windows) == math.ceil((window.end - window.start).total_seconds() / LEDGER_WINDOW_S)
    assert all(0 <= high - low <= LEDGER_WINDOW_S for low, high in windows)
    assert all(b[0] == a[1] + 1 for a, b in pairwise(windows))
    assert windows[0][0] == int(start.timestamp())
    assert windows[-1][1] == math.ceil(window.end.timestamp()) - 1
    got = {e["entry_id"] for e in _raw(drained, "transactions")}
    low, high = window.start.timestamp(), window.end.timestamp()
    truth = world.ground_truth(CLIENT, "etsy", "transactions")
    assert got == {e["entry_id"] for e in truth if low <= e["create_date"] < high} != set()


async def test_bulk_order_items_stop_below_the_window() -> None:
    world = support.world()
    conn = support.connector(world)
    now = world.clock.now()
    window = Window(
        start=datetime.fromtimestamp(now - 10 * 86_400, UTC),
        end=datetime.fromtimestamp(now + 1, UTC),
    )
    try:
        drained = await drain(
            conn, conn.first_request("order_items", window, bulk=True), world.clock
        )
    finally:
        await conn.aclose()
    truth = world.ground_truth(CLIENT, "etsy", "order_items")
    inside = {t["transaction_id"] for t in truth if t["create_timestamp"] >= now - 10 * 86_400}
    got = {r["transaction_id"] for r in _raw(drained, "order_items")}
    assert inside and inside <= got
    assert len(drained.pages) < 3  # the tiny shop's 200+ items would take 3 pages


@pytest.mark.parametrize("seed", [3, 11])
async def test_crawl_with_default_faults_is_still_complete(seed: int) -> None:
    world = support.world(Faults("default", seed=seed))
    crawled = await _crawl(world)
    _assert_complete(world, crawled)
    assert world.accounting.summary("etsy")["faults_injected"] > 0


HARSH = FaultRates(
    server_error=0.05,
    throttle_despite_budget=0.05,
    slow=0.05,
    timeout=0.02,
    short_page=0.1,
    duplicate=0.1,
    token_expiry=0.03,
    updated_during_sync=0.02,
)


@pytest.mark.parametrize("seed", [5, 8])
async def test_crawl_with_harsh_faults_and_small_pages_is_still_complete(seed: int) -> None:
    world = support.world(Faults("none", seed=seed, per_platform={"etsy": HARSH}))
    crawled = await _crawl(world, page_limit=20)
    _assert_complete(world, crawled)
    kinds = {kind for (_, kind), n in world.accounting.faults.items() if n}
    assert {"short_page", "duplicate", "server_error", "throttle_despite_budget"} <= kinds
    assert {"token_expiry", "timeout", "updated_during_sync"} <= kinds
    outcomes: dict[str, int] = {}
    for drained in crawled.values():
        for name, n in drained.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + n
    assert outcomes.get("transient", 0) > 0 and outcomes.get("throttled", 0) > 0
    assert sum(d.refreshed for d in crawled.values()) > 0  # expired tokens: refreshed once


async def test_daily_window_by_update_finds_every_receipt_changed_in_it() -> None:
    world = support.world()
    conn = support.connector(world, page_limit=10)
    end = world.clock.now()
    day = Window(
        start=datetime.fromtimestamp(end - 3 * 86_400, UTC), end=datetime.fromtimestamp(end, UTC)
    )
    try:
        orders = await drain(conn, conn.first_request("orders", day, by_update=True), world.clock)
        items = await drain(
            conn, conn.first_request("order_items", day, by_update=True), world.clock
        )
    finally:
        await conn.aclose()
    low, high = day.start.timestamp(), day.end.timestamp()
    truth = world.ground_truth(CLIENT, "etsy", "orders")
    changed = {r["receipt_id"]: r for r in truth if low <= r["update_timestamp"] < high}
    assert any(r["create_timestamp"] < low for r in changed.values())  # old, but shipped lately
    assert _keyed(_raw(orders, "orders"), itemgetter("receipt_id")) == changed
    lines = world.ground_truth(CLIENT, "etsy", "order_items")
    expected = {t["transaction_id"] for t in lines if t["receipt_id"] in changed}
    assert set(_keyed(_raw(items, "order_items"), itemgetter("transaction_id"))) == expected
