"""Every request the Amazon connector makes is one the official SP-API specs allow.

The specs (Swagger 2.0, read from ../shared/specs at test time) are walked directly
(openapi-core reads OpenAPI 3 only): for each request recorded on the wire during complete
crawls (paged, bulk, by last update, finance windows wider than 180 days) the method and
path must match an operation, every query parameter must be declared for it, the required
ones present, integers within the declared bounds, arrays (csv) within ``maxItems``,
enums respected, date-time parameters ISO 8601 UTC, and the createReport body valid
against ``CreateReportSpecification`` (jsonschema, with the file's definitions). Every
``PageRequest.route`` must be the operationId of its method and path (the ambassador's
bucket names). The LWA token endpoint and the presigned document URL are not SP-API
operations and are checked separately.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker

from shared.ambassador.policies import AMAZON_PLANS
from shared.platforms.base import Window
from tests.platforms.amazon.support import BASE_URL, AmazonEnv, crawl_bulk, crawl_paged

SPECS = Path(__file__).resolve().parents[3] / ".." / "shared" / "specs"
FILES = (
    "amazon-ordersV0.json",
    "amazon-financesV0.json",
    "amazon-reports_2021-06-30.json",
    "amazon-fbaInventory.json",
)
MOUNT = urlsplit(BASE_URL).path  # "/amazon": where the sandbox serves the SP-API paths
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
USED = {
    "getOrders",
    "getOrderItems",
    "listFinancialEventGroups",
    "listFinancialEventsByGroupId",
    "listFinancialEvents",
    "createReport",
    "getReports",
    "getReport",
    "getReportDocument",
    "getInventorySummaries",
}


@cache
def operations() -> list[tuple[str, re.Pattern[str], dict[str, Any], dict[str, Any]]]:
    """(method, path regex, operation, spec) for every operation of the four files."""
    out = []
    for name in FILES:
        spec = json.loads((SPECS / name).read_text())
        for template, item in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    params = [*item.get("parameters", []), *op.get("parameters", [])]
                    out.append((method.upper(), pattern, {**op, "parameters": params}, spec))
    return out


def operation(method: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    found = [(op, spec) for m, p, op, spec in operations() if m == method and p.match(path)]
    assert len(found) == 1, f"{method} {path}: {len(found)} spec operations match"
    return found[0]


def _resolve(param: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = param.get("$ref")
    return spec["parameters"][ref.rsplit("/", 1)[1]] if ref else param


def check_value(op_id: str, p: dict[str, Any], raw: str) -> None:
    name, kind = p["name"], p.get("type")
    values = raw.split(",") if kind == "array" else [raw]
    if kind == "array":
        assert len(values) <= p.get("maxItems", len(values)), f"{op_id}.{name}: too many"
        item = p.get("items", {})
        for v in values:
            assert v, f"{op_id}.{name}: empty array item"
            if "enum" in item:
                assert v in item["enum"], f"{op_id}.{name}: {v!r} not in enum"
        return
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", raw), f"{op_id}.{name}: {raw!r} is not an integer"
        assert p.get("minimum", -(10**18)) <= int(raw) <= p.get("maximum", 10**18), (op_id, name)
    elif kind == "boolean":
        assert raw in ("true", "false"), f"{op_id}.{name}: {raw!r} is not a boolean"
    if "enum" in p:
        assert raw in p["enum"], f"{op_id}.{name}: {raw!r} not in {p['enum']}"
    describes_date = p.get("format") == "date-time" or "8601" in p.get("description", "")
    if describes_date:
        assert ISO_UTC.match(raw), f"{op_id}.{name}: {raw!r} is not ISO 8601 UTC"
        datetime.fromisoformat(raw.replace("Z", "+00:00"))


def check_request(method: str, path: str, query: dict[str, list[str]], body: bytes) -> str:
    """Asserts the request fits its spec operation; returns the operationId."""
    op, spec = operation(method, path)
    op_id = op["operationId"]
    params = [_resolve(p, spec) for p in op["parameters"]]
    declared = {p["name"]: p for p in params if p["in"] == "query"}
    for name, values in query.items():
        assert name in declared, f"{op_id}: undeclared query parameter {name!r}"
        assert len(values) == 1, f"{op_id}.{name}: sent {len(values)} times"
        check_value(op_id, declared[name], values[0])
    for p in declared.values():
        if p.get("required"):
            assert p["name"] in query, f"{op_id}: required {p['name']!r} missing"
    bodies = [p for p in params if p["in"] == "body"]
    if bodies:
        schema = {**bodies[0]["schema"], "definitions": spec["definitions"]}
        validator = Draft4Validator(schema, format_checker=FormatChecker())
        errors = list(validator.iter_errors(json.loads(body)))
        assert not errors, f"{op_id} body: {errors[0].message}"
    else:
        assert not body, f"{op_id} takes no body"
    return op_id


@pytest.fixture(scope="module")
async def env() -> AmazonEnv:
    env = AmazonEnv()
    await crawl_paged(env)
    await crawl_bulk(env)
    connector = env.connector()
    window = env.history_window(before_history=timedelta(days=400))  # three finance slices
    for resource in ("payouts", "transactions"):
        await env.drive(connector, connector.first_request(resource, window, now=env.now()))
    recent = Window(start=env.now() - timedelta(days=7), end=env.now() - timedelta(minutes=3))
    await env.drive(connector, connector.first_request("orders", recent, by_update=True))
    await env.drive(
        connector, connector.first_request("order_items", recent, bulk=True, by_update=True)
    )
    await connector.aclose()
    return env


def wire(env: AmazonEnv) -> list[tuple[str, str, dict[str, list[str]], bytes]]:
    out = []
    for request in env.transport.requests:
        path = request.url.path
        if path == f"{MOUNT}/auth/o2/token" or path.startswith(f"{MOUNT}/documents/"):
            continue
        assert path.startswith(MOUNT + "/"), path
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        out.append((request.method, path[len(MOUNT) :], query, request.content))
    return out


async def test_every_request_on_the_wire_fits_the_spec(env: AmazonEnv) -> None:
    seen = {check_request(*request) for request in wire(env)}
    assert seen == USED, f"operations not exercised: {USED - seen}"


async def test_every_route_is_the_operation_id_and_a_policy_bucket(env: AmazonEnv) -> None:
    assert env.fetched
    for request in env.fetched:
        op, _ = operation(request.method, request.path)
        assert request.route == op["operationId"]
        assert request.route in AMAZON_PLANS
        assert request.cost == 1


async def test_finance_windows_wider_than_180_days_are_sliced(env: AmazonEnv) -> None:
    slices = set()
    for _, path, query, _ in wire(env):
        if path == "/finances/v0/financialEvents":
            after = datetime.fromisoformat(query["PostedAfter"][0].replace("Z", "+00:00"))
            before = datetime.fromisoformat(query["PostedBefore"][0].replace("Z", "+00:00"))
            assert timedelta(0) < before - after <= timedelta(days=180)
            slices.add((after, before))
    ordered = sorted(slices)
    assert len(ordered) >= 3
    assert all(a[1] == b[0] for a, b in pairwise(ordered)), "gaps"


async def test_side_channels_are_what_lwa_and_s3_expect(env: AmazonEnv) -> None:
    tokens = [r for r in env.transport.requests if r.url.path.endswith("/auth/o2/token")]
    assert tokens and all(r.method == "POST" for r in tokens)
    for r in tokens:
        assert r.headers["content-type"] == "application/x-www-form-urlencoded"
        form = parse_qs(r.content.decode())
        assert set(form) == {"grant_type", "refresh_token", "client_id", "client_secret"}
        assert form["grant_type"] == ["refresh_token"]
        assert "x-amz-access-token" not in r.headers
    downloads = [r for r in env.transport.requests if "/documents/" in r.url.path]
    downloads = [r for r in downloads if "/reports/" not in r.url.path]
    assert downloads, "reports were downloaded"
    assert all("x-amz-access-token" not in r.headers for r in downloads)
    api = [r for r in env.transport.requests if r not in tokens and r not in downloads]
    assert all(r.headers.get("x-amz-access-token", "").startswith("Atza|") for r in api)


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/orders/v0/orders", {"CreatedAfter": ["2026-01-01T00:00:00Z"]}, b""),
        (
            "GET",
            "/orders/v0/orders",
            {"MarketplaceIds": ["X"], "CreatedAfter": ["2026-01-01 00:00"]},
            b"",
        ),
        ("GET", "/orders/v0/orders", {"MarketplaceIds": ["X"], "Since": ["x"]}, b""),
        ("GET", "/finances/v0/financialEvents", {"MaxResultsPerPage": ["500"]}, b""),
        ("GET", "/fba/inventory/v1/summaries", {"granularityType": ["Country"]}, b""),
        ("POST", "/reports/2021-06-30/reports", {}, b'{"reportType": "X"}'),
        ("DELETE", "/orders/v0/orders", {}, b""),
    ],
    ids=["no-marketplace", "bad-date", "undeclared", "over-maximum", "enum", "body", "method"],
)
def test_the_checker_refuses_what_the_spec_refuses(method, path, query, body) -> None:
    with pytest.raises(AssertionError):
        check_request(method, path, query, body)
