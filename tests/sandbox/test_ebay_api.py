"""eBay API behaviour: OAuth and its refusals, malformed requests answered with the
spec's errorIds, pagination semantics, filters, 204s and unknown routes. Every response is
validated against the official spec (or the hand-written token/analytics shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.ebay.formats import iso, parse_iso
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.ebay_support import SpecCheck, basic

CLIENT = "c-tiny"
TOKEN = "/ebay/identity/v1/oauth2/token"
ORDERS = "/ebay/sell/fulfillment/v1/order"
TXNS = "/ebay/sell/finances/v1/transaction"
PAYOUTS = "/ebay/sell/finances/v1/payout"
ITEMS = "/ebay/sell/inventory/v1/inventory_item"


class Api:
    def __init__(self, http: httpx.AsyncClient, world: World) -> None:
        self.http, self.world = http, world
        self.creds = world.platforms["ebay"].credentials(CLIENT)
        self.check = SpecCheck()
        self.auth: dict[str, str] = {}

    async def token(self, **form: str) -> httpx.Response:
        body = {"grant_type": "refresh_token", "refresh_token": self.creds["refresh_token"], **form}
        response = await self.http.post(TOKEN, data=body, headers=basic(self.creds))
        self.check(response)
        return response

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: Any):
        response = await self.http.get(path, params=params, headers=headers or self.auth)
        self.check(response)
        return response


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), platforms=("ebay",))
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        client = Api(http, world)
        reply = await client.token()
        client.auth = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        yield client


def _error(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["errors"][0]["errorId"]


async def test_refresh_grant_issues_a_two_hour_user_token(api: Api) -> None:
    reply = await api.token(scope="https://api.ebay.com/oauth/api_scope/sell.finances")
    body = reply.json()
    assert (body["expires_in"], body["token_type"]) == (7200, "User Access Token")
    narrow = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await api.get(PAYOUTS, narrow)).status_code == 200
    assert _error(await api.get(ORDERS, narrow)) == (403, 1100)  # scope not granted
    api.world.clock.advance(7199)
    assert (await api.get(PAYOUTS, narrow)).status_code == 200
    api.world.clock.advance(1)
    assert _error(await api.get(PAYOUTS, narrow)) == (401, 1001)


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({}, "bad", 401, "invalid_client"),
        ({}, None, 401, "invalid_client"),
        ({"refresh_token": "v^1.1#nope"}, "ok", 400, "invalid_grant"),
        ({"grant_type": "authorization_code"}, "ok", 400, "unsupported_grant_type"),
        ({"grant_type": ""}, "ok", 400, "invalid_request"),
        (
            {"scope": "https://api.ebay.com/oauth/api_scope/sell.marketing"},
            "ok",
            400,
            "invalid_scope",
        ),
    ],
)
async def test_token_endpoint_refusals(
    api: Api, form: dict[str, str], auth: str | None, status: int, error: str
) -> None:
    body = {"grant_type": "refresh_token", "refresh_token": api.creds["refresh_token"], **form}
    headers = basic(api.creds) if auth == "ok" else {}
    if auth == "bad":
        headers = basic({**api.creds, "client_secret": "PRD-wrong"})
    response = await api.http.post(TOKEN, data=body, headers=headers)
    api.check(response)
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_access_token_refusals(api: Api) -> None:
    assert _error(await api.get(ORDERS, {"x": "y"})) == (401, 1002)
    assert _error(await api.get(ORDERS, {"Authorization": "Bearer v^1.1#forged"})) == (401, 1001)
    app = await api.http.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(api.creds)
    )
    app_auth = {"Authorization": f"Bearer {app.json()['access_token']}"}
    assert _error(await api.get(TXNS, app_auth)) == (403, 1100)
    limits = await api.get("/ebay/developer/analytics/v1_beta/rate_limit/", app_auth)
    assert limits.status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "error_id"),
    [
        (ORDERS, {"limit": "201"}, 31100),
        (ORDERS, {"limit": "0"}, 31100),
        (ORDERS, {"limit": "ten"}, 31100),
        (ORDERS, {"offset": "-1"}, 31000),
        (ORDERS, {"filter": "creationdate:[2026-13-01T00:00:00.000Z..]"}, 30810),
        (ORDERS, {"filter": "creationdate:[..2026-10-01T00:00:00.000Z]"}, 30820),
        (
            ORDERS,
            {"filter": "creationdate:[2026-10-02T00:00:00.000Z..2026-10-01T00:00:00.000Z]"},
            30840,
        ),
        (ORDERS, {"filter": "creationdate:[2027-01-01T00:00:00.000Z..]"}, 30850),
        (ORDERS, {"filter": "createddate:[2026-10-01T00:00:00.000Z..]"}, 30700),
        (ORDERS, {"filter": "orderfulfillmentstatus:{FULFILLED}"}, 30800),
        (ORDERS, {"orderIds": ",".join(f"01-00000-{i:05d}" for i in range(51))}, 30900),
        (ORDERS, {"fieldGroups": "EVERYTHING"}, 32800),
        (TXNS, {"limit": "1001"}, 135003),
        (TXNS, {"filter": "transactionDate:[yesterday..]"}, 135008),
        (TXNS, {"filter": "transactionType:{PURCHASE}"}, 135006),
        (TXNS, {"filter": "transactionStatus:{LOST}"}, 135007),
        (TXNS, {"filter": "transactionId:{01-23456-78901}"}, 135009),
        (PAYOUTS, {"limit": "201"}, 135003),
        (PAYOUTS, {"filter": "payoutStatus:{PAID}"}, 135002),
        (PAYOUTS, {"filter": "payoutDate:[2026-10-01..]"}, 135004),
        (PAYOUTS, {"sort": "amount"}, 135005),
        (ITEMS, {"limit": "101"}, 25706),
        (ITEMS, {"offset": "-2"}, 25706),
    ],
)
async def test_malformed_requests_get_the_specs_error_ids(
    api: Api, path: str, params: dict[str, str], error_id: int
) -> None:
    response = await api.get(path, **params)
    assert _error(response) == (400, error_id)


async def test_unknown_routes_and_ids(api: Api) -> None:
    assert _error(await api.get("/ebay/sell/fulfillment/v2/order")) == (404, 2002)
    assert (await api.http.post(ORDERS, headers=api.auth)).status_code == 405
    assert _error(await api.get(ORDERS + "/00-00000-00000")) == (404, 32100)
    assert _error(await api.get(PAYOUTS + "/0")) == (404, 135001)
    assert _error(await api.get(ITEMS + "/NO-SUCH-SKU")) == (404, 25702)


async def test_get_orders_newest_first_with_links(api: Api) -> None:
    now = api.world.clock.now()
    window = f"creationdate:[{iso(now - 30 * 86_400)}..]"
    first = (await api.get(ORDERS, filter=window, limit="7")).json()
    created = [parse_iso(o["creationDate"]) for o in first["orders"]]
    assert created == sorted(created, reverse=True) and len(created) == 7
    assert first["offset"] == 0 and "prev" not in first and first["total"] > 7
    second = (await api.http.get(first["next"], headers=api.auth)).json()
    assert second["offset"] == 7 and "prev" in second
    assert not {o["orderId"] for o in first["orders"]} & {o["orderId"] for o in second["orders"]}
    one = first["orders"][3]
    by_id = (await api.get(ORDERS, orderIds=one["orderId"])).json()
    assert by_id["total"] == 1 and by_id["orders"] == [one]
    assert (await api.get(f"{ORDERS}/{one['orderId']}")).json() == one


async def test_no_filter_means_last_90_days_and_modified_filter(api: Api) -> None:
    sandbox, now = api.world.platforms["ebay"], api.world.clock.now()
    truth = sandbox.ground_truth(CLIENT, "orders")
    recent = [o for o in truth if parse_iso(o["creationDate"]) >= now - 90 * 86_400]
    assert (await api.get(ORDERS, limit="1")).json()["total"] == len(recent)
    since = now - 5 * 86_400
    modified = [o for o in truth if parse_iso(o["lastModifiedDate"]) >= since]
    body = (await api.get(ORDERS, filter=f"lastmodifieddate:[{iso(since)}..]", limit="200")).json()
    assert {o["orderId"] for o in body["orders"]} == {o["orderId"] for o in modified}
    both = f"creationdate:[{iso(since)}..],lastmodifieddate:[{iso(now - 86_400 * 50)}..]"
    created = [o for o in truth if parse_iso(o["creationDate"]) >= since]
    assert (await api.get(ORDERS, filter=both, limit="1")).json()["total"] == len(created)


async def test_transactions_are_newest_first_and_204_when_nothing_matches(api: Api) -> None:
    body = (await api.get(TXNS, limit="1000")).json()
    dates = [parse_iso(t["transactionDate"]) for t in body["transactions"]]
    assert dates == sorted(dates, reverse=True)
    empty = await api.get(
        TXNS, filter="transactionDate:[2020-01-01T00:00:00.000Z..2020-02-01T00:00:00.000Z]"
    )
    assert empty.status_code == 204 and empty.content == b""
    sale = next(t for t in body["transactions"] if t["transactionType"] == "SALE")
    by_order = (await api.get(TXNS, filter=f"orderId:{{{sale['orderId']}}}", limit="1")).json()
    assert sale in by_order["transactions"]
    both = [f"transactionId:{{{sale['transactionId']}}}", "transactionType:{SALE}"]
    response = await api.http.get(TXNS, params=[("filter", f) for f in both], headers=api.auth)
    api.check(response)
    assert response.json()["transactions"] == [sale]


async def test_payouts_ascending_unless_sorted_and_exact_sums(api: Api) -> None:
    sandbox = api.world.platforms["ebay"]
    body = (await api.get(PAYOUTS, limit="200")).json()
    dates = [p["payoutDate"] for p in body["payouts"]]
    assert dates == sorted(dates)
    newest = (await api.get(PAYOUTS, limit="200", sort="payoutDate")).json()["payouts"]
    assert newest == body["payouts"][::-1]
    payout = body["payouts"][0]
    txns = (await api.get(TXNS, filter=f"payoutId:{{{payout['payoutId']}}}")).json()
    assert len(txns["transactions"]) == payout["transactionCount"]
    from decimal import Decimal

    signed = sum(
        Decimal(t["amount"]["value"]) * (1 if t["bookingEntry"] == "CREDIT" else -1)
        for t in txns["transactions"]
    )
    assert signed == Decimal(payout["amount"]["value"])
    fact = {f.payout_id: f for f in sandbox.payouts(CLIENT)}[payout["payoutId"]]
    assert fact.amount == signed and iso(fact.paid_at) == payout["payoutDate"]


async def test_inventory_offset_is_a_page_number(api: Api) -> None:
    first = (await api.get(ITEMS, limit="5")).json()
    second = (await api.get(ITEMS, limit="5", offset="1")).json()
    assert first["size"] == -(-first["total"] // 5)
    skus = [i["sku"] for i in first["inventoryItems"] + second["inventoryItems"]]
    everything = [i["sku"] for i in (await api.get(ITEMS)).json()["inventoryItems"]]
    assert skus == everything[:10]
    assert first["next"].endswith("offset=1") and second["prev"].endswith("offset=0")
