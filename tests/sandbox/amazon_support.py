"""Test support for the Amazon sandbox: spec validation and a naive, patient crawler.

``SpecCheck`` validates every response against the official Swagger 2.0 files in
../shared/specs (read in place, never copied): the body against the schema the spec
declares for that operation and status (jsonschema, Draft 4, with the file's
``definitions`` alongside and date-time formats checked), and the rate-limit header against
the headers the spec declares for that status.

``Crawler`` is what a careful but naive connector does: it waits out 429s by the documented
rate, retries 5xx, refreshes an expired token, and follows every page token to the end.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft4Validator, FormatChecker

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
SPEC_FILES = (
    "amazon-ordersV0.json",
    "amazon-financesV0.json",
    "amazon-reports_2021-06-30.json",
    "amazon-fbaInventory.json",
)
RATES = {
    "getOrders": 0.0167,
    "getOrder": 0.5,
    "getOrderItems": 0.5,
    "createReport": 0.0167,
    "getReport": 2.0,
    "getReportDocument": 0.0167,
    "getInventorySummaries": 2.0,
}
MARKETS = ("ATVPDKIKX0DER", "A1VC38T7YXB528")


@cache
def _operations() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """operationId -> (spec document, operation object) over the four Amazon files."""
    out = {}
    for name in SPEC_FILES:
        spec = json.loads((SPECS / name).read_text())
        for item in spec["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and "operationId" in op:
                    out[op["operationId"]] = (spec, op)
    return out


def _inline(schema: Any, definitions: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """``schema`` with local ``$ref``s replaced by their definitions (cycles stay refs)."""
    if isinstance(schema, list):
        return [_inline(s, definitions, stack) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref", "")
    if ref.startswith("#/definitions/"):
        name = ref.rsplit("/", 1)[1]
        if name not in stack:
            return _inline(definitions[name], definitions, (*stack, name))
    return {k: _inline(v, definitions, stack) for k, v in schema.items()}


@cache
def _validator(operation: str, status: int) -> Draft4Validator:
    spec, op = _operations()[operation]
    response = op["responses"][str(status)]
    schema = _inline(response["schema"], spec["definitions"])
    return Draft4Validator(
        {**schema, "definitions": spec["definitions"]}, format_checker=FormatChecker()
    )


class SpecCheck:
    def __init__(self) -> None:
        self.checked: Counter = Counter()  # (operation, status) -> responses validated

    def __call__(self, operation: str, response: httpx.Response) -> Any:
        status = response.status_code
        _, op = _operations()[operation]
        assert str(status) in op["responses"], f"{operation} may not answer {status}"
        body = response.json()
        errors = sorted(_validator(operation, status).iter_errors(body), key=str)
        assert not errors, f"{operation} {status}: {errors[0].message} at {list(errors[0].path)}"
        declared = {h.lower() for h in op["responses"][str(status)].get("headers", {})}
        has_limit = "x-amzn-ratelimit-limit" in response.headers
        assert has_limit == ("x-amzn-ratelimit-limit" in declared), (operation, status)
        assert "x-amzn-requestid" in response.headers
        self.checked[(operation, status)] += 1
        return body


def parse_flat_file(content: bytes, compressed: bool) -> list[dict[str, str]]:
    text = (gzip.decompress(content) if compressed else content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


class Crawler:
    """A patient connector: every page of every resource, through throttles and faults."""

    def __init__(self, client: httpx.AsyncClient, clock: Any, creds: dict[str, str]) -> None:
        self.client, self.clock, self.creds = client, clock, creds
        self.check = SpecCheck()
        self.token = ""
        self.statuses: Counter = Counter()
        self.empty_pages_with_token = 0

    async def login(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.creds["refresh_token"],
            "client_id": self.creds["client_id"],
            "client_secret": self.creds["client_secret"],
        }
        response = await self.client.post("/amazon/auth/o2/token", data=form)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    async def call(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        failures = 0
        while True:
            if not self.token:
                await self.login()
            response = await self.client.request(
                method, "/amazon" + path, headers={"x-amz-access-token": self.token}, **kwargs
            )
            self.statuses[(operation, response.status_code)] += 1
            body = self.check(operation, response)
            if response.status_code in (200, 202):
                return body
            if response.status_code == 429:
                await self.clock.sleep(1.0 / RATES.get(operation, 0.5))
            elif response.status_code == 403 and "expired" in json.dumps(body):
                self.token = ""
            elif response.status_code in (500, 503) and failures < 8:
                failures += 1
                await self.clock.sleep(2.0**failures)
            else:
                raise AssertionError(f"{operation} {response.status_code}: {response.text}")

    async def pages(
        self, operation: str, path: str, params: dict[str, Any], token_in: str = "NextToken"
    ) -> list[dict[str, Any]]:
        """Every payload of a NextToken chain (Orders and Finances style)."""
        out, token = [], None
        while True:
            query = {**params, token_in: token} if token else params
            body = await self.call(operation, "GET", path, params=query)
            payload = body["payload"]
            out.append(payload)
            token = payload.get("NextToken") or body.get("pagination", {}).get("nextToken")
            if not token:
                return out
            if not _has_records(payload):
                self.empty_pages_with_token += 1

    async def orders(self, after: str) -> list[dict[str, Any]]:
        params = {"MarketplaceIds": ",".join(MARKETS), "CreatedAfter": after}
        pages = await self.pages("getOrders", "/orders/v0/orders", params)
        return [o for p in pages for o in p["Orders"]]

    async def order_items(self, order_id: str) -> list[dict[str, Any]]:
        path = f"/orders/v0/orders/{order_id}/orderItems"
        pages = await self.pages("getOrderItems", path, {})
        return [{"AmazonOrderId": p["AmazonOrderId"], **i} for p in pages for i in p["OrderItems"]]

    async def groups(self, after: str) -> list[dict[str, Any]]:
        params = {"FinancialEventGroupStartedAfter": after, "MaxResultsPerPage": 100}
        pages = await self.pages(
            "listFinancialEventGroups", "/finances/v0/financialEventGroups", params
        )
        return [g for p in pages for g in p.get("FinancialEventGroupList", [])]

    async def group_events(self, group_id: str) -> list[dict[str, Any]]:
        path = f"/finances/v0/financialEventGroups/{group_id}/financialEvents"
        pages = await self.pages("listFinancialEventsByGroupId", path, {})
        return [{"FinancialEventGroupId": group_id, **e} for p in pages for e in _events(p)]

    async def events(self, after: str, before: str) -> list[dict[str, Any]]:
        params = {"PostedAfter": after, "PostedBefore": before}
        pages = await self.pages("listFinancialEvents", "/finances/v0/financialEvents", params)
        return [e for p in pages for e in _events(p)]

    async def inventory(self, market: str) -> list[dict[str, Any]]:
        params = {
            "granularityType": "Marketplace",
            "granularityId": market,
            "marketplaceIds": market,
            "details": "true",
        }
        pages = await self.pages(
            "getInventorySummaries", "/fba/inventory/v1/summaries", params, token_in="nextToken"
        )
        return [s for p in pages for s in p["inventorySummaries"]]

    async def report(self, report_type: str, start: str, end: str) -> list[dict[str, str]]:
        while True:
            spec = {
                "reportType": report_type,
                "marketplaceIds": list(MARKETS),
                "dataStartTime": start,
                "dataEndTime": end,
            }
            created = await self.call(
                "createReport", "POST", "/reports/2021-06-30/reports", json=spec
            )
            while True:
                report = await self.call(
                    "getReport", "GET", f"/reports/2021-06-30/reports/{created['reportId']}"
                )
                if report["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
                    break
                await self.clock.sleep(15)
            if report["processingStatus"] == "CANCELLED":
                return []
            if report["processingStatus"] == "DONE":
                break
        document = await self.call(
            "getReportDocument",
            "GET",
            f"/reports/2021-06-30/documents/{report['reportDocumentId']}",
        )
        download = await self.client.get(document["url"])
        assert download.status_code == 200, download.text
        return parse_flat_file(download.content, document.get("compressionAlgorithm") == "GZIP")


def _events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"EventList": name, **event}
        for name, events in payload.get("FinancialEvents", {}).items()
        for event in events
    ]


def _has_records(payload: dict[str, Any]) -> bool:
    for key in ("Orders", "OrderItems", "FinancialEventGroupList", "inventorySummaries"):
        if payload.get(key):
            return True
    return any(payload.get("FinancialEvents", {}).values())


class Env:
    """A one-platform world on a manual clock, with an httpx client over its transport."""

    def __init__(
        self,
        scenario: str = "tiny",
        faults: Any = None,
        limits: dict[str, Any] | None = None,
        quiet_for: float | None = None,
    ) -> None:
        from sandbox.clock import ManualClock
        from sandbox.scenario import load
        from sandbox.world import World

        self.scenario = load(scenario)
        self.clock = ManualClock(self.scenario.now)
        self.world = World(
            self.scenario,
            clock=self.clock,
            faults=faults,
            limits={"amazon": limits or {}},
            platforms=("amazon",),
        )
        self.amazon = self.world.platforms["amazon"]
        self.client_id = self.scenario.clients[0].client_id
        self.creds = self.amazon.credentials(self.client_id)
        if quiet_for is not None:
            self.clock.set(self.amazon.quiet_time(self.client_id, self.scenario.now, quiet_for))
        self.http = httpx.AsyncClient(transport=self.world.transport(), base_url="http://sandbox")
        self.check = SpecCheck()

    async def __aenter__(self) -> Env:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def truth(self, resource: str) -> list[dict[str, Any]]:
        return self.amazon.ground_truth(self.client_id, resource)

    async def token(self) -> str:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.creds["refresh_token"],
            "client_id": self.creds["client_id"],
            "client_secret": self.creds["client_secret"],
        }
        response = await self.http.post("/amazon/auth/o2/token", data=form)
        return response.json()["access_token"]

    async def get(
        self, operation: str, path: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        """One request, its body validated against the spec (status and headers too)."""
        method = "POST" if operation == "createReport" else "GET"
        headers = {"x-amz-access-token": token} if token else {}
        response = await self.http.request(method, "/amazon" + path, headers=headers, **kwargs)
        self.check(operation, response)
        return response

    def crawler(self) -> Crawler:
        return Crawler(self.http, self.clock, self.creds)
