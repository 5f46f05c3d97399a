"""The Shopify Admin connector: one request per ``fetch``, classified, with its next step.

``build(settings, credentials, account, transport=...)`` makes a ``ShopifyConnector``
for one shop. Its base URL is ``settings.base_url`` with ``{shop}`` replaced by the
shop's handle (``https://{shop}.myshopify.com``); a base URL without ``{shop}`` serves
many shops under one path, and the handle is appended (``http://sandbox/shopify`` ->
``http://sandbox/shopify/<shop>``, as our sandbox does). The token URL is
``settings.auth_url`` (same ``{shop}`` rule) or else ``<shop base>/admin/oauth/access_token``.

``first_request(resource, window, bulk=False, rest=False, by_update=False)`` starts a
chain on one of three paths (see ``pagination`` and ``bulk``): paged GraphQL (default,
every resource), REST ``orders.json`` (``rest=True``; orders, items, returns) or Bulk
Operations (``bulk=True``; orders, items, returns). ``by_update=True`` windows on the
update time (daily deltas) instead of the creation time.

``fetch(request)`` makes the one call (a bulk download: a 1-point lookup of the job,
then the file), classifies it (``classify``), and on ``auth_expired`` refreshes the
token once and retries once. When the outcome is ok, ``payload`` is the page exactly as
Shopify sent it (parsed JSON; the JSONL text for a bulk download) for ``page`` and
``bulk_download`` steps, and ``None`` for the bulk control steps (create / poll), which
hold no records; ``next`` is the chain's next request. ``actual_cost`` is GraphQL's
``actualQueryCost``; ``reported_count`` the window's ``ordersCount`` (orders pages).

Returns are an index of the window's orders (GraphQL pages, or on the bulk path the
orders file, adopted from the orders block when it already ran) followed, for the orders
with refunds, by their refunds (``refunds``): index pages with orders, and a bulk file
that shows refunds, are not handed out (ok, ``payload=None``).

A page whose nested line items / refund lines / inventory levels do not fit in their
nested page would be a partial result: it is not handed out (ok, ``payload=None``) and
``next`` asks for the same page again with the nested connections twice as large (up
to what one node allows within the budget; fewer nodes per page). If they already were
that large, the page is refused (permanent: "load this window through the bulk path").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from shared import jsontext
from shared.errors import AuthExpiredError, MalformedPayloadError, TransientError
from shared.platforms.base import (
    Classified,
    FetchResult,
    Outcome,
    PageRequest,
    Window,
    may_resend,
    ready_quietly,
    withheld,
)
from shared.platforms.shopify import bulk as bulk_ops
from shared.platforms.shopify import pagination, refunds
from shared.platforms.shopify.auth import TOKEN_HEADER, TOKEN_PATH, ShopifyAuth, TokenCache
from shared.platforms.shopify.classify import classify, cost_extension
from shared.platforms.shopify.queries import MAX_QUERY_COST
from shared.platforms.tokens import GrantStore
from shared.settings import PlatformSettings

TIMEOUT_S = 30.0
DOWNLOAD_TIMEOUT_S = 300.0
FILE_GONE = frozenset({400, 403, 404, 410})  # a bulk file's signed URL that expired


def shop_handle(account: str) -> str:
    """``acme`` for ``acme``, ``acme.myshopify.com`` or ``https://acme.myshopify.com``."""
    handle = account.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    return handle.removesuffix(".myshopify.com")


def shop_url(template: str, shop: str) -> str:
    if "{shop}" in template:
        return template.replace("{shop}", shop).rstrip("/")
    return f"{template.rstrip('/')}/{shop}"


class ShopifyConnector:
    platform = "shopify"

    def __init__(
        self,
        base_url: str,
        auth: ShopifyAuth,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        version: str = pagination.API_VERSION,
        budget: int = MAX_QUERY_COST,
        rest_limit: int = pagination.REST_LIMIT,
        nested: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.budget = budget
        self.rest_limit = rest_limit
        self.nested = nested
        self._auth = auth
        self._http = httpx.AsyncClient(transport=transport, timeout=TIMEOUT_S)

    def __repr__(self) -> str:
        return f"ShopifyConnector(base_url={self.base_url!r}, shop={self._auth.shop!r})"

    def first_request(
        self,
        resource: str,
        window: Window | None,
        *,
        bulk: bool = False,
        rest: bool = False,
        by_update: bool = False,
    ) -> PageRequest:
        if bulk:
            if resource != refunds.RESOURCE:
                return bulk_ops.bulk_first(
                    resource, window, by_update=by_update, version=self.version
                )
            request = bulk_ops.bulk_first(
                resource, window, by_update=by_update, version=self.version, adopt=True
            )
            return refunds.first(request, self.nested)
        if rest:
            return pagination.rest_first(
                resource, window, by_update=by_update, version=self.version, limit=self.rest_limit
            )
        request = pagination.graphql_first(
            resource,
            window,
            by_update=by_update,
            version=self.version,
            budget=self.budget,
            nested=self.nested,
        )
        return refunds.first(request, self.nested) if resource == refunds.RESOURCE else request

    async def ready(self) -> None:
        await ready_quietly(lambda: self._auth.token(self._http))

    async def fetch(self, request: PageRequest) -> FetchResult:
        refreshed = False
        try:
            token = await self._auth.token(self._http)
            result = await self._once(request, token)
            if result.classified.outcome is Outcome.AUTH_EXPIRED and self._auth.can_refresh:
                token = await self._auth.token(self._http, stale=token)  # one refresh for all
                refreshed = True
                if not await may_resend():
                    return withheld(request, result.classified)
                result = await self._once(request, token)
        except AuthExpiredError as exc:
            return _failed(request, Outcome.AUTH_EXPIRED, 401, str(exc), refreshed)
        except TransientError as exc:
            return _failed(request, Outcome.TRANSIENT, 0, str(exc), refreshed)
        except httpx.TransportError as exc:  # timeouts, refused connections …
            return _failed(
                request, Outcome.TRANSIENT, 0, f"network: {type(exc).__name__}", refreshed
            )
        return result.model_copy(update={"refreshed_token": refreshed})

    async def aclose(self) -> None:
        await self._http.aclose()

    def credentials(self) -> dict[str, str]:
        """The shop's credentials as they stand now. Shopify rotates the refresh token on
        every refresh and the old one stops working at once, so after a fetch with
        ``refreshed_token`` the caller must store these back (secret: never log them)."""
        return self._auth.rotated()

    # --- one call ------------------------------------------------------------------------

    async def _once(self, request: PageRequest, token: str) -> FetchResult:
        response = await self._send(request, token)
        body = _parse(request, response)
        classified = classify(
            response.status_code, response.headers, body, requested_cost=request.cost
        )
        actual = cost_extension(body).get("actualQueryCost")
        result = FetchResult(
            request=request,
            classified=classified,
            actual_cost=int(actual) if isinstance(actual, int | float) else None,
        )
        if classified.outcome is not Outcome.OK:
            return result
        return await self._advance(request, response, body, result)

    async def _send(self, request: PageRequest, token: str) -> httpx.Response:
        headers = {TOKEN_HEADER: token}
        url = f"{self.base_url}{request.path}"
        if request.method == "GET":
            return await self._http.get(url, params=request.params, headers=headers)
        return await self._http.request(
            request.method, url, params=request.params or None, json=request.body, headers=headers
        )

    async def _advance(
        self, request: PageRequest, response: httpx.Response, body: Any, result: FetchResult
    ) -> FetchResult:
        step = request.step
        if step == "page" and request.route == "rest":
            nxt = pagination.rest_next(request, response.headers.get("link"), body)
            return result.model_copy(update={"payload": body, "next": nxt})
        if step == "page" and request.resource == refunds.RESOURCE:
            return self._returns(request, body, result)
        if step == "page":
            partial = pagination.truncated(request.resource, body)
            if partial is not None:
                wider = pagination.widened(request)
                if wider is None:
                    reason = f"{partial}: load this window through the bulk path"
                    return _with(result, Outcome.PERMANENT, reason)
                return result.model_copy(update={"payload": None, "next": wider})
            nxt = pagination.graphql_next(request, body)
            count = pagination.reported_count(request, body)
            return result.model_copy(update={"payload": body, "next": nxt, "reported_count": count})
        if step == "bulk_create":
            return _control(result, bulk_ops.after_create(request, body))
        if step == "bulk_poll":
            return _control(result, bulk_ops.after_poll(request, body))
        if step == "bulk_download":
            return await self._download(request, body, result)
        raise MalformedPayloadError("shopify", request.resource, "step", f"unknown step {step!r}")

    def _returns(self, request: PageRequest, body: Any, result: FetchResult) -> FetchResult:
        """The returns chain (``refunds``): index pages lead to details pages."""
        if not refunds.is_details(request):
            payload, nxt = refunds.after_index(request, body)
            return result.model_copy(update={"payload": payload, "next": nxt})
        partial = refunds.truncated(body)
        if partial is None:
            return result.model_copy(
                update={"payload": body, "next": refunds.after_details(request)}
            )
        wider = refunds.widened(request)
        if wider is None:
            return _with(result, Outcome.PERMANENT, f"{partial}: too many refund lines")
        return result.model_copy(update={"payload": None, "next": wider})

    async def _download(self, request: PageRequest, body: Any, result: FetchResult) -> FetchResult:
        url, roots = bulk_ops.download_target(request, body)
        text = ""
        if url is not None:
            response = await self._http.get(url, timeout=DOWNLOAD_TIMEOUT_S)
            if response.status_code in FILE_GONE:
                step = bulk_ops.file_gone(request, response.status_code)
                if isinstance(step, PageRequest):
                    return result.model_copy(update={"payload": None, "next": step})
                return _with(result, step.outcome, step.reason, response.status_code)
            if response.status_code != 200:
                outcome = Outcome.TRANSIENT if response.status_code >= 500 else Outcome.PERMANENT
                reason = f"bulk file download: HTTP {response.status_code}"
                return _with(result, outcome, reason, response.status_code)
            text = response.text
        if request.resource == refunds.RESOURCE:  # the file is the index of the refunds
            payload, nxt = refunds.after_bulk(request, text)
            return result.model_copy(update={"payload": payload, "next": nxt})
        reported = roots if request.resource == "orders" else None
        return result.model_copy(update={"payload": text, "next": None, "reported_count": reported})


def _control(result: FetchResult, step: PageRequest | Classified) -> FetchResult:
    if isinstance(step, Classified):
        return result.model_copy(
            update={
                "classified": step.model_copy(
                    update={"limit_headers": result.classified.limit_headers}
                )
            }
        )
    return result.model_copy(update={"payload": None, "next": step})


def _with(
    result: FetchResult, outcome: Outcome, reason: str, status: int | None = None
) -> FetchResult:
    update: dict[str, Any] = {"outcome": outcome, "reason": reason}
    if status is not None:
        update["status"] = status
    return result.model_copy(update={"classified": result.classified.model_copy(update=update)})


def _failed(
    request: PageRequest, outcome: Outcome, status: int, reason: str, refreshed: bool
) -> FetchResult:
    classified = Classified(outcome=outcome, status=status, reason=reason)
    return FetchResult(request=request, classified=classified, refreshed_token=refreshed)


def _parse(request: PageRequest, response: httpx.Response) -> Any:
    """The JSON body; None for an empty or non-JSON error answer. A 2xx that is not
    JSON is malformed."""
    if not response.content:
        return None
    try:
        return jsontext.loads(response.content)
    except ValueError:
        if 200 <= response.status_code < 300:
            raise MalformedPayloadError(
                "shopify", request.resource, "$", f"HTTP {response.status_code} answer is not JSON"
            ) from None
        return response.text[:500]


def build(
    settings: PlatformSettings,
    credentials: Mapping[str, str],
    account: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    version: str | None = None,
    now: Callable[[], float] = time.time,
    budget: int = MAX_QUERY_COST,
    rest_limit: int = pagination.REST_LIMIT,
    nested: int | None = None,
    cache: TokenCache | None = None,
    store: GrantStore | None = None,
) -> ShopifyConnector:
    """A connector for the shop ``account`` (or ``credentials["shop"]``). The API version
    is ``version``, else the credentials' ``api_version``, else ``API_VERSION``;
    ``budget`` caps a page query's requested cost (smaller pages), ``rest_limit`` the
    REST page size, ``nested`` the first size of nested connections (line items …).
    ``cache`` replaces the process-wide token cache (tests); ``store`` (a
    ``shared.platforms.tokens.GrantStore``) is where rotated refresh tokens are written
    back and re-read from."""
    shop = shop_handle(credentials.get("shop") or account)
    base = shop_url(settings.base_url, shop)
    token_url = shop_url(settings.auth_url, shop) if settings.auth_url else f"{base}{TOKEN_PATH}"
    auth = ShopifyAuth({**credentials, "shop": shop}, token_url, now=now, cache=cache, store=store)
    version = version or credentials.get("api_version") or pagination.API_VERSION
    return ShopifyConnector(
        base,
        auth,
        transport=transport,
        version=version,
        budget=budget,
        rest_limit=rest_limit,
        nested=nested,
    )
