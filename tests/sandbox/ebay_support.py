"""Test support for the eBay sandbox: spec validation and a patient crawler.

``SpecCheck`` validates every response against the official OpenAPI 3 files in
../shared/specs (read in place, never copied) with openapi-core: the operation is found by
path and method, the status must be one the spec declares for it, and a JSON body must
match the declared schema. The servers are pinned in memory to ``https://api.ebay.com`` +
the API's base path (the files template it as ``{basePath}``, which openapi-core does not
match), and YAML's integer status keys become strings. Statuses the spec leaves out (the
common 401/403/429/504 errors) and declared errors without a schema are checked against
the spec's ``Error`` schema as ``{"errors": [Error]}``. Besides, every key of a served
object must be a property the schema declares (the specs do not forbid extras, so this
catches invented fields). The token endpoint and Developer Analytics have no spec here;
their shapes are checked by hand after MARKETPLACE_APIS.md §4.

``Crawler`` is what a careful connector does: refresh the token on 401, wait out 429 until
the quota's reset (getRateLimits), retry 5xx and eBay's transient 400/404, re-read short
pages, compute a lost ``next`` from offset + limit, and drop duplicates by natural key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from sandbox.ebay.formats import iso, parse_iso

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
BASES = {
    "/sell/fulfillment/v1": "ebay-sell_fulfillment_v1_oas3.yaml",
    "/sell/finances/v1": "ebay-sell_finances_v1_oas3.yaml",
    "/sell/inventory/v1": "ebay-sell_inventory_v1_oas3.json",
}
TOKEN_PATH = "/identity/v1/oauth2/token"
RATE_PATH = "/developer/analytics/v1_beta/rate_limit/"
TRANSIENT_IDS = {2002, 2003, 2004, 30500, 135000, 25001}


@cache
def spec(base: str) -> tuple[OpenAPI, dict[str, Any]]:
    text = (SPECS / BASES[base]).read_text()
    raw = yaml.load(text, yaml.CSafeLoader) if BASES[base].endswith(".yaml") else json.loads(text)
    raw = json.loads(json.dumps(raw))  # integer response keys -> strings
    raw["servers"] = [{"url": f"https://api.ebay.com{base}"}]
    return OpenAPI.from_dict(raw), raw


def _resolve(schema: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = raw["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        merged: dict[str, Any] = {"properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(part, raw).get("properties", {}))
        return merged
    return schema


def undeclared(value: Any, schema: dict[str, Any], raw: dict[str, Any], at: str = "") -> list[str]:
    """Paths of keys in ``value`` that ``schema`` does not declare."""
    schema = _resolve(schema, raw)
    if isinstance(value, list):
        items = schema.get("items", {})
        return [p for i, v in enumerate(value) for p in undeclared(v, items, raw, f"{at}[{i}]")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    out = []
    for key, item in value.items():
        declared = schema["properties"].get(key)
        if declared is None:
            out.append(f"{at}.{key}")
        else:
            out += undeclared(item, declared, raw, f"{at}.{key}")
    return out


def _error_envelope(raw: dict[str, Any], body: Any) -> None:
    error = {**raw["components"]["schemas"]["Error"], "components": raw["components"]}
    envelope = {
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "minItems": 1, "items": error}},
        "components": raw["components"],
    }
    OAS30Validator(envelope).validate(body)
    for item in body["errors"]:
        assert not undeclared(item, raw["components"]["schemas"]["Error"], raw), item
        assert {"errorId", "domain", "category", "message"} <= set(item)


class SpecCheck:
    def __init__(self) -> None:
        self.checked: Counter = Counter()  # (path, status) -> responses validated

    def __call__(self, response: httpx.Response) -> Any:
        path = response.request.url.path.removeprefix("/ebay")
        status = response.status_code
        body = response.json() if response.content else None
        if path == TOKEN_PATH:
            check_token_body(status, body)
        elif path.startswith(RATE_PATH.rstrip("/")):
            check_rate_limits_body(status, body)
        else:
            self._api(response, path, status, body)
        self.checked[(path, status)] += 1
        return body

    def _api(self, response: httpx.Response, path: str, status: int, body: Any) -> None:
        base = next((b for b in BASES if path.startswith(b)), None)
        if base is None:  # not an eBay route at all
            assert status in (404, 405), f"{path} answered {status}"
            _error_envelope(spec("/sell/fulfillment/v1")[1], body)
            return
        api, raw = spec(base)
        args = dict(response.request.url.params.multi_items())
        request = MockRequest(
            "https://api.ebay.com", response.request.method.lower(), path, args=args
        )
        mock = MockResponse(response.content, status_code=status, content_type="application/json")
        try:
            api.validate_response(request, mock)
        except (PathNotFound, OperationNotFound):
            assert status in (404, 405), f"{path} answered {status}"
            _error_envelope(raw, body)
            return
        except ResponseNotFound:
            assert status in (401, 403, 404, 405, 429, 504), f"{path} may not answer {status}"
            _error_envelope(raw, body)
            return
        if status >= 400:
            _error_envelope(raw, body)
        elif body is not None:
            schema = _operation_schema(raw, path, status)
            extra = undeclared(body, schema, raw)
            assert not extra, f"{path}: undeclared fields {extra[:5]}"


def _operation_schema(raw: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    base = next(b for b in BASES if path.startswith(b))
    rest = path[len(base) :]
    for template, item in raw["paths"].items():
        parts, actual = template.strip("/").split("/"), rest.strip("/").split("/")
        if len(parts) == len(actual) and all(
            p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True)
        ):
            content = item["get"]["responses"][str(status)]["content"]
            return content["application/json"]["schema"]
    raise AssertionError(f"no operation for {path}")


def check_token_body(status: int, body: Any) -> None:
    if status == 200:
        assert set(body) == {"access_token", "expires_in", "token_type"}, body
        assert body["token_type"] in ("User Access Token", "Application Access Token")
        assert isinstance(body["expires_in"], int)
    elif status == 429:
        assert body["errors"][0]["errorId"] == 2001
    else:
        assert set(body) == {"error", "error_description"}, body


def check_rate_limits_body(status: int, body: Any) -> None:
    if status != 200:
        assert "errors" in body
        return
    for group in body["rateLimits"]:
        assert {"apiContext", "apiName", "apiVersion", "resources"} == set(group)
        for resource in group["resources"]:
            for rate in resource["rates"]:
                assert set(rate) == {"count", "limit", "remaining", "reset", "timeWindow"}
                assert rate["count"] + rate["remaining"] == rate["limit"] or rate["remaining"] == 0


def basic(creds: dict[str, str]) -> dict[str, str]:
    pair = f"{creds['client_id']}:{creds['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


KEYS = {"orders": "orderId", "transactions": "transactionId", "payouts": "payoutId"}


class Crawler:
    """A patient connector: every page of every resource, through throttles and faults."""

    def __init__(
        self, http: httpx.AsyncClient, clock: Any, creds: dict[str, str], validate: bool = True
    ) -> None:
        self.http, self.clock, self.creds = http, clock, creds
        self.spec_check = SpecCheck()
        self.validate = validate
        self.token = ""
        self.statuses: Counter = Counter()
        self.transcript: list[tuple[str, int, str]] = []  # (url, status, body digest)

    def check(self, response: httpx.Response) -> Any:
        digest = hashlib.blake2b(response.content, digest_size=8).hexdigest()
        self.transcript.append((str(response.request.url), response.status_code, digest))
        if self.validate:
            return self.spec_check(response)
        return response.json() if response.content else None

    async def login(self) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": self.creds["refresh_token"]}
        for _ in range(10):
            response = await self.http.post(
                "/ebay" + TOKEN_PATH, data=form, headers=basic(self.creds)
            )
            self.check(response)
            if response.status_code == 200:
                self.token = response.json()["access_token"]
                return
            await self.clock.sleep(5)
        raise AssertionError("could not log in")

    async def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        for _ in range(50):
            if not self.token:
                await self.login()
            headers = {"Authorization": f"Bearer {self.token}"}
            response = await self.http.get(url, params=params, headers=headers)
            self.statuses[response.status_code] += 1
            body = self.check(response)
            status = response.status_code
            if status in (200, 204):
                return response
            if status == 401:
                self.token = ""
            elif status == 429:
                await self.clock.sleep(await self.wait_for_quota(url))
            elif status >= 500 or body["errors"][0]["errorId"] in TRANSIENT_IDS:
                await self.clock.sleep(1)
            else:
                raise AssertionError(f"{url}: {status} {body}")
        raise AssertionError(f"{url}: gave up")

    async def wait_for_quota(self, url: str) -> float:
        """Seconds until the API of ``url`` has quota again (1 s if it has some now)."""
        api = next((n for n in ("Fulfillment", "Finances", "Inventory") if n.lower() in url), None)
        if api is None:  # getRateLimits itself was refused
            return 5.0
        response = await self.get("/ebay" + RATE_PATH, {"api_name": api})
        rate = response.json()["rateLimits"][0]["resources"][0]["rates"][0]
        if rate["remaining"] > 0:
            return 1.0
        return max(1.0, parse_iso(rate["reset"]) - self.clock.now())

    async def offset_pages(
        self, path: str, params: dict[str, Any], items: str, key: str
    ) -> list[dict[str, Any]]:
        """Every record of a record-offset collection, read page by page."""
        seen: dict[str, dict[str, Any]] = {}
        url: str | None = "/ebay" + path
        query: dict[str, Any] | None = {**params, "offset": 0}
        previous: set[str] = set()
        while url is not None:
            response = await self.get(url, query)
            if response.status_code == 204:
                break
            body = response.json()
            records = body[items]
            fresh = [r for r in records if r[key] not in previous]
            expected = min(body["limit"], body["total"] - body["offset"])
            if len(fresh) < expected:
                continue  # a short page: read it again
            for record in records:
                seen[record[key]] = record
            previous = {r[key] for r in records}
            if "next" in body:
                url, query = body["next"], None
            elif body["offset"] + body["limit"] < body["total"]:
                url, query = "/ebay" + path, {**params, "offset": body["offset"] + body["limit"]}
            else:
                url = None
        return list(seen.values())

    async def orders(self, start: float, end: float, limit: int = 50) -> list[dict[str, Any]]:
        window = f"creationdate:[{iso(start)}..{iso(end)}]"
        return await self.offset_pages(
            "/sell/fulfillment/v1/order", {"filter": window, "limit": limit}, "orders", "orderId"
        )

    async def modified_orders(self, start: float, end: float) -> list[dict[str, Any]]:
        window = f"lastmodifieddate:[{iso(start)}..{iso(end)}]"
        return await self.offset_pages(
            "/sell/fulfillment/v1/order", {"filter": window, "limit": 200}, "orders", "orderId"
        )

    async def transactions(self, start: float, end: float, limit: int = 50) -> list[dict[str, Any]]:
        window = f"transactionDate:[{iso(start)}..{iso(end)}]"
        return await self.offset_pages(
            "/sell/finances/v1/transaction",
            {"filter": window, "limit": limit},
            "transactions",
            "transactionId",
        )

    async def payouts(self, start: float, end: float, limit: int = 20) -> list[dict[str, Any]]:
        window = f"payoutDate:[{iso(start)}..{iso(end)}]"
        return await self.offset_pages(
            "/sell/finances/v1/payout", {"filter": window, "limit": limit}, "payouts", "payoutId"
        )

    async def inventory(self, limit: int = 10) -> list[dict[str, Any]]:
        """Page-number offsets: offset = 0, 1, 2, …"""
        seen: dict[str, dict[str, Any]] = {}
        number, previous = 0, set()
        while True:
            params = {"limit": limit, "offset": number}
            body = (await self.get("/ebay/sell/inventory/v1/inventory_item", params)).json()
            records = body["inventoryItems"]
            fresh = [r for r in records if r["sku"] not in previous]
            if len(fresh) < min(limit, body["total"] - number * limit):
                continue
            seen.update({r["sku"]: r for r in records})
            previous = {r["sku"] for r in records}
            number += 1
            if number * limit >= body["total"]:
                return list(seen.values())
