"""eBay's daily per-application quotas: the pure model on explicit time, then the served
429 errorId 2001 and getRateLimits on a ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.clock import ManualClock
from sandbox.ebay.limits import DailyQuota, Policy, Quotas
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.ebay_support import SpecCheck, basic

DAY = 86_400
SEVEN_UTC = datetime(2026, 11, 1, 7, tzinfo=UTC).timestamp()


def test_window_starts_at_seven_utc_by_default() -> None:
    quota = DailyQuota(3, DAY, Policy().reset_utc_s)
    assert quota.window_start(SEVEN_UTC) == SEVEN_UTC
    assert quota.window_start(SEVEN_UTC - 1) == SEVEN_UTC - DAY
    assert quota.reset_at(SEVEN_UTC - 1) == SEVEN_UTC
    assert quota.reset_at(SEVEN_UTC) == SEVEN_UTC + DAY


def test_quota_exhausts_then_resets_at_the_window_boundary() -> None:
    quota = DailyQuota(3, DAY, 7 * 3600)
    t = SEVEN_UTC + 100
    assert [quota.try_acquire(t) for _ in range(4)] == [True, True, True, False]
    assert quota.count(t) == 3 and quota.remaining(t) == 0
    just_before = SEVEN_UTC + DAY - 0.001
    assert not quota.try_acquire(just_before)
    assert quota.try_acquire(SEVEN_UTC + DAY)
    assert quota.count(SEVEN_UTC + DAY) == 1 and quota.remaining(SEVEN_UTC + DAY) == 2


@given(st.lists(st.floats(min_value=0, max_value=5 * DAY), max_size=200), st.integers(0, 20))
def test_never_more_than_the_limit_in_any_window(offsets: list[float], limit: int) -> None:
    quota = DailyQuota(limit, DAY, 7 * 3600)
    admitted: dict[float, int] = {}
    for t in sorted(SEVEN_UTC + o for o in offsets):
        if quota.try_acquire(t):
            start = quota.window_start(t)
            admitted[start] = admitted.get(start, 0) + 1
    assert all(n <= limit for n in admitted.values())


def test_policy_defaults_and_overrides() -> None:
    policy = Policy()
    assert (policy.fulfillment_per_day, policy.finances_per_day) == (100_000, 15_000)
    assert (policy.inventory_per_day, policy.oauth_refresh_per_day) == (2_000_000, 50_000)
    assert Policy.with_overrides({"finances_per_day": 7}).finances_per_day == 7
    with pytest.raises(ValueError, match="unknown eBay limit"):
        Policy.with_overrides({"finance_per_day": 7})
    quotas = Quotas(Policy.with_overrides({"reset_utc_s": 0}))
    assert quotas.get("app", "finances").reset_at(SEVEN_UTC) == SEVEN_UTC + 17 * 3600


def _world(limits: dict[str, int]) -> World:
    scenario = load("tiny")
    return World(
        scenario,
        clock=ManualClock(SEVEN_UTC - 3600),
        limits={"ebay": limits},
        platforms=("ebay",),
    )


async def _token(http: httpx.AsyncClient, world: World) -> dict[str, str]:
    creds = world.platforms["ebay"].credentials("c-tiny")
    form = {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
    response = await http.post("/ebay/identity/v1/oauth2/token", data=form, headers=basic(creds))
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_application_quota_is_shared_served_as_429_2001_and_resets() -> None:
    world = _world({"finances_per_day": 5})
    clock = world.clock
    check = SpecCheck()
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        auth = await _token(http, world)
        statuses = []
        for _ in range(6):
            response = await http.get("/ebay/sell/finances/v1/payout", headers=auth)
            check(response)
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429]
        assert response.json() == {
            "errors": [
                {
                    "errorId": 2001,
                    "domain": "ACCESS",
                    "category": "REQUEST",
                    "message": "Too many requests.",
                    "longMessage": "The request limit has been reached for the resource.",
                }
            ]
        }
        assert "retry-after" not in response.headers  # eBay documents no limit headers
        limits = await http.get(
            "/ebay/developer/analytics/v1_beta/rate_limit/",
            params={"api_name": "Finances"},
            headers=auth,
        )
        check(limits)
        (group,) = limits.json()["rateLimits"]
        assert (group["apiContext"], group["apiName"]) == ("sell", "Finances")
        (rate,) = group["resources"][0]["rates"]
        assert rate == {
            "count": 5,
            "limit": 5,
            "remaining": 0,
            "reset": "2026-11-01T07:00:00.000Z",
            "timeWindow": DAY,
        }
        # Other APIs keep their own quota.
        assert (
            await http.get("/ebay/sell/inventory/v1/inventory_item", headers=auth)
        ).status_code == 200
        clock.set(SEVEN_UTC - 0.5)
        assert (await http.get("/ebay/sell/finances/v1/payout", headers=auth)).status_code == 429
        clock.set(SEVEN_UTC)
        assert (await http.get("/ebay/sell/finances/v1/payout", headers=auth)).status_code == 200
        after = await http.get("/ebay/developer/analytics/v1_beta/rate_limit/", headers=auth)
        rates = {
            r["name"]: r["rates"][0] for g in after.json()["rateLimits"] for r in g["resources"]
        }
        assert rates["sell.finances"]["count"] == 1
        assert rates["sell.finances"]["reset"] == "2026-11-02T07:00:00.000Z"
        assert rates["developer.analytics"]["count"] == 1
        assert rates["sell.fulfillment"] == {
            "count": 0,
            "limit": 100_000,
            "remaining": 100_000,
            "reset": "2026-11-02T07:00:00.000Z",
            "timeWindow": DAY,
        }
    assert world.accounting.throttled[("ebay", "GET /sell/finances/v1/payout")] == 2


async def test_token_endpoint_has_its_own_daily_quota() -> None:
    world = _world({"oauth_refresh_per_day": 2})
    creds = world.platforms["ebay"].credentials("c-tiny")
    form = {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        statuses = [
            (
                await http.post("/ebay/identity/v1/oauth2/token", data=form, headers=basic(creds))
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        app = {"grant_type": "client_credentials"}
        response = await http.post("/ebay/identity/v1/oauth2/token", data=app, headers=basic(creds))
        assert response.status_code == 200
        assert response.json()["token_type"] == "Application Access Token"


async def test_every_client_of_the_application_draws_on_one_quota() -> None:
    scenario = load("multi")
    world = World(
        scenario,
        clock=ManualClock(SEVEN_UTC - 3600),
        limits={"ebay": {"fulfillment_per_day": 5}},
        platforms=("ebay",),
    )
    sandbox = world.platforms["ebay"]
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        tokens = []
        for client in ("c-00", "c-01"):
            creds = sandbox.credentials(client)
            form = {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
            reply = await http.post(
                "/ebay/identity/v1/oauth2/token", data=form, headers=basic(creds)
            )
            tokens.append({"Authorization": f"Bearer {reply.json()['access_token']}"})
        statuses = []
        for i in range(6):
            params = {"orderIds": "00-00000-00000"}
            reply = await http.get(
                "/ebay/sell/fulfillment/v1/order", params=params, headers=tokens[i % 2]
            )
            statuses.append(reply.status_code)
    assert statuses == [200] * 5 + [429]
