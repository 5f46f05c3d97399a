"""The world: construction, platform selection, accounting, the top-level routes.

Built with Quiltt alone so it does not depend on the marketplace sandboxes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

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


def _naive_quiet_start(w: World, after: float, quiet_for: float, settle: float) -> float:
    """The search as ``World.quiet_start`` states it, asking each sandbox afresh."""
    start = after
    while True:
        moved = start
        for spec in w.scenario.clients:
            for sandbox in w.platforms.values():
                t = sandbox.quiet_time(spec.client_id, moved - settle, quiet_for + settle)
                moved = max(moved, t + settle)
        if moved == start:
            return start
        start = moved


def test_quiet_start_reads_change_times_once_and_finds_a_common_still_stretch() -> None:
    scenario = load("multi")
    scenario = dataclasses.replace(scenario, clients=scenario.clients[:3])
    w = World(scenario, platforms=("ebay", "etsy"))
    reads: Counter = Counter()
    for name, sandbox in w.platforms.items():
        original = sandbox.change_times

        def counted(client_id: str, _name: str = name, _original=original) -> list[int]:
            reads[(client_id, _name)] += 1
            return _original(client_id)

        sandbox.change_times = counted  # type: ignore[method-assign]
    quiet_for, settle = 3 * 3600.0, 1800.0
    start = w.quiet_start(scenario.now, quiet_for, settle)
    assert reads and set(reads.values()) == {1}  # each (client, platform) read once
    assert len(reads) == 6
    assert start == _naive_quiet_start(w, scenario.now, quiet_for, settle) > scenario.now
    for spec in scenario.clients:  # nothing changes from settle before to quiet_for after
        for name, sandbox in w.platforms.items():
            times = sandbox.change_times(spec.client_id)
            lo, hi = start - settle - 60, start + quiet_for + 60
            assert not [t for t in times if lo <= t <= hi], (spec.client_id, name)
