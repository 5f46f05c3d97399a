"""The Shopify Admin API sandbox as a Starlette app (mounted by the world at ``/shopify``).

Path scheme: ``https://{shop}.myshopify.com/admin/api/{version}/…`` becomes
``/shopify/{shop}/admin/api/{version}/…``, ``{shop}`` being the ``*.myshopify.com``
subdomain (the client's account, e.g. ``shopify-c-tiny``); a connector's base URL
``https://{shop}.myshopify.com`` becomes ``http://<sandbox>/shopify/{shop}``.

    POST /{shop}/admin/oauth/access_token                  refresh an expiring offline token
    POST /{shop}/admin/api/{version}/graphql.json          Admin GraphQL
    GET  /{shop}/admin/api/{version}/orders.json           REST orders (see rest.py)
    GET  /bulk-results/{id}.jsonl?signature=…              a bulk operation's JSONL (no token)

``{version}`` is a quarterly release ``YYYY-01|04|07|10`` (anything else: 404); it is
echoed in ``X-Shopify-API-Version`` and decides the bulk concurrency.

Every API request goes through one pipeline:

    accounting.call -> shop exists and version is valid (404) -> X-Shopify-Access-Token
    (401; the ``token_expiry`` fault ends the token here) -> the limit (REST: leaky
    bucket, 429 + Retry-After, or the ``throttle_despite_budget`` fault; GraphQL: see
    below) -> ``timeout`` (60 s stall, then 503) -> ``server_error`` (500 or 503) ->
    ``updated_during_sync`` (an order of the shop changes now) -> the handler ->
    simulated latency (50-300 ms; ``slow`` adds 2-10 s).

GraphQL: the body must be JSON with a ``query`` string (else 400 ``{"errors": {"query":
"Required parameter missing or invalid"}}``); syntax and validation errors answer 200
with ``errors``; a requested cost over ``max_query_cost`` answers MAX_COST_EXCEEDED, a
bucket that cannot cover it (or the ``throttle_despite_budget`` fault) THROTTLED, both
without ``data`` and with ``extensions.cost`` (``actualQueryCost: null``), at HTTP 200
(``throttled_http_status`` to change). Otherwise the requested cost is debited, the query
runs, and the difference to the actual cost is refunded; ``extensions.cost`` reports
both and the bucket after the refund.

REST answers carry ``X-Shopify-Shop-Api-Call-Limit: used/size`` (after the key check).
Errors are ``{"errors": "<message>"}`` or ``{"errors": {field: message}}`` as Shopify's.
Fault decisions are keyed by the request's identity (endpoint, shop, sorted query or
body digest), so runs are reproducible per seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from graphql import ExecutionResult, GraphQLError, execute
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sandbox.responses import JSONResponse
from sandbox.shopify import rest
from sandbox.shopify.auth import INVALID_TOKEN, OAuthRefused
from sandbox.shopify.cost import operation, query_cost
from sandbox.shopify.schema import document, schema

if TYPE_CHECKING:
    from sandbox.shopify.facade import ShopifySandbox

PLATFORM = "shopify"
TIMEOUT_S = 60.0
VERSION = re.compile(r"20\d\d-(01|04|07|10)")
GRAPHQL = "POST /admin/api/{version}/graphql.json"
THROTTLED_DOC = "https://shopify.dev/api/usage/rate-limits"


class Refusal(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


class Pipeline:
    def __init__(self, sandbox: ShopifySandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self._seen: Counter = Counter()

    def roll(self, kind: str, *key: object) -> bool:
        hit = self.world.faults.roll(PLATFORM, kind, *key)
        if hit:
            self.world.accounting.fault(PLATFORM, kind)
        return hit

    async def finish(
        self,
        key: tuple[str, ...],
        status: int,
        body: Any,
        headers: dict[str, str],
        extra: float = 0.0,
    ) -> Response:
        n = self._seen[key]
        self._seen[key] += 1
        faults = self.world.faults
        latency = 0.05 + 0.25 * faults.uniform(PLATFORM, "latency", *key, n)
        if self.roll("slow", *key):
            latency += 2 + 8 * faults.uniform(PLATFORM, "slow-s", *key, n)
        await self.world.clock.sleep(latency + extra)
        if status == 429 and key[0] != GRAPHQL:  # GraphQL counts THROTTLED itself
            self.world.accounting.throttle(PLATFORM, key[0])
        if isinstance(body, str):
            return PlainTextResponse(body, status, headers=headers)
        return JSONResponse(body, status, headers=headers)

    def _shop(self, request: Request) -> str:
        shop = request.path_params["shop"]
        if not self.sandbox.has_shop(shop):
            raise Refusal(404, {"errors": "Not Found"})
        version = request.path_params.get("version")
        if version is not None and not VERSION.fullmatch(version):
            raise Refusal(404, {"errors": "Not Found"})
        return shop

    def _authenticate(self, request: Request, shop: str, key: tuple[str, ...], now: float) -> None:
        token = request.headers.get("x-shopify-access-token")
        if self.sandbox.auth.shop_of(token, now) != shop:
            raise Refusal(401, {"errors": INVALID_TOKEN})
        if self.roll("token_expiry", *key):
            self.sandbox.auth.expire(str(token), now)
            raise Refusal(401, {"errors": INVALID_TOKEN})

    async def _stall_or_fail(self, key: tuple[str, ...]) -> None:
        if self.roll("timeout", *key):
            await self.world.clock.sleep(TIMEOUT_S)
            raise Refusal(503, {"errors": "Service Unavailable"})
        if self.roll("server_error", *key):
            if self.world.faults.uniform(PLATFORM, "5xx", *key) < 0.5:
                raise Refusal(500, {"errors": "Internal Server Error"})
            raise Refusal(503, {"errors": "Service Unavailable"})

    def _touch(self, shop: str, key: tuple[str, ...], now: float) -> None:
        if self.roll("updated_during_sync", *key):
            self.sandbox.touch(
                self.sandbox.client_of_shop(shop),
                now,
                self.world.faults.uniform(PLATFORM, "touch", *key),
            )

    # --- REST ------------------------------------------------------------------------------
    async def rest_orders(self, request: Request) -> Response:
        endpoint = "GET /admin/api/{version}/orders.json"
        self.world.accounting.call(PLATFORM, endpoint)
        now = self.world.clock.now()
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        key = (endpoint, request.path_params["shop"], query)
        headers: dict[str, str] = {}
        try:
            shop = self._shop(request)
            self._authenticate(request, shop, key, now)
            bucket = self.sandbox.limits.rest(shop)
            headers = {"X-Shopify-API-Version": request.path_params["version"]}
            if self.roll("throttle_despite_budget", *key):
                raise Refusal(
                    429,
                    {"errors": _too_many(self.sandbox.policy.rest_leak)},
                    {"Retry-After": "1.0"},
                )
            admitted, wait = bucket.take(now)
            if not admitted:
                raise Refusal(
                    429,
                    {"errors": _too_many(self.sandbox.policy.rest_leak)},
                    {"Retry-After": f"{wait:.1f}"},
                )
            headers["X-Shopify-Shop-Api-Call-Limit"] = bucket.header(now)
            await self._stall_or_fail(key)
            self._touch(shop, key, now)
            data = self.sandbox.data(self.sandbox.client_of_shop(shop))
            status, body, more = rest.orders(
                data, now, request.query_params, request.url, lambda kind: self.roll(kind, *key)
            )
            headers.update(more)
        except Refusal as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
            if status != 401 and status != 404 and "X-Shopify-Shop-Api-Call-Limit" not in headers:
                headers["X-Shopify-Shop-Api-Call-Limit"] = self.sandbox.limits.rest(
                    request.path_params["shop"]
                ).header(now)
        return await self.finish(key, status, body, headers)

    # --- GraphQL ---------------------------------------------------------------------------
    async def graphql(self, request: Request) -> Response:
        endpoint = GRAPHQL
        self.world.accounting.call(PLATFORM, endpoint)
        now = self.world.clock.now()
        raw = await request.body()
        key = (
            endpoint,
            request.path_params["shop"],
            hashlib.blake2b(raw, digest_size=8).hexdigest(),
        )
        headers: dict[str, str] = {}
        try:
            shop = self._shop(request)
            self._authenticate(request, shop, key, now)
            headers["X-Shopify-API-Version"] = request.path_params["version"]
            payload = _graphql_payload(raw, request.headers.get("content-type", ""))
            root_path = request.scope.get("root_path", "")
            self.sandbox.bulk.url_base = f"{request.url.scheme}://{request.url.netloc}{root_path}"
            status, body = await self._graphql(
                shop, request.path_params["version"], payload, key, now
            )
        except Refusal as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
        return await self.finish(key, status, body, headers)

    async def _graphql(
        self, shop: str, version: str, payload: dict[str, Any], key: tuple[str, ...], now: float
    ) -> tuple[int, Any]:
        doc = document(payload["query"])
        if isinstance(doc, tuple):
            return 200, {"errors": [error.formatted for error in doc]}
        op = operation(doc, payload.get("operationName"))
        if op is None:
            return 200, {"errors": [{"message": "An operation name is required"}]}
        variables = payload.get("variables") or {}
        bucket, policy = self.sandbox.limits.graphql(shop), self.sandbox.policy
        requested = query_cost(schema(), doc, op, variables)
        if requested > policy.max_query_cost:
            return 200, {
                "errors": [
                    {
                        "message": f"Query cost is {requested}, which exceeds the single query "
                        f"max cost limit ({policy.max_query_cost}). To query larger amounts of "
                        "data, use bulk operations.",
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": policy.max_query_cost,
                        },
                    }
                ],
                "extensions": {"cost": _cost(requested, None, bucket.status(now))},
            }
        if self.roll("throttle_despite_budget", *key) or not bucket.debit(requested, now):
            self.world.accounting.throttle(PLATFORM, key[0])
            body = {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": THROTTLED_DOC},
                    }
                ],
                "extensions": {"cost": _cost(requested, None, bucket.status(now))},
            }
            return policy.throttled_http_status, body
        await self._stall_or_fail(key)
        self._touch(shop, key, now)
        root = self.sandbox.root(shop, now, version, lambda kind, *k: self.roll(kind, *key, *k))
        try:
            result = execute(
                schema(),
                doc,
                root_value=root,
                variable_values=variables,
                operation_name=payload.get("operationName"),
            )
        except GraphQLError as exc:  # pragma: no cover - execute reports errors in the result
            result = ExecutionResult(None, [exc])
        assert isinstance(result, ExecutionResult)
        actual = query_cost(schema(), doc, op, variables, result.data or {}) if result.data else 0
        if op.operation.value == "mutation":
            actual = requested
        bucket.refund(max(0, requested - actual), now)
        body = result.formatted
        body["extensions"] = {"cost": _cost(requested, actual, bucket.status(now))}
        if root.searches:
            body["extensions"]["search"] = root.searches
        return 200, body

    # --- token and bulk files --------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        endpoint = "POST /admin/oauth/access_token"
        self.world.accounting.call(PLATFORM, endpoint)
        now = self.world.clock.now()
        raw = await request.body()
        key = (
            endpoint,
            request.path_params["shop"],
            hashlib.blake2b(raw, digest_size=8).hexdigest(),
        )
        try:
            shop = self._shop(request)
            form = _form(raw, request.headers.get("content-type", ""))
            if self.roll("server_error", *key):
                raise Refusal(500, {"errors": "Internal Server Error"})
            status, body = 200, self.sandbox.auth.refresh(shop, form, now)
        except OAuthRefused as exc:
            status, body = exc.status, exc.body()
        except Refusal as exc:
            status, body = exc.status, exc.body
        return await self.finish(key, status, body, {})

    async def bulk_file(self, request: Request) -> Response:
        self.world.accounting.call(PLATFORM, "GET bulk-results")
        now = self.world.clock.now()
        number = request.path_params["number"]
        status, text = self.sandbox.bulk.download(
            int(number), request.query_params.get("signature"), now
        )
        media = "application/jsonl" if status == 200 else "application/xml"
        await self.world.clock.sleep(0.05 + len(text) / 50_000_000)
        return Response(text, status, media_type=media)


def _too_many(leak: float) -> str:
    rate = int(leak) if float(leak).is_integer() else leak
    return (
        f"Exceeded {rate} calls per second for api client. "
        "Reduce request rates to resume uninterrupted service."
    )


def _cost(requested: int, actual: int | None, status: dict[str, float]) -> dict[str, Any]:
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}


def _graphql_payload(raw: bytes, content_type: str) -> dict[str, Any]:
    missing = Refusal(400, {"errors": {"query": "Required parameter missing or invalid"}})
    if "application/graphql" in content_type:
        return {"query": raw.decode("utf-8", "replace")}
    try:
        payload = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise missing from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise missing
    if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
        raise Refusal(400, {"errors": {"variables": "Required parameter missing or invalid"}})
    return payload


def _form(raw: bytes, content_type: str) -> dict[str, Any]:
    if "application/json" in content_type:
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def build_app(sandbox: ShopifySandbox) -> Starlette:
    pipeline = Pipeline(sandbox)

    async def unknown(request: Request, exc: HTTPException) -> Response:
        sandbox.world.accounting.call(PLATFORM, "unknown")
        await sandbox.world.clock.sleep(0.05)
        if exc.status_code == 405:
            return JSONResponse({"errors": "Method Not Allowed"}, 405)
        return JSONResponse({"errors": "Not Found"}, 404)

    api = "/{shop}/admin/api/{version}"
    routes = [
        Route("/{shop}/admin/oauth/access_token", pipeline.token, methods=["POST"]),
        Route(f"{api}/graphql.json", pipeline.graphql, methods=["POST"]),
        Route(f"{api}/orders.json", pipeline.rest_orders, methods=["GET"]),
        Route("/bulk-results/{number:int}.jsonl", pipeline.bulk_file, methods=["GET"]),
    ]
    handlers = {404: unknown, 405: unknown}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
