"""Etsy API behaviour: API key and OAuth refusals, malformed requests, filters, ordering,
the ledger's 31-day window and payouts. Every response is validated against the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.etsy_support import SpecCheck

CLIENT = "c-tiny"
TOKEN = "/etsy/v3/public/oauth/token"
APP = "/etsy/v3/application"


class Api:
    def __init__(self, http: httpx.AsyncClient, world: World) -> None:
        self.http, self.world = http, world
        self.creds = world.platforms["etsy"].credentials(CLIENT)
        self.shop = f"{APP}/shops/{self.creds['shop_id']}"
        self.check = SpecCheck()
        self.headers: dict[str, str] = {}

    async def token(self, **form: str) -> httpx.Response:
        body = {
            "grant_type": "refresh_token",
            "client_id": self.creds["keystring"],
            "refresh_token": self.creds["refresh_token"],
            **form,
        }
        response = await self.http.post(TOKEN, data=body)
        self.check(response)
        return response

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: Any):
        response = await self.http.get(path, params=params, headers=headers or self.headers)
        self.check(response)
        return response


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    scenario = load("tiny")
    world = World(scenario, clock=ManualClock(scenario.now), platforms=("etsy",))
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        client = Api(http, world)
        token = (await client.token()).json()["access_token"]
        client.headers = {
            "x-api-key": f"{client.creds['keystring']}:{client.creds['shared_secret']}",
            "Authorization": f"Bearer {token}",
        }
        yield client


def _status_error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


async def test_refresh_grant_tokens_carry_the_user_id_and_rotate(api: Api) -> None:
    body = (await api.token()).json()
    user = api.creds["user_id"]
    assert body["access_token"].startswith(f"{user}.") and body["expires_in"] == 3600
    again = (await api.token(refresh_token=body["refresh_token"])).json()
    assert again["refresh_token"] != body["refresh_token"]
    assert (await api.token()).status_code == 200  # the first refresh token still works


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"refresh_token": "12345678.nope"}, "invalid_grant"),
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"client_id": ""}, "invalid_request"),
    ],
)
async def test_token_endpoint_refusals(api: Api, form: dict[str, str], error: str) -> None:
    response = await api.token(**form)
    assert (response.status_code, response.json()["error"]) == (400, error)


async def test_api_key_must_carry_the_shared_secret(api: Api) -> None:
    bearer = {"Authorization": api.headers["Authorization"]}
    keystring = api.creds["keystring"]
    cases = [
        ({}, "Missing x-api-key header."),
        ({"x-api-key": keystring}, "Shared secret is required in x-api-key header."),
        ({"x-api-key": f"{keystring}:wrong"}, "Invalid API key"),
        ({"x-api-key": f"someone:{api.creds['shared_secret']}"}, "Invalid API key"),
    ]
    for extra, message in cases:
        response = await api.get(f"{api.shop}/receipts", {**bearer, **extra})
        assert _status_error(response) == (403, message)


async def test_bearer_token_refusals(api: Api) -> None:
    key = {"x-api-key": api.headers["x-api-key"]}
    assert (await api.get(f"{api.shop}/receipts", key)).status_code == 401
    forged = {**key, "Authorization": f"Bearer {api.creds['user_id']}.forged"}
    assert (await api.get(f"{api.shop}/receipts", forged)).status_code == 401
    assert (await api.get(f"{APP}/shops/12345/receipts")).status_code == 404
    assert (await api.get(f"{APP}/openapi-ping", key)).status_code == 200  # public
    api.world.clock.advance(3600)
    expired = await api.get(f"{api.shop}/receipts")
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "invalid_token",
        "error_description": "access token is expired",
    }


async def test_another_users_shop_is_forbidden() -> None:
    scenario = load("multi")
    world = World(scenario, clock=ManualClock(scenario.now), platforms=("etsy",))
    sandbox = world.platforms["etsy"]
    mine, theirs = sandbox.credentials("c-00"), sandbox.credentials("c-01")
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        form = {
            "grant_type": "refresh_token",
            "client_id": mine["keystring"],
            "refresh_token": mine["refresh_token"],
        }
        token = (await http.post(TOKEN, data=form)).json()["access_token"]
        headers = {
            "x-api-key": f"{mine['keystring']}:{mine['shared_secret']}",
            "Authorization": f"Bearer {token}",
        }
        response = await http.get(f"{APP}/shops/{theirs['shop_id']}/receipts", headers=headers)
        SpecCheck()(response)
        assert response.status_code == 403
        own = await http.get(f"{APP}/shops/{mine['shop_id']}/receipts", headers=headers)
        assert own.status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/receipts", {"limit": "101"}, "limit must be between 1 and 100"),
        ("/receipts", {"limit": "0"}, "limit must be between 1 and 100"),
        ("/receipts", {"offset": "-1"}, "offset must be at least 0"),
        ("/receipts", {"min_created": "12"}, "min_created must be at least 946684800"),
        ("/receipts", {"was_shipped": "maybe"}, "Expected boolean for was_shipped"),
        ("/transactions", {"limit": "x"}, "Expected int for limit"),
        ("/payment-account/ledger-entries", {"max_created": "1790000000"}, "min_created"),
        ("/payments", {}, "payment_ids"),
        (
            "/payment-account/ledger-entries",
            {"min_created": "1790000000", "max_created": str(1790000000 + 2678401)},
            "must be no more than 2678400 seconds (31 days)",
        ),
        (
            "/payment-account/ledger-entries",
            {"min_created": "1790000001", "max_created": "1790000000"},
            "min_created must be less than or equal to max_created",
        ),
    ],
)
async def test_malformed_requests_answer_400(
    api: Api, path: str, params: dict[str, str], fragment: str
) -> None:
    status, error = _status_error(await api.get(api.shop + path, **params))
    assert status == 400 and fragment in error


async def test_unknown_routes_and_ids(api: Api) -> None:
    assert _status_error(await api.get(f"{APP}/shops/{api.creds['shop_id']}/orders")) == (
        404,
        "Not Found",
    )
    assert (await api.get(f"{api.shop}/receipts/1")).status_code == 404
    assert (await api.get(f"{APP}/listings/1/inventory")).status_code == 404
    assert (await api.http.post(f"{api.shop}/receipts", headers=api.headers)).status_code == 405


async def test_receipts_newest_first_with_inclusive_filters(api: Api) -> None:
    truth = api.world.platforms["etsy"].ground_truth(CLIENT, "orders")
    everything = (await api.get(f"{api.shop}/receipts", limit="100")).json()
    assert everything["count"] == len(truth)
    created = [r["create_timestamp"] for r in everything["results"]]
    assert created == sorted(created, reverse=True)
    low, high = created[40], created[10]
    window = (
        await api.get(f"{api.shop}/receipts", min_created=low, max_created=high, limit="100")
    ).json()
    assert window["count"] == len([r for r in truth if low <= r["create_timestamp"] <= high])
    shipped = (await api.get(f"{api.shop}/receipts", was_shipped="true", limit="1")).json()
    assert shipped["count"] == sum(r["is_shipped"] for r in truth)
    since = truth[-1]["update_timestamp"]
    modified = (await api.get(f"{api.shop}/receipts", min_last_modified=since)).json()
    assert modified["count"] == len([r for r in truth if r["update_timestamp"] >= since])
    one = everything["results"][0]
    assert (await api.get(f"{api.shop}/receipts/{one['receipt_id']}")).json() == one
    lines = (await api.get(f"{api.shop}/receipts/{one['receipt_id']}/transactions")).json()
    assert lines["count"] >= 1 and {t["receipt_id"] for t in lines["results"]} == {
        one["receipt_id"]
    }


async def test_ledger_payouts_are_the_sum_since_the_previous_payout(api: Api) -> None:
    sandbox = api.world.platforms["etsy"]
    entries = sorted(
        sandbox.ground_truth(CLIENT, "transactions"), key=lambda e: e["sequence_number"]
    )
    payouts = [e for e in entries if e["ledger_type"] == "DISBURSE2"]
    assert payouts
    since_last = 0
    for entry in entries:
        if entry["ledger_type"] == "DISBURSE2":
            assert -entry["amount"] == since_last > 0 and entry["balance"] == 0
            since_last = 0
        else:
            since_last += entry["amount"]
    facts = {f.payout_id: f for f in sandbox.payouts(CLIENT)}
    for payout in payouts:
        fact = facts[str(payout["entry_id"])]
        assert fact.amount * 100 == -payout["amount"] and fact.paid_at == payout["create_date"]
    latest = payouts[-1]["create_date"]
    page = (
        await api.get(
            f"{api.shop}/payment-account/ledger-entries",
            min_created=latest - 86_400,
            max_created=latest,
            limit="100",
        )
    ).json()
    dates = [e["create_date"] for e in page["results"]]
    assert dates == sorted(dates, reverse=True) and payouts[-1] in page["results"]


async def test_payments_by_receipt_by_ids_and_by_ledger_entries(api: Api) -> None:
    sandbox = api.world.platforms["etsy"]
    payments = {p["payment_id"]: p for p in sandbox.ground_truth(CLIENT, "payments")}
    some = list(payments)[:3]
    by_ids = (await api.get(f"{api.shop}/payments", payment_ids=",".join(map(str, some)))).json()
    assert sorted(p["payment_id"] for p in by_ids["results"]) == sorted(some)
    entry = next(
        e for e in sandbox.ground_truth(CLIENT, "transactions") if e["ledger_type"] == "Payment"
    )
    linked = (
        await api.get(
            f"{api.shop}/payment-account/ledger-entries/payments",
            ledger_entry_ids=entry["entry_id"],
        )
    ).json()
    assert [p["payment_id"] for p in linked["results"]] == [int(entry["reference_id"])]
    receipt = linked["results"][0]["receipt_id"]
    by_receipt = (await api.get(f"{api.shop}/receipts/{receipt}/payments")).json()
    assert by_receipt["results"] == linked["results"]


async def test_listings_and_their_inventory(api: Api) -> None:
    listings = (
        await api.get(
            f"{api.shop}/listings/active", {"x-api-key": api.headers["x-api-key"]}, limit="100"
        )
    ).json()
    truth = api.world.platforms["etsy"].ground_truth(CLIENT, "inventory")
    assert listings["count"] == len(truth)
    first = listings["results"][0]
    inventory = (await api.get(f"{APP}/listings/{first['listing_id']}/inventory")).json()
    offering = inventory["products"][0]["offerings"][0]
    assert offering["quantity"] == first["quantity"] and offering["price"] == first["price"]


async def test_listings_by_shop_attach_their_inventory(api: Api) -> None:
    truth = api.world.platforms["etsy"].ground_truth(CLIENT, "inventory")
    got = (await api.get(f"{api.shop}/listings", includes="Inventory", limit="100")).json()
    assert got["count"] == len(truth) == len(got["results"])
    created = [r["original_creation_timestamp"] for r in got["results"]]
    assert created == sorted(created, reverse=True)  # newest first by default
    attached = {r["listing_id"]: r["inventory"] for r in got["results"]}
    assert attached == {
        t["listing_id"]: {k: v for k, v in t.items() if k != "listing_id"} for t in truth
    }
    bare = (await api.get(f"{api.shop}/listings", sort_order="asc", limit="2", offset="1")).json()
    assert [r["listing_id"] for r in bare["results"]] == [t["listing_id"] for t in truth[1:3]]
    assert all("inventory" not in r for r in bare["results"])
    assert (await api.get(f"{api.shop}/listings", state="draft")).json() == {
        "count": 0,
        "results": [],
    }
    for params in ({"includes": "Images"}, {"includes": "Stock"}, {"state": "gone"}):
        refused = await api.get(f"{api.shop}/listings", **params)
        assert refused.status_code == 400, params
    anonymous = await api.get(f"{api.shop}/listings", {"x-api-key": api.headers["x-api-key"]})
    assert anonymous.status_code == 401  # private: the seller's OAuth token is needed
