"""Every HTTP exchange of a run, stamped with virtual time: the quota-use timeline.

``Recorder.wrap(platform, transport)`` returns an httpx transport that forwards each
request to ``transport`` and appends an ``Exchange`` (virtual time, platform, limit
bucket, status, cost, client) to ``Recorder.exchanges``. Token endpoints are recorded
with bucket ``auth``. A Shopify GraphQL answer's ``extensions.cost.actualQueryCost`` is
read as its cost (points are what its bucket counts); every other request costs 1.

The client a request was made for (what the shares of an application-wide quota are
counted by) is found from ``owners``: per platform, credential values that belong to one
client (refresh tokens, shop ids; ``owners_of``). A token exchange whose refresh token
is known adds the access (and rotated refresh) token it answers with; a request is then
attributed by its bearer token, else by a path segment that is a known value. Tokens
stay in memory: nothing of them is written to an exchange, the report or a log.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

import httpx

_AMAZON = (  # (method or None, path pattern, operation)
    ("POST", r"/reports/2021-06-30/reports$", "createReport"),
    (None, r"/reports/2021-06-30/reports$", "getReports"),
    (None, r"/reports/2021-06-30/reports/[^/]+$", "getReport"),
    (None, r"/reports/2021-06-30/documents/[^/]+$", "getReportDocument"),
    (None, r"/orders/v0/orders/[^/]+/orderItems$", "getOrderItems"),
    (None, r"/orders/v0/orders/[^/]+$", "getOrder"),
    (None, r"/orders/v0/orders$", "getOrders"),
    (None, r"/finances/v0/orders/[^/]+/financialEvents$", "listFinancialEventsByOrderId"),
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
    client: str | None = None  # the client the request was made for (None: not known)
    limits: tuple[tuple[str, str], ...] = ()  # a 429's limit headers (what it says ran out)


_LIMIT_HEADER = re.compile(r"remaining|retry-after|ratelimit|limit|reset", re.IGNORECASE)


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
        bucket = bucket_of(self.platform, request.method, request.url.path)
        form = (await request.aread()) if bucket == "auth" else b""
        response = await self.inner.handle_async_request(request)
        cost = 1
        client = self.recorder.owner(self.platform, request)
        learn = bucket == "auth"
        read = learn or (bucket == "graphql" and self.platform == "shopify")
        if read and response.status_code == 200:
            body = await response.aread()
            response = httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )
            if learn:
                client = self.recorder.learn(self.platform, form, body)
            else:
                cost = _graphql_cost(body)
        limits = ()
        if response.status_code == 429:
            limits = tuple((k, v) for k, v in response.headers.items() if _LIMIT_HEADER.search(k))
        self.recorder.exchanges.append(
            Exchange(at, self.platform, bucket, response.status_code, cost, client, limits)
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


def owners_of(credentials: Mapping[str, Mapping[str, Mapping[str, str]]]) -> dict:
    """platform -> {credential value: client} from ``World.credentials()`` (client ->
    platform -> credentials), keeping only values that belong to exactly one client (an
    application's key or secret is shared by every client and identifies none)."""
    seen: dict[str, dict[str, set[str]]] = {}
    for client, platforms in credentials.items():
        for platform, values in platforms.items():
            for value in values.values():
                if isinstance(value, str) and len(value) >= 4:
                    seen.setdefault(platform, {}).setdefault(value, set()).add(client)
    return {
        platform: {v: next(iter(c)) for v, c in values.items() if len(c) == 1}
        for platform, values in seen.items()
    }


def _bearer(request: httpx.Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else None


class Recorder:
    def __init__(self, clock, owners: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.owners: dict[str, dict[str, str]] = {p: dict(v) for p, v in (owners or {}).items()}

    def owner(self, platform: str, request: httpx.Request) -> str | None:
        """The client ``request`` was made for, if its bearer token or a path segment is
        a value known to belong to one client."""
        known = self.owners.get(platform)
        if not known:
            return None
        token = _bearer(request)
        if token is not None and token in known:
            return known[token]
        return _first_known(known, request.url.path.split("/"))

    def learn(self, platform: str, form: bytes, body: bytes) -> str | None:
        """After a successful token exchange (``form``: its request body, ``body``: its
        answer): the client whose refresh token it used (None if not known); the tokens
        it answered with now identify that client too."""
        known = self.owners.get(platform)
        if not known:
            return None
        fields = parse_qs(form.decode("utf-8", "replace"))
        client = _first_known(known, fields.get("refresh_token", []))
        if client is None:
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            return client
        for key in ("access_token", "refresh_token"):
            if isinstance(answer, dict) and isinstance(answer.get(key), str):
                known[answer[key]] = client
        return client

    def wrap(self, platform: str, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return _Recording(self, platform, transport)


def _first_known(known: Mapping[str, str], values: Iterable[str]) -> str | None:
    for value in values:
        if value in known:
            return known[value]
    return None


def throttled(exchanges: Iterable[Exchange], started_at: float, cap: int = 200) -> list[dict]:
    """The run's 429s (the first ``cap``), each with what could explain it: when it fell
    (virtual s from the start), its bucket and client, the limit headers it carried, and
    how many requests went to the same platform and bucket in its clock second and in
    the day before it (all clients: application-wide limits count them all)."""
    exchanges = list(exchanges)
    by_bucket: dict[tuple[str, str], list[Exchange]] = {}
    for e in exchanges:
        by_bucket.setdefault((e.platform, e.bucket), []).append(e)
    for listed in by_bucket.values():
        listed.sort(key=lambda e: e.at)
    sent = {key: [e.at for e in listed] for key, listed in by_bucket.items()}
    out = []
    for e in exchanges:
        if e.status != 429 or len(out) >= cap:
            continue
        times = sent[(e.platform, e.bucket)]
        second = math.floor(e.at)
        first, last = bisect_left(times, second), bisect_left(times, second + 1)
        around = by_bucket[(e.platform, e.bucket)][first : min(last, first + 30)]
        out.append(
            {
                "at_s": round(e.at - started_at, 3),
                "platform": e.platform,
                "bucket": e.bucket,
                "client": e.client,
                "limits": dict(e.limits),
                "sent_in_its_second": last - first,
                "its_second": [  # the first 30: (s into the second, status, client)
                    [round(x.at - second, 3), x.status, x.client] for x in around
                ],
                "sent_in_the_day_before": bisect_right(times, e.at)
                - bisect_right(times, e.at - 86_400),
            }
        )
    return out
