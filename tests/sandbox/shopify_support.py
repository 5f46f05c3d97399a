"""Test support for the Shopify sandbox: full-field queries and a patient crawler.

Shopify publishes no OpenAPI file, so shapes are checked against the sandbox's ground
truth, which is built from the Admin API's documented field names (see
``sandbox/shopify/views.py``). ``Crawler`` is what a careful connector does: on 401 it
refreshes the expiring offline token (keeping the rotated refresh token); on THROTTLED it
waits ``(requested - currentlyAvailable) / restoreRate``; on 429 it waits
``Retry-After``; it retries 5xx; it follows cursors (GraphQL) or ``Link`` headers (REST)
to the end, and drops duplicates by id.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
VERSION = "2025-10"
MONEY = "amount currencyCode"
BAG = f"shopMoney {{ {MONEY} }} presentmentMoney {{ {MONEY} }}"
ORDER_FIELDS = f"""
  id legacyResourceId name createdAt updatedAt processedAt closedAt cancelledAt cancelReason
  closed test note currencyCode presentmentCurrencyCode displayFinancialStatus
  displayFulfillmentStatus subtotalPriceSet {{ {BAG} }} totalDiscountsSet {{ {BAG} }}
  totalShippingPriceSet {{ {BAG} }} totalTaxSet {{ {BAG} }} totalPriceSet {{ {BAG} }}
  totalRefundedSet {{ {BAG} }} currentTotalPriceSet {{ {BAG} }}
"""
LINE_FIELDS = f"""
  id name title variantTitle sku vendor quantity currentQuantity requiresShipping
  originalUnitPriceSet {{ {BAG} }} originalTotalSet {{ {BAG} }} discountedTotalSet {{ {BAG} }}
  totalDiscountSet {{ {BAG} }} taxLines {{ title rate ratePercentage priceSet {{ {BAG} }} }}
  variant {{ id legacyResourceId sku title price }}
"""
REFUND_FIELDS = f"""
  id legacyResourceId createdAt updatedAt note totalRefundedSet {{ {BAG} }}
  refundLineItems(first: 10) {{
    nodes {{ quantity restockType restocked lineItem {{ id sku }} priceSet {{ {BAG} }}
             subtotalSet {{ {BAG} }} totalTaxSet {{ {BAG} }} }}
    pageInfo {{ hasNextPage }}
  }}
"""
TXN_FIELDS = f"""
  id type test transactionDate amount {{ {MONEY} }} fee {{ {MONEY} }} net {{ {MONEY} }}
  sourceType sourceId sourceOrderTransactionId associatedOrder {{ id name }}
  associatedPayout {{ id status }}
"""
PAYOUT_FIELDS = f"""
  id legacyResourceId issuedAt status transactionType net {{ {MONEY} }}
  summary {{ chargesGross {{ {MONEY} }} chargesFee {{ {MONEY} }} refundsFeeGross {{ {MONEY} }}
    refundsFee {{ {MONEY} }} adjustmentsGross {{ {MONEY} }} adjustmentsFee {{ {MONEY} }}
    reservedFundsGross {{ {MONEY} }} reservedFundsFee {{ {MONEY} }}
    retriedPayoutsGross {{ {MONEY} }} retriedPayoutsFee {{ {MONEY} }} }}
"""
QUANTITY_NAMES = '["available", "committed", "incoming", "on_hand", "reserved"]'
LEVEL_FIELDS = f"""
  id createdAt updatedAt quantities(names: {QUANTITY_NAMES}) {{ name quantity updatedAt }}
  location {{ id legacyResourceId name isActive }} item {{ id sku }}
"""
PAGE = "pageInfo { hasNextPage endCursor }"


def orders_query(first: int, fields: str = ORDER_FIELDS, query: str | None = None) -> str:
    search = f", query: {json.dumps(query)}" if query else ""
    return f"""query($after: String) {{
      orders(first: {first}, after: $after{search}) {{ nodes {{ {fields} }} {PAGE} }} }}"""


def by_id(records: list[dict[str, Any]], key: str = "id") -> dict[Any, dict[str, Any]]:
    keyed = {r[key]: r for r in records}
    assert len(keyed) == len(records), "duplicate ids"
    return keyed


class Crawler:
    """A patient Shopify client for one shop."""

    def __init__(
        self, http: httpx.AsyncClient, clock: Any, creds: dict[str, str], version: str = VERSION
    ) -> None:
        self.http, self.clock, self.creds = http, clock, dict(creds)
        self.base = f"/shopify/{creds['shop']}/admin/api/{version}"
        self.token = creds["access_token"]
        self.refresh_token = creds["refresh_token"]
        self.statuses: Counter = Counter()
        self.throttled = 0
        self.transcript: list[tuple[str, int, str]] = []

    def _log(self, response: httpx.Response) -> None:
        digest = hashlib.blake2b(response.content, digest_size=8).hexdigest()
        self.transcript.append((str(response.request.url), response.status_code, digest))
        self.statuses[response.status_code] += 1

    async def refresh(self) -> None:
        form = {
            "client_id": self.creds["client_id"],
            "client_secret": self.creds["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": self.refresh_token,
        }
        for _ in range(10):
            response = await self.http.post(
                f"/shopify/{self.creds['shop']}/admin/oauth/access_token", json=form
            )
            self._log(response)
            if response.status_code == 200:
                body = response.json()
                self.token, self.refresh_token = body["access_token"], body["refresh_token"]
                form["refresh_token"] = self.refresh_token
                return
            assert response.status_code >= 500, response.text
            await self.clock.sleep(1)
        raise AssertionError("could not refresh the token")

    async def send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        for _ in range(200):
            headers = {"X-Shopify-Access-Token": self.token}
            response = await self.http.request(method, url, headers=headers, **kw)
            self._log(response)
            if response.status_code == 401:
                await self.refresh()
            elif response.status_code == 429:
                await self.clock.sleep(float(response.headers["Retry-After"]))
            elif response.status_code >= 500:
                await self.clock.sleep(1)
            else:
                return response
        raise AssertionError(f"{url}: gave up")

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        for _ in range(100):
            response = await self.send(
                "POST",
                f"{self.base}/graphql.json",
                json={"query": query, "variables": variables or {}},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            if "THROTTLED" in codes:
                self.throttled += 1
                cost = body["extensions"]["cost"]
                status = cost["throttleStatus"]
                wait = (cost["requestedQueryCost"] - status["currentlyAvailable"]) / status[
                    "restoreRate"
                ]
                await self.clock.sleep(max(0.1, wait))
                continue
            assert "errors" not in body, body["errors"]
            return body
        raise AssertionError("throttled forever")

    async def connection(self, query: str, path: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every node of the connection at ``path`` (e.g. ("orders",)), page after page."""
        seen: dict[str, dict[str, Any]] = {}
        after = None
        while True:
            body = await self.graphql(query, {"after": after})
            conn = body["data"]
            for step in path:
                conn = conn[step]
            for node in conn["nodes"]:
                seen[node["id"]] = node
            if not conn["pageInfo"]["hasNextPage"]:
                return list(seen.values())
            after = conn["pageInfo"]["endCursor"]

    async def rest_orders(self, **params: Any) -> list[dict[str, Any]]:
        seen: dict[int, dict[str, Any]] = {}
        response = await self.send("GET", f"{self.base}/orders.json", params=params)
        while True:
            assert response.status_code == 200, response.text
            for order in response.json()["orders"]:
                seen[order["id"]] = order
            links = _links(response.headers.get("link", ""))
            if "next" not in links:
                return list(seen.values())
            response = await self.send("GET", links["next"])

    async def bulk(self, inner: str) -> list[dict[str, Any]]:
        mutation = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
            bulkOperation { id status } userErrors { code field message } } }"""
        body = await self.graphql(mutation, {"q": inner})
        run = body["data"]["bulkOperationRunQuery"]
        assert run["userErrors"] == [], run["userErrors"]
        op_id = run["bulkOperation"]["id"]
        poll = """query($id: ID!) {
            node(id: $id) { ... on BulkOperation { id status objectCount url } } }"""
        while True:
            node = (await self.graphql(poll, {"id": op_id}))["data"]["node"]
            if node["status"] == "COMPLETED":
                break
            assert node["status"] in ("CREATED", "RUNNING"), node
            await self.clock.sleep(5)
        if node["url"] is None:
            return []
        response = await self.http.get(node["url"])
        self._log(response)
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert len(lines) == int(node["objectCount"])
        return lines


def _links(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(","):
        if not part.strip():
            continue
        url, _, rel = part.partition(";")
        out[rel.strip().removeprefix('rel="').removesuffix('"')] = url.strip().strip("<>")
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str) -> str:
    """``python -m sandbox <args>`` in the repository; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout
