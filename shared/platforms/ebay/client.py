"""The eBay Sell connector: ``shared.platforms.base.Connector`` over httpx.

Resources (``first_request``; chains in ``pagination``): orders, order_items and returns
page Fulfillment getOrders (``by_update``: the lastmodifieddate filter); transactions and
payouts page Finances getTransactions / getPayouts; inventory pages getInventoryItems (a
snapshot). eBay has no bulk path (``bulk=True`` raises ConfigurationError).

Hosts: Fulfillment and Inventory live at ``settings.base_url``; Finances at
``finances_base(base_url)`` — eBay's ``apiz.`` host for ``api.ebay.com`` /
``api.sandbox.ebay.com``, the same base anywhere else (our simulator).

``fetch`` makes one API call with the cached user token (``Authorization: Bearer``); on
an auth-expired answer (401) it refreshes once and retries once. A 204 is an ok, empty,
complete page whose payload is ``{}`` (what the normalizers take for "no records").
A 200 page holding fewer records than its ``total`` requires is answered TRANSIENT
("short page") so the loop re-reads it; ``reported_count`` is the page's ``total``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from shared import jsontext
from shared.errors import (
    ConfigurationError,
    MalformedPayloadError,
    PermanentError,
    ThrottledError,
    TransientError,
)
from shared.platforms.base import (
    Classified,
    FetchResult,
    Outcome,
    PageRequest,
    ResendWithheld,
    Window,
    may_resend,
    ready_quietly,
    withheld,
)
from shared.platforms.ebay import pagination
from shared.platforms.ebay.auth import DEFAULT_CACHE, Clock, EbayAuth, EbayCredentials, TokenCache
from shared.platforms.ebay.classify import classify
from shared.settings import PlatformSettings

PLATFORM = "ebay"
TIMEOUT_S = 30.0
_APIZ = {"api.ebay.com": "apiz.ebay.com", "api.sandbox.ebay.com": "apiz.sandbox.ebay.com"}


def wall_clock() -> datetime:
    """Production time source; tests and devhost inject their own clock."""
    return datetime.now(UTC)


def finances_base(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = _APIZ.get(parts.hostname or "")
    return urlunsplit(parts._replace(netloc=host)) if host else base_url


class EbayConnector:
    platform = PLATFORM

    def __init__(
        self,
        http: httpx.AsyncClient,
        finances_url: str,
        auth: EbayAuth,
        account: str,
        page_limit: int | None = None,
    ) -> None:
        self._page_limit = page_limit
        self._http = http
        self._finances_url = finances_url.rstrip("/")
        self._auth = auth
        self.account = account

    @property
    def auth(self) -> EbayAuth:
        return self._auth

    def __repr__(self) -> str:
        return f"EbayConnector(account={self.account!r})"

    def first_request(
        self,
        resource: str,
        window: Window | None,
        *,
        bulk: bool = False,
        by_update: bool = False,
    ) -> PageRequest:
        if bulk:
            raise ConfigurationError("ebay has no bulk path")
        if resource not in pagination.METHODS:
            return pagination.first_request(resource, window)  # raises, naming resources
        limit = None
        if self._page_limit is not None:
            limit = min(self._page_limit, pagination.METHODS[resource].limit)
        return pagination.first_request(resource, window, by_update=by_update, limit=limit)

    async def ready(self) -> None:
        await ready_quietly(lambda: self._auth.token(self._http))

    async def fetch(self, request: PageRequest) -> FetchResult:
        if request.platform != PLATFORM:
            raise ConfigurationError(f"ebay connector given a {request.platform} request")
        refreshed = False
        try:
            response, refreshed = await self._call(request)
        except ResendWithheld as exc:
            return withheld(request, exc.classified)
        except httpx.TransportError as exc:
            return _failed(request, Outcome.TRANSIENT, f"network: {type(exc).__name__}", refreshed)
        except ThrottledError as exc:
            return _failed(request, Outcome.THROTTLED, str(exc), refreshed, exc.retry_after_s)
        except TransientError as exc:
            return _failed(request, Outcome.TRANSIENT, str(exc), refreshed)
        except PermanentError as exc:
            if isinstance(exc, MalformedPayloadError):
                raise
            return _failed(request, Outcome.PERMANENT, str(exc), refreshed)
        body = _json_or_none(response)
        classified = classify(response.status_code, response.headers, body)
        if classified.outcome is Outcome.AUTH_EXPIRED and refreshed:
            reason = f"still refused after a token refresh: {classified.reason}"
            classified = classified.model_copy(
                update={"outcome": Outcome.PERMANENT, "reason": reason}
            )
        if classified.outcome is not Outcome.OK:
            return FetchResult(request=request, classified=classified, refreshed_token=refreshed)
        return self._page(request, response.status_code, body, classified, refreshed)

    def _page(
        self,
        request: PageRequest,
        status: int,
        body: Any,
        classified: Classified,
        refreshed: bool,
    ) -> FetchResult:
        if status == 204:
            return FetchResult(
                request=request,
                classified=classified,
                payload={},
                reported_count=0,
                refreshed_token=refreshed,
            )
        if not isinstance(body, dict):
            raise MalformedPayloadError(PLATFORM, request.resource, "$", "not a JSON object")
        short = pagination.short_page(request, body)
        if short is not None:
            reason = f"short page: {short[0]} of {short[1]} records due by total"
            return _failed(request, Outcome.TRANSIENT, reason, refreshed, status=status)
        return FetchResult(
            request=request,
            classified=classified,
            payload=body,
            next=pagination.next_request(request, body),
            reported_count=pagination.total(request, body),
            refreshed_token=refreshed,
        )

    async def _call(self, request: PageRequest) -> tuple[httpx.Response, bool]:
        token = await self._auth.token(self._http)
        response = await self._send(request, token)
        if response.status_code != 401:
            return response, False
        self._auth.invalidate()
        token = await self._auth.refresh(self._http)
        if not await may_resend():
            raise ResendWithheld(classify(401, response.headers, _json_or_none(response)))
        return await self._send(request, token), True

    async def _send(self, request: PageRequest, token: str) -> httpx.Response:
        url = request.path
        if request.route in pagination.FINANCES_ROUTES:
            url = self._finances_url + request.path
        return await self._http.request(
            request.method,
            url,
            params=request.params or None,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return jsontext.loads(response.content)
    except ValueError:
        return None


def _failed(
    request: PageRequest,
    outcome: Outcome,
    reason: str,
    refreshed: bool,
    retry_after_s: float | None = None,
    status: int = 0,
) -> FetchResult:
    classified = Classified(
        outcome=outcome, status=status, reason=reason, retry_after_s=retry_after_s
    )
    return FetchResult(request=request, classified=classified, refreshed_token=refreshed)


def build(
    settings: PlatformSettings,
    credentials: dict[str, str],
    account: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = wall_clock,
    cache: TokenCache | None = None,
    page_limit: int | None = None,
) -> EbayConnector:
    """A connector for one seller: base URL and token URL from ``settings``;
    ``page_limit`` caps every page's ``limit`` below the methods' maxima."""
    creds = EbayCredentials.from_mapping(credentials, settings)
    http = httpx.AsyncClient(base_url=settings.base_url, transport=transport, timeout=TIMEOUT_S)
    auth = EbayAuth(creds, settings.auth_url, cache if cache is not None else DEFAULT_CACHE, clock)
    return EbayConnector(http, finances_base(settings.base_url), auth, account, page_limit)
