"""Test support for the Etsy sandbox: spec validation and a patient crawler.

``SpecCheck`` validates every response against the official OpenAPI file in ../shared/specs
(read in place, never copied) with openapi-core, the spec validator switched off (the file
fails openapi-core's own check on a ``default: null``). In-memory adjustments, each
because the June 2021 file lags the API the sandbox serves:

- Etsy's current path ``/v3/application/shops/{shop_id}/transactions`` is added with the
  operation the 2021 file has at ``/v3/application/transactions``
  (getShopReceiptTransactionsByShop);
- ShopListing ``state`` lists the digits '0'..'5' as its enum while its description names
  the states the API returns ("active", …), and ``listing_type`` is typed boolean while
  described as a string ("physical"/"download"): both are taken from their descriptions;
- nullable properties with an ``enum`` (ShopListing ``recipient``, ``occasion``, units…)
  get ``null`` in the enum: OpenAPI 3.0.3 requires it for a null to validate, and the API
  answers null for them;
- PaymentAccountLedgerEntry may carry ``ledger_type``, ``reference_type`` and
  ``reference_id`` (added to Etsy's ledger entries after 2021, etsy/open-api #442);
- ShopReceipt may carry ``transactions`` (its ShopReceiptTransactions) and ``refunds``,
  a list of ShopRefund (``amount`` Money, ``created_timestamp``, nullable ``reason``,
  ``note_from_issuer``, ``status``), as Etsy's current ShopReceipt does;
- getListingsByShop (``GET /v3/application/shops/{shop_id}/listings``, Etsy's current
  API; ``add_listings_by_shop``): ``state``, ``limit``, ``offset``, ``sort_on``,
  ``sort_order``, ``includes``, ``legacy``; it answers ShopListings whose listings may
  carry ``inventory`` (a ListingInventory) when ``includes=Inventory``.

Statuses a path does not declare (401, 429, 504 and some 400s) are checked against the
spec's ``ErrorSchema``. Every served object may only hold properties its schema declares,
and every answer after the API-key check carries Etsy's four rate-limit headers (a 429
also ``retry-after``). The token endpoint is not in the spec; its shape is checked by hand.

``Crawler`` is what a careful connector does: refresh the token on 401 (keeping the
rotated refresh token), wait ``retry-after`` on 429, retry 5xx, re-read short pages, and
drop duplicates by natural key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "etsy-openapi-v3.json"
TOKEN_PATH = "/v3/public/oauth/token"
LIMIT_HEADERS = (
    "x-limit-per-second",
    "x-remaining-this-second",
    "x-limit-per-day",
    "x-remaining-today",
)
NEWER_LEDGER_FIELDS = {
    "ledger_type": {"type": "string"},
    "reference_type": {"type": "string"},
    "reference_id": {"type": "string"},
}
SHOP_REFUND = {
    "type": "object",
    "properties": {
        "amount": {"allOf": [{"$ref": "#/components/schemas/Money"}]},
        "created_timestamp": {"type": "integer", "minimum": 946684800},
        "reason": {"type": "string", "nullable": True},
        "note_from_issuer": {"type": "string", "nullable": True},
        "status": {"type": "string", "nullable": True},
    },
}
NEWER_RECEIPT_FIELDS = {
    "transactions": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ShopReceiptTransaction"},
    },
    "refunds": {"type": "array", "items": {"$ref": "#/components/schemas/ShopRefund"}},
}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def add_listings_by_shop(raw: dict[str, Any]) -> None:
    """Add Etsy's current getListingsByShop (GET) and its answer's schemas to ``raw``."""
    schemas = raw["components"]["schemas"]
    with_associations = copy.deepcopy(schemas["ShopListing"])
    with_associations["properties"]["inventory"] = {
        "allOf": [{"$ref": "#/components/schemas/ListingInventory"}]
    }
    schemas["ShopListingWithAssociations"] = with_associations
    listings = copy.deepcopy(schemas["ShopListings"])
    listings["properties"]["results"]["items"]["allOf"] = [
        {"$ref": "#/components/schemas/ShopListingWithAssociations"}
    ]
    schemas["ShopListingsWithAssociations"] = listings
    active = raw["paths"]["/v3/application/shops/{shop_id}/listings/active"]["get"]
    shop_id, limit, offset = (copy.deepcopy(p) for p in active["parameters"][:3])
    states = ["active", "inactive", "sold_out", "draft", "expired"]
    sorts = ["created", "price", "updated", "score"]
    orders = ["asc", "ascending", "desc", "descending", "up", "down"]
    associations = ["Shipping", "Images", "Shop", "User", "Translations", "Inventory"]
    associations += ["Videos", "Personalization"]
    includes = {"type": "array", "items": {"type": "string", "enum": associations}}
    answer = {"$ref": "#/components/schemas/ShopListingsWithAssociations"}
    raw["paths"]["/v3/application/shops/{shop_id}/listings"]["get"] = {
        "operationId": "getListingsByShop",
        "parameters": [
            shop_id,
            _query("state", {"type": "string", "enum": states}),
            limit,
            offset,
            _query("sort_on", {"type": "string", "enum": sorts}),
            _query("sort_order", {"type": "string", "enum": orders}),
            {**_query("includes", includes), "style": "form", "explode": False},
            _query("legacy", {"type": "boolean"}),
        ],
        "responses": {
            "200": {
                "description": "A list of Listings",
                "content": {"application/json": {"schema": answer}},
            }
        },
        "security": [{"api_key": [], "oauth2": ["listings_r"]}],
    }


@cache
def spec() -> tuple[OpenAPI, dict[str, Any]]:
    raw = json.loads(SPEC.read_text())
    paths = raw["paths"]
    by_shop = copy.deepcopy(paths["/v3/application/transactions"])
    shop_param = copy.deepcopy(
        paths["/v3/application/shops/{shop_id}/receipts"]["get"]["parameters"][0]
    )
    by_shop["get"]["parameters"].insert(0, shop_param)
    paths["/v3/application/shops/{shop_id}/transactions"] = by_shop
    schemas = raw["components"]["schemas"]
    listing = schemas["ShopListing"]["properties"]
    listing["state"]["enum"] = ["active", "inactive", "sold_out", "draft", "expired"]
    listing["listing_type"] = {"type": "string", "enum": ["physical", "download", "both"]}
    schemas["PaymentAccountLedgerEntry"]["properties"].update(NEWER_LEDGER_FIELDS)
    schemas["ShopRefund"] = copy.deepcopy(SHOP_REFUND)
    schemas["ShopReceipt"]["properties"].update(copy.deepcopy(NEWER_RECEIPT_FIELDS))
    add_listings_by_shop(raw)
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if prop.get("nullable") and "enum" in prop and None not in prop["enum"]:
                prop["enum"].append(None)
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None)), raw


def _resolve(schema: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or ("allOf" in schema and len(schema["allOf"]) == 1):
        if "$ref" in schema:
            schema = raw["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        else:
            schema = schema["allOf"][0]
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


def _error(raw: dict[str, Any], body: Any) -> None:
    OAS30Validator({**raw["components"]["schemas"]["ErrorSchema"]}).validate(body)
    assert isinstance(body["error"], str) and body["error"]


def _schema_for(raw: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    actual = path.strip("/").split("/")
    for template, item in raw["paths"].items():
        parts = template.strip("/").split("/")
        matches = len(parts) == len(actual) and all(
            p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True)
        )
        responses = item.get("get", {}).get("responses", {})
        if matches and str(status) in responses:
            return responses[str(status)]["content"]["application/json"]["schema"]
    raise AssertionError(f"no operation for {path}")


class SpecCheck:
    def __init__(self) -> None:
        self.checked: Counter = Counter()  # (path, status) -> responses validated

    def __call__(self, response: httpx.Response) -> Any:
        path = response.request.url.path.removeprefix("/etsy")
        status = response.status_code
        body = response.json()
        if path == TOKEN_PATH:
            check_token_body(status, body)
        else:
            self._api(response, path, status, body)
        self.checked[(path, status)] += 1
        return body

    def _api(self, response: httpx.Response, path: str, status: int, body: Any) -> None:
        api, raw = spec()
        key_refused = status == 403 and "x-api-key" in body.get("error", "").lower()
        key_refused |= body == {"error": "Invalid API key"}
        if path.startswith("/v3/application") and not key_refused and status not in (404, 405):
            assert all(h in response.headers for h in LIMIT_HEADERS), (path, status)
        if status == 429:
            assert int(response.headers["retry-after"]) >= 1
        args = dict(response.request.url.params.multi_items())
        request = MockRequest("https://openapi.etsy.com", "get", path, args=args)
        mock = MockResponse(response.content, status_code=status, content_type="application/json")
        try:
            api.validate_response(request, mock)
        except (PathNotFound, OperationNotFound):
            assert status in (404, 405), f"{path} answered {status}"
            _error(raw, body)
            return
        except ResponseNotFound:
            assert status in (400, 401, 403, 404, 429, 500, 504), f"{path} may not answer {status}"
            _error(raw, body)
            return
        if status >= 400:
            _error(raw, body)
            return
        extra = undeclared(body, _schema_for(raw, path, status), raw)
        assert not extra, f"{path}: undeclared fields {extra[:5]}"


def check_token_body(status: int, body: Any) -> None:
    if status == 200:
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}, body
        user = body["access_token"].split(".", 1)[0]
        assert user.isdigit() and body["refresh_token"].startswith(user + ".")
        assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
    else:
        assert set(body) == {"error", "error_description"}, body


class Crawler:
    """A patient connector: every page of every resource, through throttles and faults."""

    def __init__(
        self, http: httpx.AsyncClient, clock: Any, creds: dict[str, str], validate: bool = True
    ) -> None:
        self.http, self.clock, self.creds = http, clock, creds
        self.refresh = creds["refresh_token"]
        self.spec_check = SpecCheck()
        self.validate = validate
        self.token = ""
        self.statuses: Counter = Counter()
        self.transcript: list[tuple[str, int, str]] = []
        self.shop = f"/etsy/v3/application/shops/{creds['shop_id']}"

    def check(self, response: httpx.Response) -> Any:
        digest = hashlib.blake2b(response.content, digest_size=8).hexdigest()
        self.transcript.append((str(response.request.url), response.status_code, digest))
        return self.spec_check(response) if self.validate else response.json()

    async def login(self) -> None:
        for _ in range(10):
            form = {
                "grant_type": "refresh_token",
                "client_id": self.creds["keystring"],
                "refresh_token": self.refresh,
            }
            response = await self.http.post("/etsy" + TOKEN_PATH, data=form)
            body = self.check(response)
            if response.status_code == 200:
                self.token, self.refresh = body["access_token"], body["refresh_token"]
                return
            await self.clock.sleep(5)
        raise AssertionError("could not log in")

    async def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        for _ in range(50):
            if not self.token:
                await self.login()
            headers = {
                "x-api-key": f"{self.creds['keystring']}:{self.creds['shared_secret']}",
                "Authorization": f"Bearer {self.token}",
            }
            response = await self.http.get(url, params=params, headers=headers)
            self.statuses[response.status_code] += 1
            body = self.check(response)
            if response.status_code == 200:
                return body
            if response.status_code == 401:
                self.token = ""
            elif response.status_code == 429:
                await self.clock.sleep(float(response.headers["retry-after"]))
            elif response.status_code >= 500:
                await self.clock.sleep(1)
            else:
                raise AssertionError(f"{url}: {response.status_code} {body}")
        raise AssertionError(f"{url}: gave up")

    async def pages(self, path: str, key: str, limit: int, **params: Any) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        offset, previous = 0, set()
        while True:
            body = await self.get(self.shop + path, {**params, "limit": limit, "offset": offset})
            results = body["results"]
            fresh = [r for r in results if r[key] not in previous]
            if len(fresh) < min(limit, body["count"] - offset):
                continue  # a short page: read it again
            seen.update({r[key]: r for r in results})
            previous = {r[key] for r in results}
            offset += limit
            if offset >= body["count"]:
                return list(seen.values())

    async def ledger(self, start: int, end: int, limit: int) -> list[dict[str, Any]]:
        seen: dict[int, dict[str, Any]] = {}
        window = 30 * 86_400
        for low in range(start, end + 1, window):
            high = min(low + window, end)
            for entry in await self.pages(
                "/payment-account/ledger-entries",
                "entry_id",
                limit,
                min_created=low,
                max_created=high,
            ):
                seen[entry["entry_id"]] = entry
        return list(seen.values())

    async def payments(
        self, receipts: list[dict[str, Any]], ledger: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Posted payments in batches through their ledger entries; the rest (not shipped
        yet, canceled) one receipt at a time."""
        found: dict[int, dict[str, Any]] = {}
        ids = [e["entry_id"] for e in ledger if e["ledger_type"] == "Payment"]
        for i in range(0, len(ids), 50):
            batch = ",".join(map(str, ids[i : i + 50]))
            body = await self.get(
                f"{self.shop}/payment-account/ledger-entries/payments", {"ledger_entry_ids": batch}
            )
            found.update({p["receipt_id"]: p for p in body["results"]})
        for receipt in receipts:
            if receipt["receipt_id"] not in found:
                body = await self.get(f"{self.shop}/receipts/{receipt['receipt_id']}/payments")
                found.update({p["receipt_id"]: p for p in body["results"]})
        return list(found.values())

    async def inventory(self, limit: int) -> list[dict[str, Any]]:
        listings = await self.pages("/listings/active", "listing_id", limit)
        out = []
        for listing in listings:
            url = f"/etsy/v3/application/listings/{listing['listing_id']}/inventory"
            out.append({"listing_id": listing["listing_id"], **await self.get(url)})
        return out
