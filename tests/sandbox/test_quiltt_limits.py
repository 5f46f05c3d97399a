"""Quiltt limits: requests per second by scope, session issuance 10/h and 20/day, 24 h expiry.

Pure models first (times stated explicitly), then the same limits through the app on a
clock that moves only when the test says so.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.clock import ManualClock
from sandbox.faults import FaultRates, Faults
from sandbox.quiltt.limits import DAY, HOUR, IssuanceQuota, QuilttLimits, RequestWindows
from sandbox.scenario import load
from sandbox.world import World

T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z, a whole second


class StillClock(ManualClock):
    """A manual clock on which simulated latency takes no time (to fire a burst at one
    instant); it moves only through ``advance``."""

    async def sleep(self, seconds: float) -> None:
        return None


def world(clock: ManualClock, **kwargs) -> World:
    return World(load("tiny"), clock=clock, platforms=("quiltt",), **kwargs)


def creds(w: World) -> dict[str, str]:
    return w.platforms["quiltt"].credentials("c-tiny")


async def issue(http: httpx.AsyncClient, c: dict[str, str]) -> httpx.Response:
    return await http.post(
        "/quiltt/v1/users/sessions",
        headers={"Authorization": f"Bearer {c['api_secret_key']}"},
        json={"userId": c["profile_id"]},
    )


# --- pure models -------------------------------------------------------------------------


def test_window_serves_the_limit_then_refuses_until_the_next_second() -> None:
    windows = RequestWindows(100)
    decisions = [windows.take("p", T0 + 0.5) for _ in range(101)]
    assert all(d.allowed for d in decisions[:100])
    assert not decisions[100].allowed
    assert [d.remaining for d in decisions[:3]] == [99, 98, 97]
    assert decisions[99].remaining == 0 and decisions[100].remaining == 0
    assert decisions[100].headers() == {
        "Ratelimit-Limit": "100",
        "Ratelimit-Remaining": "0",
        "Ratelimit-Reset": str(int(T0) + 1),
    }
    assert windows.take("p", T0 + 1.0).allowed  # a new window
    assert windows.take("other-key", T0 + 0.5).allowed  # keys do not share a window


@given(st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), max_size=300))
def test_window_never_grants_beyond_the_limit(offsets: list[float]) -> None:
    windows = RequestWindows(25)
    granted: dict[int, int] = {}
    for offset in sorted(offsets):
        decision = windows.take("k", T0 + offset)
        if decision.allowed:
            second = int(T0 + offset)
            granted[second] = granted.get(second, 0) + 1
            assert decision.reset == second + 1
    assert all(n <= 25 for n in granted.values())


@pytest.mark.parametrize(
    ("issued", "now", "frees"),
    [
        ([], T0, None),
        ([T0 + i for i in range(9)], T0 + 100, None),
        ([T0 + i for i in range(10)], T0 + 100, T0 + HOUR),  # 11th in the hour
        ([T0 + i for i in range(10)], T0 + HOUR, None),  # the first left the hour
        (
            [T0 + i * 2 * HOUR for i in range(10)] + [T0 + 20 * HOUR + i for i in range(10)],
            T0 + 20 * HOUR + 30,
            T0 + DAY,
        ),  # hour full (frees at +21 h) and day full (frees at +24 h): the later wins
        (
            [T0 + i * 3 * HOUR for i in range(5)] + [T0 + 20 * HOUR + i for i in range(10)],
            T0 + 20 * HOUR + 30,
            T0 + 21 * HOUR,
        ),  # only the hour is full
        ([T0 + i * 1000 for i in range(20)], T0 + 23 * HOUR, T0 + DAY),  # 21st in the day
    ],
)
def test_issuance_quota(issued: list[float], now: float, frees: float | None) -> None:
    got = IssuanceQuota(10, 20).frees_at(issued, now)
    if frees is None:
        assert got is None
    else:
        assert got == frees


def test_overrides_pick_known_fields_only() -> None:
    limits = QuilttLimits.with_overrides({"session_rps": 5, "mismatch_share": 0.5})
    assert limits.session_rps == 5 and limits.other_rps == 25


# --- through the app ---------------------------------------------------------------------


async def test_session_issuance_10_per_hour_20_per_day() -> None:
    clock = ManualClock(T0)
    w = world(clock)
    c = creds(w)
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        statuses = [(await issue(http, c)).status_code for _ in range(11)]
        assert statuses == [201] * 10 + [429]
        refused = await issue(http, c)
        assert refused.status_code == 429
        assert refused.json()["message"] == "Too Many Requests"
        assert "instruction" in refused.json()
        clock.advance(HOUR)
        statuses = [(await issue(http, c)).status_code for _ in range(11)]
        assert statuses == [201] * 10 + [429]  # 20 today
        clock.advance(HOUR)
        assert (await issue(http, c)).status_code == 429  # the day is full
        clock.advance(DAY - 2 * HOUR)
        assert (await issue(http, c)).status_code == 201
    assert w.accounting.throttled[("quiltt", "POST /v1/users/sessions")] == 4


async def test_revoking_a_token_frees_issuance_quota() -> None:
    clock = ManualClock(T0)
    w = world(clock)
    c = creds(w)
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        tokens = [(await issue(http, c)).json()["token"] for _ in range(10)]
        assert (await issue(http, c)).status_code == 429
        gone = await http.delete(
            "/quiltt/v1/users/session", headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        assert gone.status_code == 204
        assert (await issue(http, c)).status_code == 201
        check = await http.get(
            "/quiltt/v1/users/session", headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        assert check.status_code == 401
        assert check.json() == {
            "message": "Not Authenticated",
            "instruction": "Does your `Authorization` header contain a valid, unexpired "
            "session token?",
        }


async def test_session_token_expires_after_24_hours() -> None:
    clock = ManualClock(T0)
    w = world(clock)
    c = creds(w)
    query = {"query": "{ profile { id } }"}
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        session = (await issue(http, c)).json()
        assert session["expiration"] == int(T0) + 86_400
        assert session["expiresAt"] == "2026-11-02T00:00:00Z"
        bearer = {"Authorization": f"Bearer {session['token']}"}
        ok = await http.post("/quiltt/v1/graphql", headers=bearer, json=query)
        assert ok.status_code == 200 and ok.json()["data"]["profile"]["id"] == c["profile_id"]
        clock.set(T0 + DAY - 5)
        assert (await http.get("/quiltt/v1/users/session", headers=bearer)).status_code == 200
        clock.set(T0 + DAY)
        expired = await http.post("/quiltt/v1/graphql", headers=bearer, json=query)
        assert expired.status_code == 401
        assert expired.json()["message"] == "Not Authenticated"


async def test_token_expiry_fault_kills_a_token_early() -> None:
    clock = ManualClock(T0)
    faults = Faults(FaultRates(token_expiry=1.0), seed=3)
    w = world(clock, faults=faults)
    c = creds(w)
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        session = (await issue(http, c)).json()
        assert session["expiration"] == int(T0) + 86_400  # the token still claims 24 h
        bearer = {"Authorization": f"Bearer {session['token']}"}
        clock.advance(HOUR - 60)
        assert (await http.get("/quiltt/v1/users/session", headers=bearer)).status_code == 200
        clock.advance(23 * HOUR)
        assert (await http.get("/quiltt/v1/users/session", headers=bearer)).status_code == 401
    assert w.accounting.faults[("quiltt", "token_expiry")] == 1


async def test_per_second_limit_and_headers_with_a_session_token() -> None:
    clock = StillClock(T0 + 0.25)
    w = world(clock)
    c = creds(w)
    query = {"query": "{ profile { id } }"}
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        token = (await issue(http, c)).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        answers = [
            await http.post("/quiltt/v1/graphql", headers=bearer, json=query) for _ in range(101)
        ]
        assert [a.status_code for a in answers] == [200] * 100 + [429]
        first, last = answers[0].headers, answers[-1]
        assert first["Ratelimit-Limit"] == "100"
        assert first["Ratelimit-Remaining"] == "99"
        assert first["Ratelimit-Reset"] == str(int(T0) + 1)
        assert last.headers["Ratelimit-Remaining"] == "0"
        assert last.json() == {
            "message": "Too Many Requests",
            "instruction": last.json()["instruction"],
        }
        clock.set(float(last.headers["Ratelimit-Reset"]))
        again = await http.post("/quiltt/v1/graphql", headers=bearer, json=query)
        assert again.status_code == 200 and again.headers["Ratelimit-Remaining"] == "99"
    assert w.accounting.throttled[("quiltt", "POST /v1/graphql")] == 1


async def test_other_requests_get_25_per_second() -> None:
    import base64

    clock = StillClock(T0)
    w = world(clock)
    c = creds(w)
    basic = base64.b64encode(f"{c['profile_id']}:{c['api_secret_key']}".encode()).decode()
    query = {"query": "{ profile { id } }"}
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        answers = [
            await http.post(
                "/quiltt/v1/graphql", json=query, headers={"Authorization": f"Basic {basic}"}
            )
            for _ in range(26)
        ]
        assert [a.status_code for a in answers] == [200] * 25 + [429]
        assert answers[0].headers["Ratelimit-Limit"] == "25"
        anonymous = await http.post("/quiltt/v1/graphql", json=query)
        assert anonymous.status_code == 401
        assert anonymous.headers["Ratelimit-Limit"] == "25"


async def test_limits_are_overridable() -> None:
    clock = StillClock(T0)
    w = world(clock, limits={"quiltt": {"sessions_per_hour": 2, "session_ttl": 60.0}})
    c = creds(w)
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        assert [(await issue(http, c)).status_code for _ in range(3)] == [201, 201, 429]
        clock.advance(HOUR)
        session = (await issue(http, c)).json()
        assert session["expiration"] == int(T0 + HOUR) + 60
