"""The Amazon SP-API sandbox as a Starlette app (mounted by the world at ``/amazon``).

Every SP-API request goes through one pipeline, in the order the real service applies it:

    accounting.call  ->  x-amz-access-token (403 Unauthorized: missing / invalid / expired)
    ->  usage plan of (selling partner, operation) (429 QuotaExceeded, or the
        ``throttle_despite_budget`` fault)  ->  ``timeout`` fault (60 s stall, then 503)
    ->  ``server_error`` fault (500 InternalFailure / 503 ServiceUnavailable)
    ->  the operation's handler (400 InvalidInput / 404 NotFound / 200 / 202)
    ->  simulated latency (80-400 ms; the ``slow`` fault adds 2-10 s) on the world clock.

Headers: ``x-amzn-RequestId`` always; ``x-amzn-RateLimit-Limit`` only on 200/202/400/404,
never on 403/429/5xx (as the specs declare). Fault decisions are keyed by the request's
identity (operation, path, query, body, seller), so a run is reproducible per seed.
Unknown routes answer 404 (405 for a wrong method) with Amazon's error list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.amazon import api_finances, api_inventory, api_orders, api_reports
from sandbox.amazon.errors import (
    INTERNAL_FAILURE,
    QUOTA_EXCEEDED,
    SERVICE_UNAVAILABLE,
    UNAUTHORIZED_EXPIRED,
    UNAUTHORIZED_INVALID,
    UNAUTHORIZED_MISSING,
    ApiError,
    error_body,
    invalid,
)
from sandbox.amazon.formats import BadDate, parse_iso
from sandbox.responses import JSONResponse

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from sandbox.amazon.facade import AmazonSandbox, ClientData

Reply = tuple[int, dict[str, Any]]
Handler = Callable[["Call"], Reply]
PLATFORM = "amazon"
_UNAUTHORIZED = {
    "missing": UNAUTHORIZED_MISSING,
    "invalid": UNAUTHORIZED_INVALID,
    "expired": UNAUTHORIZED_EXPIRED,
}
_RATE_HEADER_STATUSES = (200, 201, 202, 400, 404)


@dataclass
class Call:
    """One authorised SP-API request as a handler sees it."""

    sandbox: AmazonSandbox
    operation: str
    client_id: str
    account: str
    now: float
    query: QueryParams
    path: dict[str, str]
    raw_body: bytes
    key: tuple[str, ...]
    root: str  # scheme://host/<mount> of this request, for URLs the sandbox hands out

    @property
    def data(self) -> ClientData:
        return self.sandbox.data(self.client_id)

    def roll(self, kind: str) -> bool:
        """Whether the fault ``kind`` hits this request (counted in the accounting if so)."""
        world = self.sandbox.world
        hit = world.faults.roll(PLATFORM, kind, *self.key)
        if hit:
            world.accounting.fault(PLATFORM, kind)
        return hit

    def param(self, name: str) -> str | None:
        value = self.query.get(name)
        return value if value else None

    def params(self, name: str) -> list[str]:
        """An array parameter, repeated or comma-separated (Swagger 2 ``csv``)."""
        values = [v.strip() for raw in self.query.getlist(name) for v in raw.split(",")]
        return [v for v in values if v]

    def date(self, name: str) -> float | None:
        value = self.param(name)
        if value is None:
            return None
        try:
            return parse_iso(value)
        except BadDate as exc:
            raise invalid(f"Invalid date-time for {name}: {value!r}.") from exc

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.param(name)
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise invalid(f"{name} must be an integer between {low} and {high}.")
        return int(value)

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.raw_body or b"null")
        except ValueError as exc:
            raise invalid("The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object.")
        return body


class Pipeline:
    def __init__(self, sandbox: AmazonSandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self._seen: dict[tuple[str, ...], int] = {}
        self._requests = 0

    def identity(
        self, operation: str, request: Request, body: bytes, account: str
    ) -> tuple[str, ...]:
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        digest = hashlib.blake2b(body, digest_size=8).hexdigest() if body else ""
        return (operation, request.url.path, query, digest, account)

    async def finish(
        self,
        key: tuple[str, ...],
        status: int,
        body: Any,
        extra: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> Response:
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        latency = 0.08 + 0.32 * self.world.faults.uniform(PLATFORM, "latency", *key, n)
        await self.world.clock.sleep(latency + extra)
        self._requests += 1
        request_id = hashlib.blake2b(
            repr((self.world.faults.seed, self._requests)).encode(), digest_size=16
        ).hexdigest()
        out = {
            "x-amzn-RequestId": "-".join(
                (
                    request_id[:8],
                    request_id[8:12],
                    request_id[12:16],
                    request_id[16:20],
                    request_id[20:32],
                )
            )
        }
        out.update(headers or {})
        if isinstance(body, (bytes, str)):
            return Response(body, status, out, media_type=out.pop("content-type", "text/plain"))
        return JSONResponse(body, status, out)

    async def serve(self, request: Request, operation: str, handler: Handler) -> Response:
        world, now = self.world, self.world.clock.now()
        world.accounting.call(PLATFORM, operation)
        body = await request.body()
        client_id, problem = self.sandbox.lwa.check(request.headers.get("x-amz-access-token"), now)
        account = self.sandbox.account(client_id) if client_id else "-"
        key = self.identity(operation, request, body, account)
        root = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        call = Call(
            self.sandbox,
            operation,
            client_id or "",
            account,
            now,
            request.query_params,
            dict(request.path_params),
            body,
            key,
            root,
        )
        if client_id is None:
            return await self.finish(key, 403, _UNAUTHORIZED[problem])
        limiter = self.sandbox.limiter
        if call.roll("throttle_despite_budget") or not limiter.try_take(account, operation, now):
            world.accounting.throttle(PLATFORM, operation)
            return await self.finish(key, 429, QUOTA_EXCEEDED)
        if call.roll("timeout"):
            return await self.finish(key, 503, SERVICE_UNAVAILABLE, extra=60.0)
        if call.roll("server_error"):
            flip = world.faults.uniform(PLATFORM, "5xx", *key) < 0.7
            return await self.finish(
                key, *((500, INTERNAL_FAILURE) if flip else (503, SERVICE_UNAVAILABLE))
            )
        try:
            status, reply = handler(call)
        except ApiError as exc:
            status, reply = exc.status, exc.body()
        extra = 2.0 + 8.0 * world.faults.uniform(PLATFORM, "slow", *key) if call.roll("slow") else 0
        headers = {}
        if status in _RATE_HEADER_STATUSES:
            headers["x-amzn-RateLimit-Limit"] = limiter.plans[operation].header
        return await self.finish(key, status, reply, extra, headers)

    async def token(self, request: Request) -> Response:
        self.world.accounting.call(PLATFORM, "lwaToken")
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
            except (ValueError, AttributeError):
                form = {}
        else:
            form = dict(parse_qsl(raw.decode(errors="replace")))
        status, body = self.sandbox.lwa.exchange(form, self.world.clock.now())
        if status == 200 and self.sandbox.lwa.early_expiry(str(body["access_token"])):
            self.world.accounting.fault(PLATFORM, "token_expiry")
        return await self.finish(("lwaToken", form.get("refresh_token", "")), status, body)

    async def document(self, request: Request) -> Response:
        self.world.accounting.call(PLATFORM, "downloadReportDocument")
        status, content, media = self.sandbox.reports.download(
            request.path_params["documentId"], dict(request.query_params), self.world.clock.now()
        )
        return await self.finish(
            ("document", request.url.path), status, content, headers={"content-type": media}
        )

    async def unknown(self, request: Request, exc: HTTPException) -> Response:
        self.world.accounting.call(PLATFORM, "unknownRoute")
        if exc.status_code == 405:
            body = error_body("MethodNotAllowed", f"{request.method} is not allowed here.")
        else:
            body = error_body("NotFound", "The requested resource was not found.")
        return await self.finish(("unknown", request.url.path), exc.status_code, body)


OPERATIONS: tuple[tuple[str, str, str, Handler], ...] = (
    ("GET", "/orders/v0/orders", "getOrders", api_orders.get_orders),
    ("GET", "/orders/v0/orders/{orderId}", "getOrder", api_orders.get_order),
    ("GET", "/orders/v0/orders/{orderId}/orderItems", "getOrderItems", api_orders.get_order_items),
    (
        "GET",
        "/finances/v0/financialEventGroups",
        "listFinancialEventGroups",
        api_finances.list_groups,
    ),
    (
        "GET",
        "/finances/v0/financialEventGroups/{eventGroupId}/financialEvents",
        "listFinancialEventsByGroupId",
        api_finances.list_by_group,
    ),
    (
        "GET",
        "/finances/v0/orders/{orderId}/financialEvents",
        "listFinancialEventsByOrderId",
        api_finances.list_by_order,
    ),
    ("GET", "/finances/v0/financialEvents", "listFinancialEvents", api_finances.list_events),
    ("POST", "/reports/2021-06-30/reports", "createReport", api_reports.create_report),
    ("GET", "/reports/2021-06-30/reports", "getReports", api_reports.list_reports),
    ("GET", "/reports/2021-06-30/reports/{reportId}", "getReport", api_reports.get_report),
    (
        "GET",
        "/reports/2021-06-30/documents/{reportDocumentId}",
        "getReportDocument",
        api_reports.get_report_document,
    ),
    ("GET", "/fba/inventory/v1/summaries", "getInventorySummaries", api_inventory.get_summaries),
)


def build_app(sandbox: AmazonSandbox) -> Starlette:
    pipeline = Pipeline(sandbox)

    def endpoint(operation: str, handler: Handler):
        async def run(request: Request) -> Response:
            return await pipeline.serve(request, operation, handler)

        return run

    routes = [
        Route("/auth/o2/token", pipeline.token, methods=["POST"]),
        Route("/documents/{documentId}", pipeline.document, methods=["GET"]),
    ]
    routes += [
        Route(path, endpoint(op, handler), methods=[method])
        for method, path, op, handler in OPERATIONS
    ]
    handlers = {404: pipeline.unknown, 405: pipeline.unknown}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]
