"""Etsy's per-application QPS and sliding-24-hour QPD: the pure model on explicit time,
then the served 429s and headers on a clock that only moves when told to."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.clock import ManualClock
from sandbox.etsy.limits import AppLimiter, Policy
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.etsy_support import SpecCheck

T0 = 1_790_000_000.0
DAY = 86_400


def test_ten_in_one_second_then_refused_until_the_next_second() -> None:
    limiter = AppLimiter(Policy())
    decisions = [limiter.acquire(T0 + 0.01 * i) for i in range(11)]
    assert [d.admitted for d in decisions] == [True] * 10 + [False]
    refused = decisions[-1]
    assert (refused.reason, refused.retry_after) == ("second", 1)
    assert refused.headers["x-remaining-this-second"] == "0"
    assert refused.headers["x-remaining-today"] == str(10_000 - 10)
    assert limiter.acquire(T0 + 0.999).admitted is False
    assert limiter.acquire(T0 + 1.0).admitted is True


def test_daily_window_slides_exactly_24_hours() -> None:
    limiter = AppLimiter(Policy.with_overrides({"qpd": 5, "qps": 100}))
    for k in range(3):
        assert limiter.acquire(T0 + k).admitted  # t0, t0+1, t0+2
    for _ in range(2):
        assert limiter.acquire(T0 + 3600).admitted
    refused = limiter.acquire(T0 + 7200)
    assert (refused.admitted, refused.reason) == (False, "day")
    assert refused.retry_after == DAY - 7200
    assert refused.headers["x-remaining-today"] == "0"
    assert not limiter.acquire(T0 + DAY - 0.001).admitted
    assert limiter.acquire(T0 + DAY).admitted  # the call at t0 has left the window
    assert not limiter.acquire(T0 + DAY + 0.5).admitted
    assert limiter.acquire(T0 + DAY + 1).admitted
    assert limiter.remaining_day(T0 + DAY + 3600) == 3  # t0+2 and both t0+3600 calls left


def test_qps_is_checked_before_qpd() -> None:
    limiter = AppLimiter(Policy.with_overrides({"qpd": 2, "qps": 2}))
    assert limiter.acquire(T0).admitted and limiter.acquire(T0).admitted
    assert limiter.acquire(T0).reason == "second"
    assert limiter.acquire(T0 + 1).reason == "day"


@given(st.lists(st.floats(min_value=0, max_value=3 * DAY), max_size=300), st.integers(1, 12))
def test_never_more_than_the_limits_in_any_window(offsets: list[float], qps: int) -> None:
    limiter = AppLimiter(Policy.with_overrides({"qps": qps, "qpd": 40}))
    admitted = [t for t in sorted(T0 + o for o in offsets) if limiter.acquire(t).admitted]
    for t in admitted:
        assert sum(1 for u in admitted if int(u) == int(t)) <= qps
        assert sum(1 for u in admitted if t - DAY < u <= t) <= 40


def test_policy_overrides() -> None:
    assert (Policy().qps, Policy().qpd) == (10, 10_000)
    with pytest.raises(ValueError, match="unknown Etsy limit"):
        Policy.with_overrides({"qpm": 3})


class FrozenClock(ManualClock):
    """Time stands still unless the test moves it: simulated latency costs nothing."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def _world(limits: dict[str, int] | None = None) -> tuple[World, FrozenClock]:
    clock = FrozenClock(T0)
    world = World(load("tiny"), clock=clock, limits={"etsy": limits or {}}, platforms=("etsy",))
    return world, clock


async def _auth(http: httpx.AsyncClient, world: World) -> dict[str, str]:
    creds = world.platforms["etsy"].credentials("c-tiny")
    form = {
        "grant_type": "refresh_token",
        "client_id": creds["keystring"],
        "refresh_token": creds["refresh_token"],
    }
    token = (await http.post("/etsy/v3/public/oauth/token", data=form)).json()["access_token"]
    return {
        "x-api-key": f"{creds['keystring']}:{creds['shared_secret']}",
        "Authorization": f"Bearer {token}",
    }


async def test_served_qps_429_with_headers_and_retry_after() -> None:
    world, clock = _world()
    check = SpecCheck()
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        headers = await _auth(http, world)
        shop = world.platforms["etsy"].credentials("c-tiny")["shop_id"]
        url = f"/etsy/v3/application/shops/{shop}/receipts"
        replies = [await http.get(url, headers=headers) for _ in range(11)]
        for reply in replies:
            check(reply)
        assert [r.status_code for r in replies] == [200] * 10 + [429]
        assert [r.headers["x-remaining-this-second"] for r in replies[:10]] == [
            str(9 - i) for i in range(10)
        ]
        refused = replies[-1]
        assert refused.json() == {"error": "Exceeded per second rate limit"}
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["x-limit-per-second"] == "10"
        assert refused.headers["x-limit-per-day"] == "10000"
        assert refused.headers["x-remaining-today"] == "9990"
        clock.advance(1)
        assert (await http.get(url, headers=headers)).status_code == 200
    assert world.accounting.throttled[("etsy", "GET /v3/application/shops/{shop_id}/receipts")] == 1


async def test_served_qpd_exhaustion_and_recovery_a_day_later() -> None:
    world, clock = _world({"qpd": 3})
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        headers = await _auth(http, world)
        ping = "/etsy/v3/application/openapi-ping"
        statuses = []
        for _ in range(4):
            statuses.append((await http.get(ping, headers=headers)).status_code)
            clock.advance(10)
        assert statuses == [200, 200, 200, 429]
        refused = await http.get(ping, headers=headers)
        assert refused.json() == {"error": "Exceeded daily rate limit"}
        assert refused.headers["x-remaining-today"] == "0"
        assert int(refused.headers["retry-after"]) == DAY - 40
        clock.set(T0 + DAY)
        assert (await http.get(ping, headers=headers)).status_code == 200
