"""The HTTP triggers' answers: bad input is a 400 naming the problem, nothing half-made;
a wrong key is a 401; the status report after an onboarding."""

from __future__ import annotations

import json

import pytest

from shared.storage.ledger import Ledger
from tests.flows.harness import Stack


@pytest.fixture
def stack(monkeypatch, azurite) -> Stack:
    return Stack(monkeypatch, azurite.connection_string)


BAD = [
    ({"platform": "myspace"}, "platform"),
    ({"account": ""}, "account"),
    ({"credentials": {"refresh_token": "x"}}, "amazon credentials lack"),
    ({"history_start": "2026-02-30"}, "history_start"),
    ({"history_start": "2999-01-01"}, "must not be in the future"),
    ({"surprise": 1}, "surprise"),
]


@pytest.mark.parametrize(("change", "named"), BAD)
async def test_bad_connect_requests_are_400_and_store_nothing(stack: Stack, change, named) -> None:
    async with stack.running():
        body = {**stack.connect_body("amazon"), **change}
        response = await stack.host.http(
            "POST", f"/api/clients/{stack.client_id}/connect", body=body
        )
        assert response.status_code == 400
        answer = json.loads(response.get_body())
        assert named in answer["error"], answer
        secret = stack.connect_body("amazon")["credentials"]["refresh_token"]
        assert secret not in response.get_body().decode()
        assert await Ledger(stack.settings).list_connections(stack.client_id) == []
        assert stack.host.instances == {}


async def test_bad_json_and_missing_fields(stack: Stack) -> None:
    async with stack.running():
        path = f"/api/clients/{stack.client_id}/connect"
        broken = await stack.host.http("POST", path, body=b"{not json")
        assert (
            broken.status_code == 400 and "json" in json.loads(broken.get_body())["error"].lower()
        )
        empty = await stack.host.http("POST", path, body={})
        problems = {p["field"] for p in json.loads(empty.get_body())["problems"]}
        assert {"platform", "account", "credentials"} <= problems
        demo = await stack.host.http("POST", "/api/demo", body={"prospect": "p1", "platforms": {}})
        assert demo.status_code == 400


async def test_a_wrong_function_key_is_401(stack: Stack) -> None:
    async with stack.running():
        body = stack.connect_body("amazon")
        path = f"/api/clients/{stack.client_id}/connect"
        assert (await stack.host.http("POST", path, body=body, key="wrong")).status_code == 401
        assert (await stack.host.http("POST", path, body=body, key=None)).status_code == 401
        assert await Ledger(stack.settings).list_connections(stack.client_id) == []


async def test_status_reports_progress_per_platform_and_resource(stack: Stack) -> None:
    async with stack.running():
        unknown = await stack.host.http("GET", "/api/clients/nobody/status")
        assert unknown.status_code == 404
        links = json.loads((await stack.connect("amazon")).get_body())
        await stack.host.run_until_done(links["id"])
        response = await stack.host.http("GET", f"/api/clients/{stack.client_id}/status")
        assert response.status_code == 200
        report = json.loads(response.get_body())
        orders = report["platforms"]["amazon"]["orders"]
        assert orders["blocks_done"] == orders["blocks_total"] > 0
        assert orders["blocks_parked"] == 0 and orders["phase"] is None
        assert orders["records_stored"] == len(await stack.stored("amazon", "orders"))
        assert orders["requests"] >= orders["blocks_total"]
        assert report["onboarding"]["amazon/amazon-c-tiny"]["runtimeStatus"] == "Completed"
        text = response.get_body().decode()
        assert stack.connect_body("amazon")["credentials"]["refresh_token"] not in text
