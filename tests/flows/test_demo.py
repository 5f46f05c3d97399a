"""POST /api/demo: a prospect's demo loads recent orders and answers a preview."""

from __future__ import annotations

import json

from shared.flows.http import demo_client
from shared.storage.records import RecordStore
from tests.flows.harness import Stack


async def test_demo_returns_a_preview_of_recent_sales(monkeypatch, azurite) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("ebay",))
    creds = stack.world.platforms["ebay"].credentials(stack.client_id)
    body = {
        "prospect": "acme",
        "platforms": {"ebay": {"account": "acme-ebay", "credentials": creds}},
    }
    async with stack.running():
        response = await stack.host.http("POST", "/api/demo", body=body)
        assert response.status_code == 202, response.get_body()
        links = json.loads(response.get_body())
        status = await stack.host.run_until_done(links["id"])
        assert status["runtimeStatus"] == "Completed", status
        preview = status["output"]["preview"]["ebay"]
        stored = await RecordStore(stack.settings).read(demo_client("acme"), "ebay", "orders")
        assert preview["orders"] == len(stored) > 0
        assert len(preview["latest"]) == min(20, len(stored))
        assert stack.world.accounting.summary("ebay")["calls"] <= 100
        assert creds["refresh_token"] not in json.dumps(status)
        again = await stack.host.http("POST", "/api/demo", body=body)
        assert again.status_code == 200 and json.loads(again.get_body())["started"] is False
