"""Every request ``EtsyConnector`` sends, checked against Etsy's official OpenAPI file.

The spec is read in place from ../shared/specs (never copied) and loaded in openapi-core
with its spec validator switched off (the file fails openapi-core's own check). Two
in-memory adjustments, each for a defect of the June 2021 file:

- optional query parameters declared ``default: null`` on a non-nullable integer
  (getShopReceipts' ``min_created`` …) lose that default: openapi-core would otherwise
  fill every absent one with null and refuse it;
- Etsy's current path ``/v3/application/shops/{shop_id}/transactions`` gets the
  operation the file has at ``/v3/application/transactions``
  (getShopReceiptTransactionsByShop), with the shop id parameter;
- Etsy's current getListingsByShop (GET) is added (``tests.sandbox.etsy_support.
  add_listings_by_shop``): the 2021 file has only the POST at that path.

openapi-core checks the path, the method, required parameters, types, minimum /
maximum and the ``x-api-key`` security; on top, every query parameter must be declared
by the operation, and ``x-api-key`` must be ``keystring:shared_secret`` (Etsy since
2026-02-09) and a ledger window at most 31 days (etsy/open-api #346). The token endpoint
is not in the file: its form is checked against MARKETPLACE_APIS.md §5.1.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest

from shared.platforms.base import Window
from shared.platforms.etsy.pagination import LEDGER_WINDOW_S
from tests.platforms.etsy import support
from tests.platforms.etsy.support import drain
from tests.sandbox.etsy_support import add_listings_by_shop

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type")  # oauth2: unchecked
SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs" / "etsy-openapi-v3.json"
HOST = "https://openapi.etsy.com"
TOKEN_PATH = "/v3/public/oauth/token"


@cache
def spec() -> tuple[OpenAPI, dict[str, Any]]:
    raw = json.loads(SPEC.read_text())
    paths = raw["paths"]
    for item in paths.values():
        for op in item.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                schema = param.get("schema", {})
                if "default" in schema and schema["default"] is None:
                    del schema["default"]
    by_shop = copy.deepcopy(paths["/v3/application/transactions"])
    shop = copy.deepcopy(paths["/v3/application/shops/{shop_id}/receipts"]["get"]["parameters"][0])
    by_shop["get"]["parameters"].insert(0, shop)
    paths["/v3/application/shops/{shop_id}/transactions"] = by_shop
    add_listings_by_shop(raw)
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None)), raw


def operation(raw: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    actual = path.strip("/").split("/")
    for template, item in raw["paths"].items():
        parts = template.strip("/").split("/")
        same = len(parts) == len(actual) and all(
            p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True)
        )
        if same and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the spec")


def check(request: httpx.Request) -> None:
    """Raise AssertionError (or openapi-core's error) unless the request is as the spec says."""
    path = request.url.path.removeprefix("/etsy")
    if path == TOKEN_PATH:
        check_token(request)
        return
    api, raw = spec()
    args = dict(request.url.params.multi_items())
    declared = {p["name"] for p in operation(raw, request.method, path).get("parameters", [])}
    assert set(args) <= declared, f"{path}: undeclared {sorted(set(args) - declared)}"
    keystring, _, secret = request.headers.get("x-api-key", "").partition(":")
    assert keystring and secret, "x-api-key must be keystring:shared_secret"
    assert re.fullmatch(r"Bearer \S+", request.headers.get("authorization", ""))
    mock = MockRequest(HOST, request.method.lower(), path, args=args, headers=dict(request.headers))
    api.validate_request(mock)
    if path.endswith("/payment-account/ledger-entries"):
        span = int(args["max_created"]) - int(args["min_created"])
        assert 0 <= span <= LEDGER_WINDOW_S, f"ledger window of {span} s"


def check_token(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.content.decode()))
    assert set(form) == {"grant_type", "client_id", "refresh_token"}
    assert form["grant_type"] == "refresh_token" and form["client_id"] and form["refresh_token"]


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


async def test_every_request_of_every_chain_matches_the_spec() -> None:
    world = support.world()
    recording = Recording(world.transport())
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    from shared.platforms.etsy.auth import TokenCache
    from shared.platforms.etsy.client import build

    conn = build(
        support.settings(),
        creds,
        support.ACCOUNT,
        transport=recording,
        clock=lambda: datetime.fromtimestamp(world.clock.now(), UTC),
        cache=TokenCache(),
        page_limit=40,
    )
    now = world.clock.now()
    window = Window(
        start=datetime.fromtimestamp(now - 75 * 86_400, UTC),
        end=datetime.fromtimestamp(now + 1, UTC),
    )
    chains = [
        (resource, window, {"bulk": bulk, "by_update": by_update})
        for resource, bulk, by_update in [
            ("orders", False, False),
            ("orders", False, True),
            ("order_items", False, False),
            ("order_items", False, True),
            ("order_items", True, False),
            ("transactions", False, False),
            ("payouts", False, False),
            ("returns", False, False),
            ("inventory", False, False),
        ]
    ]
    chains.append(("orders", None, {}))
    chains.append(("order_items", None, {"bulk": True}))
    try:
        for resource, span, kwargs in chains:
            await drain(conn, conn.first_request(resource, span, **kwargs), world.clock)
    finally:
        await conn.aclose()
    operations, paged = set(), set()
    for request in recording.requests:
        check(request)
        path = request.url.path.removeprefix("/etsy")
        if path != TOKEN_PATH:
            name = operation(spec()[1], request.method, path)["operationId"]
            operations.add(name)
            if int(request.url.params.get("offset", 0)) > 0:
                paged.add(name)
    assert operations == {
        "getShopReceipts",
        "getShopReceiptTransactionsByShop",
        "getShopPaymentAccountLedgerEntries",
        "getShopPaymentByReceiptId",
        "getListingsByShop",
    }
    # later pages were asked for too (40 a page), not only first pages
    assert {"getShopReceipts", "getShopReceiptTransactionsByShop"} <= paged
    assert "getShopPaymentAccountLedgerEntries" in paged
    assert len(recording.requests) > 50


def _request(path: str, **params: Any) -> httpx.Request:
    headers = {"x-api-key": "key:secret", "authorization": "Bearer 1.abc"}
    return httpx.Request("GET", f"http://sandbox/etsy{path}", params=params, headers=headers)


SHOP = "/v3/application/shops/123"


@pytest.mark.parametrize(
    ("path", "params", "headers", "error"),
    [
        (f"{SHOP}/receipts", {"limit": 101}, {}, "query parameter: limit"),
        (f"{SHOP}/receipts", {"min_created": 5}, {}, "query parameter: min_created"),
        (f"{SHOP}/receipts", {"was_paid": "maybe"}, {}, "parameter error: was_paid"),
        (f"{SHOP}/receipts", {"sort_on": "created"}, {}, "undeclared"),  # not in the 2021 file
        (f"{SHOP}/payment-account/ledger-entries", {"limit": 10}, {}, "required query"),
        (
            f"{SHOP}/payment-account/ledger-entries",
            {"min_created": 1_700_000_000, "max_created": 1_700_000_000 + LEDGER_WINDOW_S + 1},
            {},
            "ledger window",
        ),
        ("/v3/application/shops/0/receipts", {}, {}, "path parameter: shop_id"),
        (f"{SHOP}/refunds", {}, {}, "not in the spec"),
        (f"{SHOP}/receipts", {}, {"x-api-key": "key"}, "keystring:shared_secret"),
    ],
)
def test_the_check_refuses_requests_the_spec_refuses(path, params, headers, error) -> None:
    request = _request(path, **params)
    request.headers.update(headers)
    with pytest.raises(Exception, match=error):  # openapi-core's errors or AssertionError
        check(request)


def test_the_check_accepts_a_well_formed_request() -> None:
    check(_request(f"{SHOP}/receipts", min_created=946_684_800, limit=100, offset=0))
