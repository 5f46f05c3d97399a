"""The eBay sandbox as a Starlette app (mounted by the world at ``/ebay``).

Routes (eBay's own paths; the real Finances host is apiz.ebay.com, here everything is
under one mount):

    POST /identity/v1/oauth2/token                      token endpoint (auth.py)
    GET  /sell/fulfillment/v1/order                     getOrders
    GET  /sell/fulfillment/v1/order/{orderId}           getOrder
    GET  /sell/finances/v1/transaction                  getTransactions
    GET  /sell/finances/v1/payout                       getPayouts
    GET  /sell/finances/v1/payout/{payout_Id}           getPayout
    GET  /sell/inventory/v1/inventory_item              getInventoryItems
    GET  /sell/inventory/v1/inventory_item/{sku}        getInventoryItem
    GET  /developer/analytics/v1_beta/rate_limit/       getRateLimits

Every API request goes through one pipeline:

    accounting.call -> Authorization: Bearer (401 1002 missing / 1001 invalid or expired;
    the ``token_expiry`` fault ends the token here) -> scope (403 1100) -> the
    application's daily quota for the API (429 2001, or the ``throttle_despite_budget``
    fault; the quota counts the call once admitted) -> ``timeout`` (60 s stall, then 504)
    -> ``server_error`` (500 2003) -> ``ebay_transient`` (500 with the API's system
    errorId, 404 2002 or 400 2004, which succeed on retry) -> the handler (400 with the
    spec's errorIds / 404 / 200 / 204) -> simulated latency on the world clock
    (80-400 ms; ``slow`` adds 2-10 s).

Fault decisions are keyed by the request's identity (endpoint, path, sorted query,
account), so a run is reproducible per seed and a retried request can succeed. Unknown
routes answer 404 errorId 2002 (405 for a wrong method) in eBay's envelope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.ebay import api_analytics, api_finances, api_fulfillment, api_inventory
from sandbox.ebay.auth import API_SCOPES
from sandbox.ebay.errors import (
    EbayError,
    OAuthError,
    access_denied,
    internal_error,
    invalid_request,
    invalid_token,
    missing_token,
    not_found,
    system_error,
    too_many_requests,
)
from sandbox.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from sandbox.ebay.facade import ClientData, EbaySandbox

PLATFORM = "ebay"
Reply = tuple[int, dict[str, Any] | None]
Handler = Callable[["Call"], Reply]
TIMEOUT_S = 60.0
TOKEN_PATH = "/identity/v1/oauth2/token"


@dataclass
class Call:
    """One admitted API request as a handler sees it."""

    sandbox: EbaySandbox
    api: str
    client_id: str | None  # None for an application token
    now: float
    request: Request
    key: tuple[str, ...]

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    @property
    def data(self) -> ClientData:
        assert self.client_id is not None
        return self.sandbox.data(self.client_id)

    def roll(self, kind: str, *extra: object) -> bool:
        world = self.sandbox.world
        hit = world.faults.roll(PLATFORM, kind, *self.key, *extra)
        if hit:
            world.accounting.fault(PLATFORM, kind)
        return hit

    def url(self, **changes: object) -> str:
        """This request's URL with some query parameters replaced (for href/next/prev)."""
        params = dict(self.query.multi_items())
        params.update({k: str(v) for k, v in changes.items()})
        base = str(self.request.url).split("?", 1)[0]
        return f"{base}?{urlencode(params, safe=':[]{}|,.')}" if params else base


class Pipeline:
    def __init__(self, sandbox: EbaySandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self._seen: Counter = Counter()

    def identity(self, endpoint: str, request: Request, account: str) -> tuple[str, ...]:
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        return (endpoint, request.url.path, query, account)

    async def finish(self, key: tuple[str, ...], status: int, body: Any) -> Response:
        """Sleep the simulated latency, then answer."""
        n = self._seen[key]
        self._seen[key] += 1
        latency = 0.08 + 0.32 * self.world.faults.uniform(PLATFORM, "latency", *key, n)
        if self.world.faults.roll(PLATFORM, "slow", *key):
            self.world.accounting.fault(PLATFORM, "slow")
            latency += 2 + 8 * self.world.faults.uniform(PLATFORM, "slow-s", *key, n)
        await self.world.clock.sleep(latency)
        if status == 429:
            self.world.accounting.throttle(PLATFORM, key[0])
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status)

    def _token(self, request: Request, api_name: str, now: float) -> tuple[str, str | None]:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise missing_token()
        raw = header[7:].strip()
        token = self.sandbox.oauth.access(raw, now)
        if token is None:
            raise invalid_token()
        if not token.scopes & API_SCOPES[api_name]:
            raise access_denied()
        return raw, token.client_id

    async def serve(self, request: Request, api_name: str, endpoint: str, handler: Handler):
        world, sandbox = self.world, self.sandbox
        world.accounting.call(PLATFORM, endpoint)
        now = world.clock.now()
        key = self.identity(endpoint, request, "-")
        try:
            raw, client_id = self._token(request, api_name, now)
            key = self.identity(endpoint, request, client_id or "application")
            call = Call(sandbox, api_name, client_id, now, request, key)
            if call.roll("token_expiry"):
                sandbox.oauth.expire(raw, now)
                raise invalid_token()
            quota = sandbox.quotas.get(sandbox.oauth.app_id, api_name)
            if quota.remaining(now) == 0 or call.roll("throttle_despite_budget"):
                raise too_many_requests()
            quota.try_acquire(now)
            if call.roll("timeout"):
                await world.clock.sleep(TIMEOUT_S)
                raise internal_error(504)
            if call.roll("server_error"):
                raise internal_error()
            if call.roll("ebay_transient"):
                raise self._transient(api_name, key)
            status, body = handler(call)
        except EbayError as exc:
            status, body = exc.status, exc.body()
        return await self.finish(key, status, body)

    def _transient(self, api_name: str, key: tuple[str, ...]) -> EbayError:
        pick = self.world.faults.uniform(PLATFORM, "transient-kind", *key)
        if pick < 0.6:
            return system_error(api_name)
        return not_found() if pick < 0.8 else invalid_request()

    async def token(self, request: Request) -> Response:
        world, oauth = self.world, self.sandbox.oauth
        endpoint = f"POST {TOKEN_PATH}"
        world.accounting.call(PLATFORM, endpoint)
        now = world.clock.now()
        form = await _form(request)
        key = (endpoint, TOKEN_PATH, form.get("grant_type", ""), form.get("refresh_token", ""))
        try:
            if world.faults.roll(PLATFORM, "server_error", *key):
                world.accounting.fault(PLATFORM, "server_error")
                raise OAuthError(500, "server_error", "There was an internal server error.")
            oauth.check_client(request.headers.get("authorization"))
            quota_api = {"refresh_token": "oauth_refresh", "client_credentials": "oauth_client"}
            api_name = quota_api.get(form.get("grant_type", ""))
            if api_name is not None:
                quota = self.sandbox.quotas.get(oauth.app_id, api_name)
                if not quota.try_acquire(now):
                    return await self.finish(key, 429, too_many_requests().body())
            _, body = oauth.grant(form, now)
            status = 200
        except OAuthError as exc:
            status, body = exc.status, exc.body()
        return await self.finish(key, status, body)


async def _form(request: Request) -> dict[str, str]:
    """The form-encoded body (the only encoding the token endpoint reads)."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    try:
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def build_app(sandbox: EbaySandbox) -> Starlette:
    pipeline = Pipeline(sandbox)

    def route(path: str, api_name: str, handler: Handler) -> Route:
        endpoint = f"GET {path}"

        async def endpoint_fn(request: Request) -> Response:
            return await pipeline.serve(request, api_name, endpoint, handler)

        return Route(path, endpoint_fn, methods=["GET"])

    async def unknown(request: Request, exc: HTTPException) -> Response:
        sandbox.world.accounting.call(PLATFORM, "unknown")
        error = not_found()
        if exc.status_code == 405:
            error = EbayError(405, 2002, "ACCESS", "REQUEST", "Method not allowed")
        return JSONResponse(error.body(), error.status)

    routes = [
        Route(TOKEN_PATH, pipeline.token, methods=["POST"]),
        route("/sell/fulfillment/v1/order", "fulfillment", api_fulfillment.get_orders),
        route("/sell/fulfillment/v1/order/{orderId}", "fulfillment", api_fulfillment.get_order),
        route("/sell/finances/v1/transaction", "finances", api_finances.get_transactions),
        route("/sell/finances/v1/payout", "finances", api_finances.get_payouts),
        route("/sell/finances/v1/payout/{payout_Id}", "finances", api_finances.get_payout),
        route("/sell/inventory/v1/inventory_item", "inventory", api_inventory.get_inventory_items),
        route(
            "/sell/inventory/v1/inventory_item/{sku}", "inventory", api_inventory.get_inventory_item
        ),
        route(
            "/developer/analytics/v1_beta/rate_limit/", "analytics", api_analytics.get_rate_limits
        ),
    ]
    handlers = {404: unknown, 405: unknown}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
