"""The Etsy Open API v3 sandbox as a Starlette app (mounted by the world at ``/etsy``).

Routes (Etsy's own paths):

    POST /v3/public/oauth/token                                         refresh grant
    GET  /v3/application/openapi-ping                                   ping (API key only)
    GET  /v3/application/shops/{shop_id}/receipts                       getShopReceipts
    GET  /v3/application/shops/{shop_id}/receipts/{receipt_id}          getShopReceipt
    GET  /v3/application/shops/{shop_id}/receipts/{receipt_id}/transactions
    GET  /v3/application/shops/{shop_id}/transactions        getShopReceiptTransactionsByShop
    GET  /v3/application/shops/{shop_id}/receipts/{receipt_id}/payments getShopPaymentByReceiptId
    GET  /v3/application/shops/{shop_id}/payments                       getPayments
    GET  /v3/application/shops/{shop_id}/payment-account/ledger-entries
    GET  /v3/application/shops/{shop_id}/payment-account/ledger-entries/payments
    GET  /v3/application/shops/{shop_id}/listings/active                findAllActiveListingsByShop
    GET  /v3/application/shops/{shop_id}/listings                       getListingsByShop
    GET  /v3/application/listings/{listing_id}/inventory                getListingInventory

(The June 2021 spec puts getShopReceiptTransactionsByShop at ``/v3/application/
transactions``; Etsy's current path, served here, is under the shop. getListingsByShop is
in Etsy's current API only.)

Every ``/v3/application`` request goes through one pipeline:

    accounting.call -> x-api-key (403) -> the application's QPS, then sliding QPD (429
    with retry-after; or the ``throttle_despite_budget`` fault) -> Bearer token (401
    invalid_token; the ``token_expiry`` fault ends the token here; not for public
    routes) -> the shop belongs to the token's user (404 unknown shop, 403 another
    user's) -> ``timeout`` (60 s stall, then 504) -> ``server_error`` (500) -> the
    handler (400 / 404 / 200) -> simulated latency (80-400 ms; ``slow`` adds 2-10 s).

Every answer after the key check carries the four ``x-limit-*`` / ``x-remaining-*``
headers. Errors are ``{"error": "<message>"}``. Fault decisions are keyed by the request's
identity (endpoint, path, sorted query, user), so runs are reproducible per seed. Unknown
routes answer 404 ``{"error": …}`` (405 for a wrong method).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.etsy import api
from sandbox.etsy.auth import KeyRefused, OAuthRefused
from sandbox.etsy.errors import EtsyError, Throttled
from sandbox.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from sandbox.etsy.facade import ClientData, EtsySandbox

PLATFORM = "etsy"
TIMEOUT_S = 60.0
TOKEN_PATH = "/v3/public/oauth/token"
APP = "/v3/application"
SECOND_BODY = "Exceeded per second rate limit"
DAY_BODY = "Exceeded daily rate limit"


Reply = tuple[int, Any]
Handler = Callable[["Call"], Reply]


@dataclass
class Call:
    """One admitted request as a handler sees it."""

    sandbox: EtsySandbox
    client_id: str | None  # None on public routes
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


class Pipeline:
    def __init__(self, sandbox: EtsySandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self._seen: Counter = Counter()

    @staticmethod
    def identity(endpoint: str, request: Request, who: str) -> tuple[str, ...]:
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        return (endpoint, request.url.path, query, who)

    async def finish(
        self, key: tuple[str, ...], status: int, body: Any, headers: dict[str, str]
    ) -> Response:
        n = self._seen[key]
        self._seen[key] += 1
        faults = self.world.faults
        latency = 0.08 + 0.32 * faults.uniform(PLATFORM, "latency", *key, n)
        if faults.roll(PLATFORM, "slow", *key):
            self.world.accounting.fault(PLATFORM, "slow")
            latency += 2 + 8 * faults.uniform(PLATFORM, "slow-s", *key, n)
        await self.world.clock.sleep(latency)
        if status == 429:
            self.world.accounting.throttle(PLATFORM, key[0])
        return JSONResponse(body, status, headers=headers)

    def _admit(self, request: Request, key: tuple[str, ...], now: float) -> dict[str, str]:
        """API key, then QPS and QPD; returns the limit headers for the answer."""
        sandbox = self.sandbox
        sandbox.auth.check_key(request.headers.get("x-api-key"))
        limiter = sandbox.limits.get(sandbox.auth.keystring)
        if self.world.faults.roll(PLATFORM, "throttle_despite_budget", *key):
            self.world.accounting.fault(PLATFORM, "throttle_despite_budget")
            raise Throttled(1, SECOND_BODY, limiter.headers(now))
        decision = limiter.acquire(now)
        if not decision.admitted:
            body = SECOND_BODY if decision.reason == "second" else DAY_BODY
            raise Throttled(decision.retry_after, body, decision.headers)
        return decision.headers

    def _user_shop(self, request: Request, now: float) -> tuple[str, str]:
        """The client behind the bearer token, checked against the path's shop."""
        sandbox = self.sandbox
        user = sandbox.auth.user(request.headers.get("authorization"), now)
        client_id = sandbox.client_of_user(user)
        shop = request.path_params.get("shop_id")
        if shop is not None:
            owner = sandbox.client_of_shop(shop)
            if owner is None:
                raise EtsyError(404, f"Could not find a Shop with shop_id = {shop}")
            if owner != client_id:
                raise EtsyError(403, "The shop does not belong to the authenticated user.")
        return client_id, str(user)

    def _public_shop(self, request: Request) -> str | None:
        """On public routes, the client owning the path's shop (404 when unknown)."""
        shop = request.path_params.get("shop_id")
        if shop is None:
            return None
        owner = self.sandbox.client_of_shop(shop)
        if owner is None:
            raise EtsyError(404, f"Could not find a Shop with shop_id = {shop}")
        return owner

    async def serve(self, request: Request, endpoint: str, handler: Handler, private: bool):
        world = self.world
        world.accounting.call(PLATFORM, endpoint)
        now = world.clock.now()
        key = self.identity(endpoint, request, "-")
        headers: dict[str, str] = {}
        try:
            headers = self._admit(request, key, now)
            client_id = None if private else self._public_shop(request)
            if private:
                client_id, user = self._user_shop(request, now)
                key = self.identity(endpoint, request, user)
                if world.faults.roll(PLATFORM, "token_expiry", *key):
                    world.accounting.fault(PLATFORM, "token_expiry")
                    self.sandbox.auth.expire(request.headers["authorization"], now)
                    raise OAuthRefused(401, "invalid_token", "access token is expired")
            call = Call(self.sandbox, client_id, now, request, key)
            if call.roll("timeout"):
                await world.clock.sleep(TIMEOUT_S)
                raise EtsyError(504, "Gateway Timeout")
            if call.roll("server_error"):
                raise EtsyError(500, "Internal Server Error")
            status, body = handler(call)
        except KeyRefused as exc:
            status, body = 403, {"error": exc.message}
        except Throttled as exc:
            status, body = 429, {"error": exc.message}
            headers = {**exc.headers, "retry-after": str(exc.retry_after)}
        except OAuthRefused as exc:
            status, body = exc.status, exc.body()
        except EtsyError as exc:
            status, body = exc.status, {"error": exc.message}
        return await self.finish(key, status, body, headers)

    async def token(self, request: Request) -> Response:
        world = self.world
        endpoint = f"POST {TOKEN_PATH}"
        world.accounting.call(PLATFORM, endpoint)
        now = world.clock.now()
        form = await _form(request)
        key = (endpoint, TOKEN_PATH, form.get("refresh_token", ""))
        try:
            if world.faults.roll(PLATFORM, "server_error", *key):
                world.accounting.fault(PLATFORM, "server_error")
                raise OAuthRefused(500, "server_error", "The server encountered an internal error")
            status, body = 200, self.sandbox.auth.grant(form, now)
        except OAuthRefused as exc:
            status, body = exc.status, exc.body()
        return await self.finish(key, status, body, {})


async def _form(request: Request) -> dict[str, str]:
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    try:
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def build_app(sandbox: EtsySandbox) -> Starlette:
    pipeline = Pipeline(sandbox)

    def route(path: str, handler: Handler, private: bool = True) -> Route:
        endpoint = f"GET {path}"

        async def endpoint_fn(request: Request) -> Response:
            return await pipeline.serve(request, endpoint, handler, private)

        return Route(path, endpoint_fn, methods=["GET"])

    async def unknown(request: Request, exc: HTTPException) -> Response:
        sandbox.world.accounting.call(PLATFORM, "unknown")
        message = "Not Found" if exc.status_code == 404 else "Method Not Allowed"
        return JSONResponse({"error": message}, exc.status_code)

    shop = f"{APP}/shops/{{shop_id}}"
    routes = [
        Route(TOKEN_PATH, pipeline.token, methods=["POST"]),
        route(f"{APP}/openapi-ping", api.ping, private=False),
        route(f"{shop}/receipts", api.get_receipts),
        route(f"{shop}/receipts/{{receipt_id}}", api.get_receipt),
        route(f"{shop}/receipts/{{receipt_id}}/transactions", api.get_receipt_transactions),
        route(f"{shop}/transactions", api.get_shop_transactions),
        route(f"{shop}/receipts/{{receipt_id}}/payments", api.get_receipt_payments),
        route(f"{shop}/payments", api.get_payments),
        route(f"{shop}/payment-account/ledger-entries", api.get_ledger_entries),
        route(f"{shop}/payment-account/ledger-entries/payments", api.get_ledger_entry_payments),
        route(f"{shop}/listings/active", api.get_active_listings, private=False),
        route(f"{shop}/listings", api.get_shop_listings),
        route(f"{APP}/listings/{{listing_id}}/inventory", api.get_listing_inventory),
    ]
    handlers = {404: unknown, 405: unknown}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
