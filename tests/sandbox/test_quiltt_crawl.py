"""Crawling Quiltt through the world's transport: complete, exact, reproducible under faults.

Quiltt publishes no machine-readable schema in ../shared/specs; every response here is
checked against the GraphQL schema the sandbox serves (graphql-core validates each query
and its result types) and against Quiltt's documented error shape.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.faults import PROFILES, Faults
from sandbox.platform import PayoutFact
from sandbox.scenario import DAY, load
from sandbox.world import World
from tests.sandbox.quiltt_support import QuilttCrawler, by_id


async def crawl(w: World, client_id: str) -> tuple[QuilttCrawler, dict[str, Any]]:
    creds = w.platforms["quiltt"].credentials(client_id)
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        q = QuilttCrawler.on(http, creds, w.clock)
        records = {"bank_transactions": await q.transactions(), "accounts": await q.accounts()}
    for response in q.responses:
        assert response.headers["Ratelimit-Limit"] in ("25", "100")
        if response.status_code >= 400:
            assert {"message", "instruction"} <= set(response.json())
    return q, records


async def test_naive_crawl_equals_ground_truth_for_every_resource() -> None:
    w = World(load("tiny"), clock=ManualClock(load("tiny").now), platforms=("quiltt",))
    q, records = await crawl(w, "c-tiny")
    quiltt = w.platforms["quiltt"]
    for resource in quiltt.resources:
        assert by_id(records[resource]) == by_id(w.ground_truth("c-tiny", "quiltt", resource))
    assert set(q.statuses) == {200, 201}
    assert w.accounting.summary("quiltt") == {
        "calls": len(q.statuses),
        "http_429": 0,
        "faults_injected": 0,
    }


@pytest.mark.parametrize(
    "profile",
    ["default", "harsh", PROFILES["default"].scaled(20)],
    ids=["default", "harsh", "brutal"],
)
async def test_fault_runs_are_identical_for_the_same_seed_and_still_complete(profile) -> None:
    runs = []
    for _ in range(2):
        scenario = load("tiny")
        w = World(
            scenario,
            clock=ManualClock(scenario.now),
            faults=Faults(profile, seed=99),
            platforms=("quiltt",),
            limits={"quiltt": {"page_cap": 10}},
        )
        q, records = await crawl(w, "c-tiny")
        truth = {r: w.ground_truth("c-tiny", "quiltt", r) for r in w.platforms["quiltt"].resources}
        runs.append(
            (
                q.statuses,
                records,
                dict(w.accounting.calls),
                dict(w.accounting.throttled),
                dict(w.accounting.faults),
                w.clock.now(),
                truth,
            )
        )
    assert runs[0] == runs[1]
    statuses, records, _calls, _throttled, faults, _now, truth = runs[0]
    if not isinstance(profile, str):
        kinds = {kind for _platform, kind in faults}
        assert {"server_error", "throttle_despite_budget", "short_page", "duplicate"} <= kinds
        assert {429, 500} <= set(statuses)
    # records can change status while a slow crawl runs: compare to the truth at the end
    for resource, rows in truth.items():
        assert by_id(records[resource]).keys() == by_id(rows).keys()


async def test_a_later_sync_sees_the_new_activity() -> None:
    scenario = load("tiny")
    clock = ManualClock(scenario.now)
    w = World(scenario, clock=clock, platforms=("quiltt",))
    _q, first = await crawl(w, "c-tiny")
    clock.advance(3 * DAY)
    _q, second = await crawl(w, "c-tiny")
    old, new = by_id(first["bank_transactions"]), by_id(second["bank_transactions"])
    assert set(old) < set(new)
    assert new == by_id(w.ground_truth("c-tiny", "quiltt", "bank_transactions"))
    assert any(old[i]["status"] == "PENDING" and new[i]["status"] == "POSTED" for i in old)


async def test_a_token_reads_only_its_own_profile() -> None:
    scenario = load("multi")
    w = World(scenario, clock=ManualClock(scenario.now), platforms=("quiltt",))
    _q, records = await crawl(w, "c-03")
    truth = w.ground_truth("c-03", "quiltt", "bank_transactions")
    assert by_id(records["bank_transactions"]) == by_id(truth)
    other = {t["id"] for t in w.ground_truth("c-04", "quiltt", "bank_transactions")}
    assert not other & {t["id"] for t in truth}


async def test_deposits_matching_payouts_are_crawled_like_any_transaction() -> None:
    class PayoutWorld(World):
        def payouts(self, client_id: str) -> list[PayoutFact]:
            spec = self.scenario.client(client_id)
            return [
                PayoutFact(
                    client_id,
                    "etsy",
                    f"po-{i}",
                    spec.history_start + i * 7 * DAY,
                    Decimal("123.45") + i,
                    "USD",
                )
                for i in range(8)
            ]

    scenario = load("tiny")
    w = PayoutWorld(scenario, clock=ManualClock(scenario.now), platforms=("quiltt",))
    _q, records = await crawl(w, "c-tiny")
    rows = w.platforms["quiltt"].reconciliation("c-tiny")
    crawled = by_id(records["bank_transactions"])
    for row in rows:
        for deposit_id in row["deposit_ids"]:
            assert crawled[deposit_id]["description"] == "ETSY INC DEPOSIT"
    assert sum(len(r["deposit_ids"]) for r in rows) >= 7
