"""A complete crawl of the Etsy sandbox returns exactly the ground truth, every response
validates against the official spec, and fault runs are reproducible per seed."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.clock import ManualClock
from sandbox.faults import FaultRates, Faults
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.etsy_support import Crawler

CLIENT = "c-tiny"
KEYS = {
    "orders": "receipt_id",
    "order_items": "transaction_id",
    "transactions": "entry_id",
    "payouts": "entry_id",
    "payments": "payment_id",
    "returns": "payment_adjustment_id",
    "inventory": "listing_id",
}


def _world(faults: Faults | None = None) -> World:
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), faults=faults, platforms=("etsy",))
    sandbox = world.platforms["etsy"]
    world.clock.set(sandbox.quiet_time(CLIENT, scenario.now, 6 * 3600))
    return world


def _receipt_views(receipts: list[dict[str, Any]], payments: list[dict[str, Any]]):
    return {
        "orders": receipts,
        "payments": payments,
        "returns": [
            {"receipt_id": p["receipt_id"], **a} for p in payments for a in p["payment_adjustments"]
        ],
    }


async def _crawl(world: World, page: int = 100, validate: bool = True):
    sandbox = world.platforms["etsy"]
    spec = world.scenario.client(CLIENT)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        crawler = Crawler(http, world.clock, sandbox.credentials(CLIENT), validate)
        began = int(world.clock.now())
        receipts = await crawler.pages("/receipts", "receipt_id", page)
        ledger = await crawler.ledger(int(spec.history_start) - 86_400, began, page)
        result = {
            **_receipt_views(receipts, await crawler.payments(receipts, ledger)),
            "order_items": await crawler.pages("/transactions", "transaction_id", page),
            "transactions": ledger,
            "payouts": [e for e in ledger if e["ledger_type"] == "DISBURSE2"],
            "inventory": await crawler.inventory(page // 4),
        }
        # Receipts may change while the crawl runs: a delta by last modification catches them.
        changed = await crawler.pages("/receipts", "receipt_id", page, min_last_modified=began - 60)
        if changed:
            merged = {r["receipt_id"]: r for r in receipts} | {r["receipt_id"]: r for r in changed}
            result["orders"] = list(merged.values())
    return result, crawler


def _by_key(records: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    keyed = {r[key]: r for r in records}
    assert len(keyed) == len(records), "duplicate natural keys"
    return keyed


async def test_naive_crawl_equals_ground_truth_and_validates() -> None:
    world = _world()
    crawled, crawler = await _crawl(world)
    sandbox = world.platforms["etsy"]
    assert set(sandbox.resources) == set(KEYS)
    for resource, key in KEYS.items():
        truth = sandbox.ground_truth(CLIENT, resource)
        assert truth, resource
        assert _by_key(crawled[resource], key) == _by_key(truth, key), resource
    assert sum(crawler.spec_check.checked.values()) == world.accounting.summary("etsy")["calls"]
    assert world.accounting.summary("etsy")["faults_injected"] == 0


def _harsh(seed: int) -> Faults:
    rates = FaultRates(
        server_error=0.05,
        throttle_despite_budget=0.05,
        slow=0.05,
        timeout=0.02,
        short_page=0.1,
        duplicate=0.1,
        token_expiry=0.03,
        updated_during_sync=0.02,
    )
    return Faults("none", seed=seed, per_platform={"etsy": rates})


async def _fault_run(seed: int, validate: bool):
    world = _world(_harsh(seed))
    crawled, crawler = await _crawl(world, page=20, validate=validate)
    accounting = {
        "calls": dict(world.accounting.calls),
        "throttled": dict(world.accounting.throttled),
        "faults": dict(world.accounting.faults),
        "statuses": dict(crawler.statuses),
        "now": world.clock.now(),
        "transcript": crawler.transcript,
    }
    return crawled, accounting, world


async def test_fault_runs_are_reproducible_and_still_complete() -> None:
    first, accounting, world = await _fault_run(seed=5, validate=True)
    second, accounting_again, _ = await _fault_run(seed=5, validate=False)
    assert first == second
    assert accounting == accounting_again
    kinds = {kind for (_, kind) in accounting["faults"]}
    assert {"short_page", "duplicate", "server_error", "throttle_despite_budget"} <= kinds
    assert {"token_expiry", "timeout", "slow", "updated_during_sync"} <= kinds
    sandbox = world.platforms["etsy"]
    for resource, key in KEYS.items():
        assert _by_key(first[resource], key) == _by_key(sandbox.ground_truth(CLIENT, resource), key)
