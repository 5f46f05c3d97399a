"""``EtsyConnector``: Etsy Open API v3 on ``httpx.AsyncClient`` (see ``shared.platforms.base``).

One ``fetch`` is one API call, plus at most one token refresh and one retry when Etsy
answers 401 (``FetchResult.refreshed_token``). Outcomes come from ``classify``; an ok list
page holding fewer results than its ``count`` promises, or a returns visit whose payment
holds fewer adjustments than its receipt listed refunds (``pagination``), is returned as
``transient`` (retry the same request), so a dropped record is never skipped. A network
error or timeout is ``transient`` with status 0. An ok answer that is not the JSON Etsy
documents raises ``MalformedPayloadError`` (platform, resource, field). The payload is
the page as Etsy sent it; a windowed bulk order-items page holds transactions outside
its window too, and its request's ``state["scope"]`` is what it must be normalized with
to leave them out (``pagination``); its ``reported_count`` is None. Such a page whose
creation times rise (not newest first: the chain's stop would not hold) raises
``MalformedPayloadError``.

``build(settings, credentials, account, transport=…, clock=…)``: ``settings.base_url`` is the
API root (``https://openapi.etsy.com``; the in-process sandbox: ``http://sandbox/etsy``),
``settings.auth_url`` the token endpoint. ``credentials`` is the shape the sandbox's
``credentials()`` prints: ``keystring``, ``shared_secret``, ``refresh_token``, ``shop_id``
(``user_id`` unused); keystring and secret fall back to ``settings.client_id`` /
``client_secret`` (they belong to the application). ``clock`` (``() -> aware datetime``,
default the wall clock) is what token expiry is judged on: devhost passes its virtual
clock. ``cache`` replaces the process-wide token cache (tests); ``store`` (a
``shared.platforms.tokens.GrantStore``) is where rotated refresh tokens are written back
and re-read from; ``on_rotate`` receives a rotated refresh token; ``page_limit`` (1..100)
is the list page size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from shared import jsontext
from shared.errors import ConfigurationError, MalformedPayloadError
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
from shared.platforms.etsy import pagination
from shared.platforms.etsy.auth import EtsyAuth, TokenCache, TokenRefused
from shared.platforms.etsy.classify import classify
from shared.platforms.tokens import GrantStore
from shared.settings import PlatformSettings

TIMEOUT_S = 30.0


class EtsyConnector:
    platform = "etsy"

    def __init__(
        self,
        base_url: str,
        auth: EtsyAuth,
        shop_id: str,
        account: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = TIMEOUT_S,
        page_limit: int = pagination.PAGE_LIMIT,
    ) -> None:
        self.account = account
        self.page_limit = page_limit
        self.shop_id = shop_id
        self._auth = auth
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s
        )

    def __repr__(self) -> str:
        return f"EtsyConnector(account={self.account!r}, shop_id={self.shop_id!r})"

    def first_request(
        self, resource: str, window: Window | None, *, bulk: bool = False, by_update: bool = False
    ) -> PageRequest:
        """See ``pagination.first_request``; ``by_update`` lists receipts by modification."""
        return pagination.first_request(
            self.shop_id, resource, window, bulk=bulk, by_update=by_update, limit=self.page_limit
        )

    async def ready(self) -> None:
        await ready_quietly(lambda: self._auth.access_token(self._http))

    async def fetch(self, request: PageRequest) -> FetchResult:
        if request.platform != self.platform:
            raise ConfigurationError(f"etsy connector given a {request.platform} request")
        try:
            token = await self._auth.access_token(self._http)
            response = await self._send(request, token)
            refreshed = False
            if isinstance(response, httpx.Response) and response.status_code == 401:
                token = await self._auth.access_token(self._http, stale=token)
                if not await may_resend():
                    return withheld(request, self._result(request, response, True).classified)
                response, refreshed = await self._send(request, token), True
        except TokenRefused as exc:
            return FetchResult(request=request, classified=exc.classified)
        if isinstance(response, Classified):
            return FetchResult(request=request, classified=response, refreshed_token=refreshed)
        return self._result(request, response, refreshed)

    async def _send(self, request: PageRequest, token: str) -> httpx.Response | Classified:
        headers = {"x-api-key": self._auth.api_key(), "Authorization": f"Bearer {token}"}
        try:
            return await self._http.request(
                request.method, request.path, params=_query(request.params), headers=headers
            )
        except httpx.HTTPError as exc:
            reason = f"etsy request failed: {type(exc).__name__}"
            return Classified(outcome=Outcome.TRANSIENT, status=0, reason=reason)

    def _result(self, request: PageRequest, response: httpx.Response, refreshed: bool):
        body = _json(response)
        classified = classify(response.status_code, response.headers, body)
        result = FetchResult(request=request, classified=classified, refreshed_token=refreshed)
        if classified.outcome is not Outcome.OK:
            return result
        _check(request, body)
        disorder = pagination.misordered(request, body)
        if disorder is not None:
            raise MalformedPayloadError("etsy", request.resource, "results", disorder)
        if "results" in body:
            short = pagination.short_page(request, body) or pagination.missing_adjustments(
                request, body
            )
            if short is not None:
                update = {"outcome": Outcome.TRANSIENT, "reason": f"etsy {short}"}
                return result.model_copy(
                    update={"classified": classified.model_copy(update=update)}
                )
        return result.model_copy(
            update={
                "payload": body,
                "next": pagination.next_request(request, body),
                "reported_count": pagination.reported_count(request, body),
            }
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _query(params: dict[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}


def _json(response: httpx.Response) -> Any:
    try:
        return jsontext.loads(response.content)
    except ValueError:
        return None


def _check(request: PageRequest, body: Any) -> None:
    """An ok body must be an object; a list page ``{count: int, results: [objects]}``;
    a getListingInventory answer ``{products: [...]}``."""
    resource = request.resource
    if not isinstance(body, dict):
        raise MalformedPayloadError("etsy", resource, "$", "expected a JSON object")
    if request.resource == "inventory" and request.path.endswith("/inventory"):
        if not isinstance(body.get("products"), list):
            raise MalformedPayloadError("etsy", resource, "products", "expected a list")
        return
    if not isinstance(body.get("count"), int) or isinstance(body.get("count"), bool):
        raise MalformedPayloadError("etsy", resource, "count", "expected an integer")
    results = body.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise MalformedPayloadError("etsy", resource, "results", "expected a list of objects")


def build(
    settings: PlatformSettings,
    credentials: dict[str, str],
    account: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    cache: TokenCache | None = None,
    on_rotate: Callable[[str], Any] | None = None,
    store: GrantStore | None = None,
    page_limit: int = pagination.PAGE_LIMIT,
) -> EtsyConnector:
    """An Etsy connector for one shop (see the module docstring)."""
    shop_id = str(credentials.get("shop_id", ""))
    if not shop_id.isdigit():
        raise ConfigurationError("etsy credentials lack a numeric 'shop_id'")
    auth = EtsyAuth(
        settings.auth_url,
        credentials,
        keystring=settings.client_id,
        shared_secret=settings.client_secret.get_secret_value(),
        cache=cache,
        now=time.time if clock is None else lambda: clock().timestamp(),
        on_rotate=on_rotate,
        store=store,
    )
    return EtsyConnector(
        settings.base_url, auth, shop_id, account, transport=transport, page_limit=page_limit
    )
