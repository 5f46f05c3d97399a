"""Etsy order items over a window through getShopReceiptTransactionsByShop (the bulk
path): Etsy lists every transaction of the shop newest first, with no date filter, so
the chain reads down from the newest page to the first page below the window, and its
pages normalized with their request's scope hold exactly the window's items.

Checked on the tiny scenario's sandbox against the ground truth of the window, with
and without page faults (short pages, repeated records), and on the scope itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.faults import FaultRates, Faults
from sandbox.world import World
from shared.errors import ConfigurationError
from shared.normalize import normalize
from shared.platforms.base import Window
from shared.platforms.etsy.normalize import created_bounds, created_scope
from shared.platforms.etsy.pagination import bounds
from tests.platforms.etsy import support
from tests.platforms.etsy.support import ACCOUNT, CLIENT, Drained, drain

PAGE = 20
"""A small page, so that the tiny shop's items take a dozen pages."""


def _stamps(world: World) -> list[int]:
    """Creation times of the shop's transactions, newest first (Etsy's order)."""
    truth = world.ground_truth(CLIENT, "etsy", "order_items")
    return sorted((t["create_timestamp"] for t in truth), reverse=True)


def _middle(world: World) -> Window:
    """A window holding about the middle third of the shop's items (newer and older
    pages lie outside it), its bounds not on whole seconds."""
    stamps = _stamps(world)
    newest, oldest = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3 + PAGE // 2]
    return Window(
        start=datetime.fromtimestamp(oldest - 0.5, UTC),
        end=datetime.fromtimestamp(newest + 0.25, UTC),
    )


def _truth_of(world: World, window: Window) -> dict[str, object]:
    truth = world.ground_truth(CLIENT, "etsy", "order_items")
    page = {"count": len(truth), "results": truth}
    records = normalize("etsy", "order_items", page, account=ACCOUNT)
    return {
        r.natural_key: r
        for r in records
        if r.created_at is not None and window.start <= r.created_at < window.end
    }


def _stored(drained: Drained) -> dict[str, object]:
    """What the block loop stores: each page normalized with its request's scope."""
    out: dict[str, object] = {}
    for result in drained.pages:
        scope = str(result.request.state.get("scope", ""))
        for record in normalize(
            "etsy", "order_items", result.payload, account=ACCOUNT, scope=scope
        ):
            assert out.get(record.natural_key, record) == record, record.natural_key
            out[record.natural_key] = record
    return out


async def _crawl(world: World, window: Window | None) -> Drained:
    conn = support.connector(world, page_limit=PAGE)
    try:
        return await drain(conn, conn.first_request("order_items", window, bulk=True), world.clock)
    finally:
        await conn.aclose()


def _oldest(result) -> int:
    return min(t["create_timestamp"] for t in result.payload["results"])


async def test_a_windowed_crawl_holds_exactly_the_window_and_stops_below_it() -> None:
    world = support.world()
    window = _middle(world)
    drained = await _crawl(world, window)
    want = _truth_of(world, window)
    got = _stored(drained)
    assert want and set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    assert got == want
    raw = {t["transaction_id"] for r in drained.pages for t in r.payload["results"]}
    assert len(raw) > len(got)  # the pages reach beyond the window: the scope matters
    low = bounds(window)[0]
    assert _oldest(drained.pages[-1]) < low  # the last page reaches below the start
    assert all(_oldest(r) >= low for r in drained.pages[:-1])  # and no page before it
    everything = -(-len(_stamps(world)) // PAGE)
    assert len(drained.pages) < everything  # the older pages were never asked for
    assert all(r.reported_count is None for r in drained.pages)  # the shop's count, not ours


async def test_a_window_before_every_item_takes_the_whole_list_and_holds_none() -> None:
    world = support.world()
    oldest = _stamps(world)[-1]
    window = Window(
        start=datetime.fromtimestamp(oldest - 10 * 86_400, UTC),
        end=datetime.fromtimestamp(oldest, UTC),
    )
    drained = await _crawl(world, window)
    assert _stored(drained) == {}
    assert sum(len(r.payload["results"]) for r in drained.pages) == len(_stamps(world))


async def test_without_a_window_every_item_is_kept_and_counted() -> None:
    world = support.world()
    drained = await _crawl(world, None)
    assert len(_stored(drained)) == len(_stamps(world))
    assert {r.reported_count for r in drained.pages} == {len(_stamps(world))}


PAGE_FAULTS = FaultRates(short_page=0.15, duplicate=0.15, server_error=0.05)


@pytest.mark.parametrize("seed", [2, 7])
async def test_page_faults_neither_lose_nor_add_a_record(seed: int) -> None:
    world = support.world(Faults("none", seed=seed, per_platform={"etsy": PAGE_FAULTS}))
    window = _middle(world)
    drained = await _crawl(world, window)
    assert _stored(drained) == _truth_of(world, window)
    kinds = {kind for (_, kind), n in world.accounting.faults.items() if n}
    assert {"short_page", "duplicate"} <= kinds


# --- the scope, pure ---------------------------------------------------------------------


def _items(*stamps: int | None) -> dict:
    results = []
    for n, stamp in enumerate(stamps, start=1):
        line = {"transaction_id": n, "receipt_id": 100 + n, "quantity": 1}
        results.append(line if stamp is None else {**line, "create_timestamp": stamp})
    return {"count": 99, "results": results}


@pytest.mark.parametrize(
    ("scope", "kept"),
    [
        ("", [1, 2, 3, 4, 5]),
        (created_scope(1_000, 2_000), [2, 3, 5]),  # both bounds included; undated kept
        (created_scope(1_001, 1_999), [5]),
        (created_scope(0, 10**10), [1, 2, 3, 4, 5]),
    ],
)
def test_the_scope_keeps_the_items_created_within_its_bounds(scope: str, kept: list[int]) -> None:
    page = _items(999, 1_000, 2_000, 2_001, None)
    records = normalize("etsy", "order_items", page, account=ACCOUNT, scope=scope)
    assert [int(r.item_id) for r in records] == kept


def test_a_scope_names_its_bounds() -> None:
    assert created_bounds(created_scope(5, 9)) == (5, 9)
    assert created_bounds("") is None
    with pytest.raises(ConfigurationError, match="empty creation bounds"):
        created_scope(9, 5)


@pytest.mark.parametrize("scope", ["group-7", "created:5", "created:a..9", "created:5..-1"])
def test_an_unknown_scope_is_refused(scope: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown scope"):
        normalize("etsy", "order_items", _items(1_000), account=ACCOUNT, scope=scope)
