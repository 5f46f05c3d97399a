"""Server mode with Shopify: ``python -m sandbox serve`` (all platforms, the default)
serves the Shopify Admin API on loopback; a test crawls it over real HTTP, and
``python -m sandbox credentials`` prints the shop's credentials."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World
from tests.sandbox.shopify_support import ROOT, Crawler, free_port, orders_query, run_cli

SPEED = 60.0


class _ScaledSleep:
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / SPEED)


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "serve", "--scenario", "tiny", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--speed", str(SPEED)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the sandbox server did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_served_shopify_crawls_over_real_http(server: str) -> None:
    creds = json.loads(run_cli("credentials", "--scenario", "tiny"))["c-tiny"]["shopify"]
    async with httpx.AsyncClient(base_url=server, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["platforms"]["shopify"] == "/shopify"
        start = health["now"]
        crawler = Crawler(http, _ScaledSleep(), creds)
        orders = await crawler.connection(orders_query(50, "id updatedAt"), ("orders",))
        rest = await crawler.rest_orders(status="any", limit=50)
        unknown = await http.get(f"/shopify/{creds['shop']}/admin/api/2025-10/nothing.json")
        end = (await http.get("/health")).json()["now"]
    assert unknown.status_code == 404 and unknown.json() == {"errors": "Not Found"}

    def truth(at: float) -> set[str]:
        world = World(load("tiny"), clock=ManualClock(at), platforms=("shopify",))
        return {o["id"] for o in world.ground_truth("c-tiny", "shopify", "orders")}

    # the server's clock runs at 60x: an order may be placed while the crawl runs
    before, after = truth(start), truth(end)
    assert before <= {o["id"] for o in orders} <= after and before
    assert before <= {o["admin_graphql_api_id"] for o in rest} <= after
    assert {status for _, status, _ in crawler.transcript} == {200}


def test_credentials_command_includes_shopify() -> None:
    creds = json.loads(run_cli("credentials", "--scenario", "tiny"))
    shopify = creds["c-tiny"]["shopify"]
    assert set(shopify) == {
        "shop",
        "shop_domain",
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
        "api_version",
        "expires_at",
    }
    # the token was issued at the scenario's start and lives the policy's hour
    assert float(shopify["expires_at"]) == load("tiny").now + 3_600
    assert shopify["shop_domain"] == f"{shopify['shop']}.myshopify.com"
    assert shopify["access_token"].startswith("shpat_")
    assert creds == World(load("tiny")).credentials()
