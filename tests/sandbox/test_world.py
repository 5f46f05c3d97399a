"""The world: construction, platform selection, accounting, the top-level routes.

Built with Quiltt alone so it does not depend on the marketplace sandboxes.
"""

from __future__ import annotations

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.faults import FaultRates, Faults
from sandbox.scenario import load
from sandbox.world import World


def test_construction_defaults() -> None:
    scenario = load("tiny")
    w = World(scenario, platforms=("quiltt",))
    assert list(w.platforms) == ["quiltt"]
    assert isinstance(w.clock, ManualClock) and w.clock.now() == scenario.now
    assert w.faults.seed == scenario.seed and w.faults.rate("quiltt", "server_error") == 0
    assert w.limits("quiltt") == {} and w.payouts("c-tiny") == []
    creds = w.credentials()
    assert list(creds) == ["c-tiny"] and list(creds["c-tiny"]) == ["quiltt"]
    assert set(creds["c-tiny"]["quiltt"]) == {"profile_id", "api_secret_key"}


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown platforms"):
        World(load("tiny"), platforms=("quiltt", "myspace"))


def test_limits_overrides_are_per_platform() -> None:
    w = World(load("tiny"), platforms=("quiltt",), limits={"quiltt": {"session_rps": 7}})
    assert w.limits("quiltt") == {"session_rps": 7} and w.limits("amazon") == {}
    assert w.platforms["quiltt"].limits.session_rps == 7


async def test_accounting_summary_counts_calls_429s_and_faults() -> None:
    faults = Faults("none", seed=1, per_platform={"quiltt": FaultRates(slow=1.0)})
    w = World(
        load("tiny"),
        platforms=("quiltt",),
        faults=faults,
        limits={"quiltt": {"sessions_per_hour": 1}},
    )
    creds = w.platforms["quiltt"].credentials("c-tiny")
    secret = {"Authorization": f"Bearer {creds['api_secret_key']}"}
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        for expected in (201, 429):
            issued = await http.post(
                "/quiltt/v1/users/sessions", headers=secret, json={"userId": creds["profile_id"]}
            )
            assert issued.status_code == expected
        await http.get("/quiltt/v1/nothing")
    assert w.accounting.summary() == {"calls": 3, "http_429": 1, "faults_injected": 2}
    assert w.accounting.summary("quiltt") == w.accounting.summary()
    assert w.accounting.summary("amazon") == {"calls": 0, "http_429": 0, "faults_injected": 0}
    assert w.accounting.calls[("quiltt", "POST /v1/users/sessions")] == 2
    assert w.accounting.calls[("quiltt", "unknown")] == 1
    assert w.accounting.faults[("quiltt", "slow")] == 2


async def test_top_level_routes_health_and_json_404() -> None:
    w = World(load("tiny"), platforms=("quiltt",))
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        for path in ("/", "/health"):
            health = await http.get(path)
            assert health.status_code == 200
            body = health.json()
            assert body["scenario"] == "tiny" and body["platforms"] == {"quiltt": "/quiltt"}
            assert body["clients"] == ["c-tiny"]
        missing = await http.get("/amazon/orders/v0/orders")  # not built in this world
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/json"
        assert missing.json()["error"] == "not_found"
        assert (await http.get("/no/such/thing")).status_code == 404
        wrong = await http.post("/health")
        assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert w.accounting.summary()["calls"] == 0  # the world's own routes are not platform calls


def test_a_truth_snapshot_reads_each_truth_once_at_one_instant() -> None:
    w = World(load("tiny"), platforms=("quiltt",))
    fresh = w.ground_truth("c-tiny", "quiltt", "bank_transactions")
    assert w.ground_truth("c-tiny", "quiltt", "bank_transactions") is not fresh
    with w.truth_snapshot():
        first = w.ground_truth("c-tiny", "quiltt", "bank_transactions")
        assert first == fresh and first is not fresh
        assert w.ground_truth("c-tiny", "quiltt", "bank_transactions") is first
    assert w.ground_truth("c-tiny", "quiltt", "bank_transactions") is not first
    with pytest.raises(RuntimeError, match="clock moved"), w.truth_snapshot():
        w.clock.advance(60)
