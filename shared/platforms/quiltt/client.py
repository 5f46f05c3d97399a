"""``QuilttConnector``: Quiltt's GraphQL API on ``httpx.AsyncClient`` (``shared.platforms.base``).

One ``fetch`` is one GraphQL POST, plus at most one Session-token re-issue and one retry
when Quiltt answers ``Not Authenticated`` (HTTP 401, or a GraphQL auth error in a 200;
``FetchResult.refreshed_token``). Outcomes come from ``classify`` (GraphQL errors in a
200 included); an ok page that left records out (``pagination.short_page``) is returned
as ``transient`` so the caller asks again. A network error or timeout is ``transient``
with status 0. An ok answer without the documented shape raises ``MalformedPayloadError``.

``build(settings, credentials, account, transport=…, clock=…)``: ``settings.base_url`` is
the GraphQL endpoint itself (``https://api.quiltt.io/v1/graphql``; in-process sandbox
``http://sandbox/quiltt/v1/graphql``), ``settings.auth_url`` the session endpoint
(``https://auth.quiltt.io/v1/users/sessions``). ``credentials``: ``profile_id`` and
``api_secret_key`` (falls back to ``settings.client_secret``). ``clock``
(``() -> aware datetime``) is what Session expiry and ``Ratelimit-Reset`` are judged on.
``store`` (``auth.SessionStore``): where workers share the Profile's Session token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

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
from shared.platforms.quiltt import pagination
from shared.platforms.quiltt.auth import QuilttAuth, SessionCache, SessionStore, TokenRefused
from shared.platforms.quiltt.classify import classify
from shared.settings import PlatformSettings

TIMEOUT_S = 30.0


class QuilttConnector:
    platform = "quiltt"

    def __init__(
        self,
        endpoint: str,
        auth: QuilttAuth,
        account: str,
        *,
        now: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = TIMEOUT_S,
        page_size: int = pagination.PAGE_CAP,
    ) -> None:
        if not endpoint:
            raise ConfigurationError("quiltt: the GraphQL endpoint (base_url) is not set")
        self.account = account
        self.endpoint = endpoint
        self.page_size = page_size
        self._auth = auth
        self._now = now
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"QuilttConnector(account={self.account!r}, profile_id={self._auth.profile_id!r})"

    def first_request(
        self, resource: str, window: Window | None, *, bulk: bool = False
    ) -> PageRequest:
        path = urlsplit(self.endpoint).path or "/"
        return pagination.first_request(path, resource, window, bulk=bulk, first=self.page_size)

    async def ready(self) -> None:
        await ready_quietly(lambda: self._auth.session_token(self._http))

    async def fetch(self, request: PageRequest) -> FetchResult:
        if request.platform != self.platform:
            raise ConfigurationError(f"quiltt connector given a {request.platform} request")
        refreshed = False
        try:
            token = await self._auth.session_token(self._http)
            answer = await self._send(request, token)
            if isinstance(answer, tuple) and answer[1].outcome is Outcome.AUTH_EXPIRED:
                token = await self._auth.session_token(self._http, stale=token)
                if not await may_resend():
                    return withheld(request, answer[1])
                answer, refreshed = await self._send(request, token), True
        except TokenRefused as exc:
            return FetchResult(
                request=request, classified=exc.classified, refreshed_token=refreshed
            )
        if isinstance(answer, Classified):
            return FetchResult(request=request, classified=answer, refreshed_token=refreshed)
        body, classified = answer
        result = FetchResult(request=request, classified=classified, refreshed_token=refreshed)
        if classified.outcome is not Outcome.OK:
            return result
        _check(request, body)
        short = pagination.short_page(request, body)
        if short is not None:
            update = {"outcome": Outcome.TRANSIENT, "reason": f"quiltt {short}"}
            return result.model_copy(update={"classified": classified.model_copy(update=update)})
        count = (
            pagination.connection(body)["count"]
            if request.resource == "bank_transactions"
            else None
        )
        return result.model_copy(
            update={
                "payload": body,
                "next": pagination.next_request(request, body),
                "reported_count": count,
            }
        )

    async def _send(self, request: PageRequest, token: str) -> tuple[Any, Classified] | Classified:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._http.post(self.endpoint, json=request.body, headers=headers)
        except httpx.HTTPError as exc:
            reason = f"quiltt request failed: {type(exc).__name__}"
            return Classified(outcome=Outcome.TRANSIENT, status=0, reason=reason)
        try:
            body = jsontext.loads(response.content)
        except ValueError:
            body = None
        return body, classify(response.status_code, response.headers, body, self._now())

    async def aclose(self) -> None:
        await self._http.aclose()


def _check(request: PageRequest, body: Any) -> None:
    resource = request.resource
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise MalformedPayloadError("quiltt", resource, "data", "expected an object")
    if resource == "accounts":
        if not isinstance(data.get("accounts"), list):
            raise MalformedPayloadError("quiltt", resource, "data.accounts", "expected a list")
        return
    conn = data.get("transactions")
    if not isinstance(conn, dict):
        raise MalformedPayloadError("quiltt", resource, "data.transactions", "expected an object")
    if not isinstance(conn.get("count"), int) or isinstance(conn.get("count"), bool):
        raise MalformedPayloadError(
            "quiltt", resource, "data.transactions.count", "expected an integer"
        )
    edges = conn.get("edges")
    if not isinstance(edges, list) or not all(
        isinstance(e, dict) and isinstance(e.get("cursor"), str) and isinstance(e.get("node"), dict)
        for e in edges
    ):
        raise MalformedPayloadError(
            "quiltt", resource, "data.transactions.edges", "expected edges with cursor and node"
        )
    if not isinstance(conn.get("pageInfo"), dict):
        raise MalformedPayloadError(
            "quiltt", resource, "data.transactions.pageInfo", "expected an object"
        )


def build(
    settings: PlatformSettings,
    credentials: dict[str, str],
    account: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    cache: SessionCache | None = None,
    store: SessionStore | None = None,
    page_size: int = pagination.PAGE_CAP,
) -> QuilttConnector:
    """A Quiltt connector for one Profile (see the module docstring); ``store`` shares its
    Session token with other workers (``auth.SessionStore``)."""
    now = time.time if clock is None else (lambda: clock().timestamp())
    auth = QuilttAuth(
        settings.auth_url,
        credentials,
        api_secret_key=settings.client_secret.get_secret_value(),
        cache=cache,
        now=now,
        store=store,
    )
    return QuilttConnector(
        settings.base_url, auth, account, now=now, transport=transport, page_size=page_size
    )
