"""Every request the eBay connector makes is one the official Sell API specs allow.

The OpenAPI 3 files in ../shared/specs (read at test time) are walked for each request
recorded on the wire during complete crawls (default and small pages, creation and
last-modified windows): the path, under the server's ``basePath``, must match an
operation of the method; every query parameter must be declared for it and the required
ones present; ``limit`` must be an integer within the maximum the parameter's description
states ("Maximum: 200", "from 1 to 100") and ``offset`` a non-negative integer; every
``filter`` criterion must be one the parameter's description documents, its range in
``[start..end]`` syntax with ``YYYY-MM-DDTHH:MM:SS.sssZ`` timestamps. The token request
must be the refresh grant with Basic client authentication.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from shared.ambassador.policies import PlatformPolicy
from shared.platforms.base import Window
from tests.platforms.ebay.support import BASE_URL, EbayEnv

SPECS = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs"
FILES = (
    "ebay-sell_fulfillment_v1_oas3.yaml",
    "ebay-sell_finances_v1_oas3.yaml",
    "ebay-sell_inventory_v1_oas3.json",
)
MOUNT = urlsplit(BASE_URL).path
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
USED = {"getOrders", "getTransactions", "getPayouts", "getInventoryItems"}
RESOURCES = ("orders", "order_items", "returns", "transactions", "payouts", "inventory")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@cache
def operations() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    out = []
    for name in FILES:
        raw = (SPECS / name).read_text()
        spec = yaml.safe_load(raw) if name.endswith(".yaml") else json.loads(raw)
        server = spec["servers"][0]
        base = server["variables"]["basePath"]["default"]
        for template, item in spec["paths"].items():
            full = base + template
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", full) + "$")
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    out.append((method.upper(), pattern, op))
    return out


def operation(method: str, path: str) -> dict[str, Any]:
    found = [op for m, p, op in operations() if m == method and p.match(path)]
    assert len(found) == 1, f"{method} {path}: {len(found)} spec operations match"
    return found[0]


def limit_bounds(description: str) -> tuple[int, int]:
    text = _text(description)
    if m := re.search(r"from (\d+) to (\d+)", text):
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"Maximum:\s*(\d+)", text)
    assert m, "the spec states the limit's maximum"
    return 1, int(m.group(1))


def split_criteria(raw: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in raw:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def check_filter(op_id: str, description: str, raw: str) -> None:
    documented = set(re.findall(r"<b>(\w+)</b>", description)) | set(
        re.findall(r"<strong>(\w+)</strong>", description)
    )
    for criterion in split_criteria(raw):
        name, sep, value = criterion.partition(":")
        assert sep and name in documented, f"{op_id}: filter {name!r} is not documented"
        m = re.fullmatch(r"\[([^\]]*?)\.\.([^\]]*)\]", value)
        if m:
            for stamp in m.groups():
                assert stamp == "" or STAMP.match(stamp), f"{op_id}: {name} {stamp!r}"
            assert m.group(1), f"{op_id}: {name} range without a start"
        else:
            assert re.fullmatch(r"\{[A-Z_|]+\}", value), f"{op_id}: {name} value {value!r}"


def check_request(method: str, path: str, query: dict[str, list[str]]) -> str:
    op = operation(method, path)
    op_id = op["operationId"]
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, values in query.items():
        assert name in declared, f"{op_id}: undeclared query parameter {name!r}"
        assert len(values) == 1, f"{op_id}.{name}: sent {len(values)} times"
        value, description = values[0], declared[name].get("description", "")
        if name == "limit":
            low, high = limit_bounds(description)
            assert value.isdigit() and low <= int(value) <= high, f"{op_id}: limit {value}"
        elif name == "offset":
            assert value.isdigit(), f"{op_id}: offset {value!r}"
        elif name == "filter":
            check_filter(op_id, description, value)
    for p in declared.values():
        if p.get("required"):
            assert p["name"] in query, f"{op_id}: required {p['name']!r} missing"
    return op_id


@pytest.fixture(scope="module")
async def env() -> EbayEnv:
    env = EbayEnv()
    window = env.history_window()
    for page_limit in (None, 7):
        connector = env.connector(page_limit)
        for resource in RESOURCES:
            await env.drive(connector, connector.first_request(resource, window))
        await connector.aclose()
    connector = env.connector()
    recent = Window(start=env.now() - timedelta(days=7), end=env.now())
    await env.drive(connector, connector.first_request("orders", recent, by_update=True))
    await connector.aclose()
    return env


def wire(env: EbayEnv) -> list[tuple[str, str, dict[str, list[str]]]]:
    out = []
    for request in env.transport.requests:
        path = request.url.path
        if path.endswith("/identity/v1/oauth2/token"):
            continue
        assert path.startswith(MOUNT + "/"), path
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        out.append((request.method, path[len(MOUNT) :], query))
    return out


async def test_every_request_on_the_wire_fits_the_spec(env: EbayEnv) -> None:
    requests = wire(env)
    seen = {check_request(*request) for request in requests}
    assert seen == USED
    for request in env.transport.requests:  # the spec: [ ] { } | must be percent-encoded
        assert not set(request.url.query.decode()) & set("[]{}|"), request.url.query
    filters = [q["filter"][0] for _, _, q in requests if "filter" in q]
    assert any(f.startswith("lastmodifieddate:") for f in filters)
    assert any(f.startswith("creationdate:") for f in filters)


async def test_routes_are_the_policy_routes(env: EbayEnv) -> None:
    policy = PlatformPolicy.from_settings("ebay")
    lanes = {
        "getOrders": "fulfillment",
        "getTransactions": "finances",
        "getPayouts": "finances",
        "getInventoryItems": "inventory",
    }
    for request in env.fetched:
        op = operation(request.method, request.path)
        assert policy.lane_of(request.route) == lanes[op["operationId"]]


async def test_inventory_offset_is_a_page_number(env: EbayEnv) -> None:
    offsets = [
        (int(q["limit"][0]), int(q["offset"][0]))
        for _, path, q in wire(env)
        if path.endswith("/inventory_item") and q["limit"] == ["7"]
    ]
    assert len(offsets) >= 2, "the small-page crawl needs several inventory pages"
    assert [o for _, o in offsets] == list(range(len(offsets)))


async def test_token_requests_are_refresh_grants_with_basic_auth(env: EbayEnv) -> None:
    tokens = [r for r in env.transport.requests if r.url.path.endswith("/oauth2/token")]
    assert tokens
    for r in tokens:
        assert r.method == "POST"
        assert r.headers["content-type"] == "application/x-www-form-urlencoded"
        scheme, _, encoded = r.headers["authorization"].partition(" ")
        assert scheme == "Basic"
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        assert (client_id, secret) == (
            env.credentials["client_id"],
            env.credentials["client_secret"],
        )
        form = parse_qs(r.content.decode())
        assert form["grant_type"] == ["refresh_token"]
        assert set(form) == {"grant_type", "refresh_token", "scope"}


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/sell/fulfillment/v1/order", {"limit": ["201"]}),
        ("/sell/fulfillment/v1/order", {"filter": ["created:[2026-01-01T00:00:00.000Z..]"]}),
        ("/sell/fulfillment/v1/order", {"filter": ["creationdate:[2026-01-01T00:00:00Z..]"]}),
        ("/sell/finances/v1/payout", {"filter": ["payoutDate:[..2026-01-01T00:00:00.000Z]"]}),
        ("/sell/finances/v1/transaction", {"page": ["1"]}),
        ("/sell/inventory/v1/inventory_item", {"limit": ["200"]}),
        ("/sell/inventory/v1/inventory_items", {}),
    ],
    ids=["limit", "filter-name", "stamp", "no-start", "undeclared", "inventory-limit", "path"],
)
def test_the_checker_refuses_what_the_spec_refuses(path, query) -> None:
    with pytest.raises(AssertionError):
        check_request("GET", path, query)
