"""Every HTTP exchange of a run, stamped with virtual time: the quota-use timeline.

``Recorder.wrap(platform, transport)`` returns an httpx transport that forwards each
request to ``transport`` and appends an ``Exchange`` (virtual time, platform, limit
bucket, status, cost) to ``Recorder.exchanges``. Token endpoints are recorded with
bucket ``auth``. A Shopify GraphQL answer's ``extensions.cost.actualQueryCost`` is read
as its cost (points are what its bucket counts); every other request costs 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx

_AMAZON = (  # (method or None, path pattern, operation)
    ("POST", r"/reports/2021-06-30/reports$", "createReport"),
    (None, r"/reports/2021-06-30/reports/[^/]+$", "getReport"),
    (None, r"/reports/2021-06-30/documents/[^/]+$", "getReportDocument"),
    (None, r"/orders/v0/orders/[^/]+/orderItems$", "getOrderItems"),
    (None, r"/orders/v0/orders$", "getOrders"),
    (
        None,
        r"/finances/v0/financialEventGroups/[^/]+/financialEvents$",
        "listFinancialEventsByGroupId",
    ),
    (None, r"/finances/v0/financialEventGroups$", "listFinancialEventGroups"),
    (None, r"/finances/v0/financialEvents$", "listFinancialEvents"),
    (None, r"/fba/inventory/v1/summaries$", "getInventorySummaries"),
)
_AUTH = re.compile(r"/(oauth2?/token|auth/o2/token|oauth/token|users/sessions|access_token)")


@dataclass(frozen=True)
class Exchange:
    at: float  # virtual epoch seconds when the request was sent
    platform: str
    bucket: str  # the policy's lane: an Amazon operation, rest/graphql, an eBay API, api
    status: int
    cost: int = 1


def bucket_of(platform: str, method: str, path: str) -> str:
    """The limit bucket a request to ``path`` draws on (``auth`` for token calls,
    ``download`` for report / bulk files fetched from their URLs (no SP-API or Admin API
    limit), ``other`` for anything unrecognised)."""
    if _AUTH.search(path):
        return "auth"
    if platform == "amazon":
        for want, pattern, operation in _AMAZON:
            if (want is None or want == method) and re.search(pattern, path):
                return operation
        return "download" if "/documents/" in path else "other"
    if platform == "shopify":
        if "/bulk-results/" in path:
            return "download"
        return "graphql" if path.endswith("graphql.json") else "rest"
    if platform == "ebay":
        for api in ("fulfillment", "finances", "inventory", "analytics"):
            if f"/sell/{api}/" in path:
                return api
        return "other"
    return "api"


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, recorder: Recorder, platform: str, inner: httpx.AsyncBaseTransport):
        self.recorder, self.platform, self.inner = recorder, platform, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        at = self.recorder.clock.now()
        response = await self.inner.handle_async_request(request)
        bucket = bucket_of(self.platform, request.method, request.url.path)
        cost = 1
        if bucket == "graphql" and self.platform == "shopify" and response.status_code == 200:
            body = await response.aread()
            cost = _graphql_cost(body)
            response = httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )
        self.recorder.exchanges.append(
            Exchange(at, self.platform, bucket, response.status_code, cost)
        )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _graphql_cost(body: bytes) -> int:
    try:
        cost = json.loads(body)["extensions"]["cost"]
        return int(cost.get("actualQueryCost") or cost.get("requestedQueryCost") or 1)
    except (ValueError, KeyError, TypeError):
        return 1


class Recorder:
    def __init__(self, clock) -> None:
        self.clock = clock
        self.exchanges: list[Exchange] = []

    def wrap(self, platform: str, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return _Recording(self, platform, transport)
