"""The Amazon sandbox's HTTP surface: LWA, auth errors, usage plans, date rules, paging.

Every SP-API response here is validated against the official spec (``Env.get``)."""

from __future__ import annotations

import pytest

from sandbox.amazon import api_inventory
from sandbox.amazon.formats import iso
from sandbox.faults import FaultRates, Faults
from tests.sandbox.amazon_support import MARKETS, Env

US = MARKETS[0]
ORDERS = "/orders/v0/orders"
QUOTA = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}


def lwa_form(env: Env, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": env.creds["refresh_token"],
        "client_id": env.creds["client_id"],
        "client_secret": env.creds["client_secret"],
    }
    return {k: v for k, v in {**form, **changes}.items() if v}


async def test_lwa_issues_an_hour_long_bearer_token() -> None:
    async with Env() as env:
        response = await env.http.post("/amazon/auth/o2/token", data=lwa_form(env))
        body = response.json()
        assert response.status_code == 200
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        assert body["access_token"].startswith("Atza|")
        as_json = await env.http.post("/amazon/auth/o2/token", json=lwa_form(env))
        assert as_json.status_code == 200


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "amzn1.application-oa2-client.other"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|IwEBnotmine"}, 400, "invalid_grant"),
        ({"refresh_token": ""}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
async def test_lwa_refusals(changes: dict[str, str], status: int, error: str) -> None:
    async with Env() as env:
        response = await env.http.post("/amazon/auth/o2/token", data=lwa_form(env, **changes))
        assert response.status_code == status
        assert response.json()["error"] == error and response.json()["error_description"]


@pytest.mark.parametrize(
    ("token", "details"),
    [
        (None, ""),
        ("Atza|forged", "The access token you provided is revoked, malformed or invalid."),
    ],
)
async def test_missing_or_invalid_token_is_403_unauthorized(
    token: str | None, details: str
) -> None:
    async with Env() as env:
        response = await env.get("getOrders", ORDERS, token, params={"MarketplaceIds": US})
        assert response.status_code == 403
        assert response.json() == {
            "errors": [
                {
                    "code": "Unauthorized",
                    "details": details,
                    "message": "Access to requested resource is denied.",
                }
            ]
        }


async def test_access_token_expires_after_an_hour() -> None:
    async with Env() as env:
        token = await env.token()
        params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
        assert (await env.get("getOrders", ORDERS, token, params=params)).status_code == 200
        env.clock.advance(3600)
        response = await env.get("getOrders", ORDERS, token, params=params)
        assert response.status_code == 403
        assert response.json()["errors"][0]["details"] == (
            "The access token you provided has expired."
        )


async def test_get_orders_burst_of_20_then_429_then_one_more_a_minute_later() -> None:
    async with Env() as env:
        token = await env.token()
        params = {
            "MarketplaceIds": US,
            "CreatedAfter": "2026-10-01T00:00:00Z",
            "MaxResultsPerPage": "1",
        }
        for _ in range(20):
            response = await env.get("getOrders", ORDERS, token, params=params)
            assert response.status_code == 200
            assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"
        refused = await env.get("getOrders", ORDERS, token, params=params)
        assert refused.status_code == 429 and refused.json() == QUOTA
        assert "x-amzn-RateLimit-Limit" not in refused.headers
        await env.clock.sleep(60)
        assert (await env.get("getOrders", ORDERS, token, params=params)).status_code == 200
        assert (await env.get("getOrders", ORDERS, token, params=params)).status_code == 429
        assert env.world.accounting.throttled[("amazon", "getOrders")] == 2
        assert env.world.accounting.calls[("amazon", "getOrders")] == 23


async def test_usage_plans_are_overridable_per_world() -> None:
    async with Env(limits={"getOrders": {"rate": 1.0, "burst": 2}}) as env:
        token = await env.token()
        params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
        first = await env.get("getOrders", ORDERS, token, params=params)
        assert first.headers["x-amzn-RateLimit-Limit"] == "1.0"
        await env.get("getOrders", ORDERS, token, params=params)
        assert (await env.get("getOrders", ORDERS, token, params=params)).status_code == 429


@pytest.mark.parametrize(
    "params",
    [
        {"CreatedAfter": "2026-10-01T00:00:00Z", "CreatedBefore": -60},
        {"LastUpdatedAfter": "2026-10-01T00:00:00Z", "LastUpdatedBefore": -60},
        {"CreatedAfter": -60},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "LastUpdatedBefore": -600},
        {"CreatedAfter": "2026-10-05T00:00:00Z", "CreatedBefore": "2026-10-04T00:00:00Z"},
        {"CreatedBefore": -600},
        {"CreatedAfter": "yesterday"},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "MaxResultsPerPage": "101"},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "MaxResultsPerPage": "0"},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "OrderStatuses": "Lost"},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "NextToken": "not-a-token"},
        {"CreatedAfter": "2026-10-01T00:00:00Z", "MarketplaceIds": ""},
    ],
)
async def test_get_orders_date_rules_answer_400_invalid_input(params: dict) -> None:
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        query = {"MarketplaceIds": US}
        query |= {k: iso(now + v) if isinstance(v, int) else v for k, v in params.items()}
        response = await env.get("getOrders", ORDERS, token, params=query)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "InvalidInput"
        assert response.headers["x-amzn-RateLimit-Limit"] == "0.0167"


async def test_before_may_be_two_minutes_ago_and_defaults_to_it() -> None:
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        query = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
        explicit = await env.get(
            "getOrders", ORDERS, token, params=query | {"CreatedBefore": iso(now - 121)}
        )
        assert explicit.status_code == 200
        default = (await env.get("getOrders", ORDERS, token, params=query)).json()["payload"]
        assert default["CreatedBefore"] == iso(env.clock.now() - 120)


async def test_unpaid_orders_hide_totals_and_item_prices() -> None:
    async with Env() as env:
        history = env.amazon.data(env.client_id).history
        order = next(
            o
            for o in history.orders
            if o.versions[-1].status == "Shipped" and o.versions[1].at - o.purchased > 200
        )
        env.clock.set(order.purchased + 150)
        token = await env.token()
        seen = (await env.get("getOrder", f"{ORDERS}/{order.order_id}", token)).json()["payload"]
        assert seen["OrderStatus"] == "Pending" and "OrderTotal" not in seen
        path = f"{ORDERS}/{order.order_id}/orderItems"
        items = (await env.get("getOrderItems", path, token)).json()["payload"]["OrderItems"]
        assert items and all("ItemPrice" not in i for i in items)
        env.clock.set(order.versions[-1].at)
        token = await env.token()
        paid = (await env.get("getOrder", f"{ORDERS}/{order.order_id}", token)).json()["payload"]
        assert "OrderTotal" in paid


async def test_unknown_order_is_404() -> None:
    async with Env() as env:
        token = await env.token()
        response = await env.get("getOrderItems", f"{ORDERS}/111-0000000-0000000/orderItems", token)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NotFound"


@pytest.mark.parametrize(
    ("path", "params", "status", "empty"),
    [
        ("/finances/v0/financialEvents", {"PostedAfter": -60}, 400, False),
        ("/finances/v0/financialEvents", {"PostedBefore": -86400}, 400, False),
        ("/finances/v0/financialEvents", {"PostedAfter": -86400, "PostedBefore": -60}, 400, False),
        (
            "/finances/v0/financialEvents",
            {"PostedAfter": -86400, "PostedBefore": -90000},
            400,
            False,
        ),
        ("/finances/v0/financialEvents", {"PostedAfter": -200 * 86400}, 200, True),
        (
            "/finances/v0/financialEvents",
            {"PostedAfter": -50 * 86400, "PostedBefore": -40 * 86400},
            200,
            False,
        ),
        (
            "/finances/v0/financialEventGroups",
            {
                "FinancialEventGroupStartedAfter": -200 * 86400,
                "FinancialEventGroupStartedBefore": -86400,
            },
            200,
            True,
        ),
        (
            "/finances/v0/financialEventGroups",
            {"FinancialEventGroupStartedAfter": -200 * 86400},
            200,
            False,
        ),
        ("/finances/v0/financialEventGroups", {"FinancialEventGroupStartedAfter": -60}, 400, False),
        ("/finances/v0/financialEventGroups", {"MaxResultsPerPage": "500"}, 400, False),
    ],
)
async def test_finance_date_rules(path: str, params: dict, status: int, empty: bool) -> None:
    operation = "listFinancialEvents" if path.endswith("Events") else "listFinancialEventGroups"
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        query = {k: iso(now + v) if isinstance(v, int) else v for k, v in params.items()}
        response = await env.get(operation, path, token, params=query)
        assert response.status_code == status
        if status == 400:
            assert response.json()["errors"][0]["code"] == "InvalidInput"
            return
        payload = response.json()["payload"]
        records = payload.get("FinancialEventGroupList") or [
            e for events in payload.get("FinancialEvents", {}).values() for e in events
        ]
        assert (not records) == empty
        if empty:
            assert "NextToken" not in payload


async def test_inventory_requires_marketplace_granularity() -> None:
    async with Env() as env:
        token = await env.token()
        response = await env.get(
            "getInventorySummaries",
            "/fba/inventory/v1/summaries",
            token,
            params={"granularityId": US, "marketplaceIds": US},
        )
        assert response.status_code == 400


async def test_inventory_next_token_expires_after_30_seconds(monkeypatch) -> None:
    monkeypatch.setattr(api_inventory, "PAGE_SIZE", 3)
    async with Env() as env:
        token = await env.token()
        params = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}
        path = "/fba/inventory/v1/summaries"
        first = (await env.get("getInventorySummaries", path, token, params=params)).json()
        next_token = first["pagination"]["nextToken"]
        assert "inventoryDetails" not in first["payload"]["inventorySummaries"][0]
        env.clock.advance(10)
        fresh = await env.get(
            "getInventorySummaries", path, token, params=params | {"nextToken": next_token}
        )
        assert fresh.status_code == 200
        env.clock.advance(25)
        stale = await env.get(
            "getInventorySummaries", path, token, params=params | {"nextToken": next_token}
        )
        assert stale.status_code == 400
        assert stale.json()["errors"][0]["code"] == "InvalidInput"


async def test_unknown_routes_answer_amazon_errors() -> None:
    async with Env() as env:
        missing = await env.http.get("/amazon/orders/v0/nothing")
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "NotFound"
        wrong_method = await env.http.delete("/amazon/orders/v0/orders")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["errors"][0]["code"] == "MethodNotAllowed"


def only(**rates: float) -> Faults:
    return Faults(per_platform={"amazon": FaultRates(**rates)}, seed=1)


async def test_token_expiry_fault_kills_a_token_early() -> None:
    async with Env(faults=only(token_expiry=1.0)) as env:
        token = await env.token()
        params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
        env.clock.advance(3300)
        response = await env.get("getOrders", ORDERS, token, params=params)
        assert response.status_code == 403
        assert "expired" in response.json()["errors"][0]["details"]
        assert env.world.accounting.faults[("amazon", "token_expiry")] == 1


async def test_timeout_fault_stalls_a_minute_then_answers_503() -> None:
    async with Env(faults=only(timeout=1.0)) as env:
        token = await env.token()
        before = env.clock.now()
        params = {"MarketplaceIds": US, "CreatedAfter": "2026-10-01T00:00:00Z"}
        response = await env.get("getOrders", ORDERS, token, params=params)
        assert response.status_code == 503 and env.clock.now() - before >= 60
        assert response.json()["errors"][0]["code"] == "ServiceUnavailable"


async def pages_of_orders(env: Env, size: int = 5) -> tuple[list[dict], list[dict]]:
    token = await env.token()
    params = {
        "MarketplaceIds": US,
        "CreatedAfter": "2026-10-01T00:00:00Z",
        "MaxResultsPerPage": str(size),
    }
    first = (await env.get("getOrders", ORDERS, token, params=params)).json()["payload"]
    if "NextToken" not in first:
        return first["Orders"], []
    params["NextToken"] = first["NextToken"]
    second = (await env.get("getOrders", ORDERS, token, params=params)).json()["payload"]
    return first["Orders"], second["Orders"]


async def test_page_faults() -> None:
    async with Env() as env:
        clean_first, clean_second = await pages_of_orders(env)
    async with Env(faults=only(lost_next_token=1.0)) as env:
        first, second = await pages_of_orders(env)
        assert first == clean_first and second == []
    async with Env(faults=only(duplicate=1.0)) as env:
        first, second = await pages_of_orders(env)
        assert second[0] == first[-1] and second[1:] == clean_second
    async with Env(faults=only(short_page=1.0)) as env:
        first, _ = await pages_of_orders(env)
        assert len(first) == 4 and all(o in clean_first for o in first)
