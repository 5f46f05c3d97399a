"""The Amazon SP-API connector: ``shared.platforms.base.Connector`` over httpx.

Resources and their chains (``first_request``; see ``pagination`` and ``reports``):

    orders        getOrders by window (``by_update``: LastUpdated*), or bulk: the
                  all-orders report
    order_items   ``order_items_requests(order_ids)``: getOrderItems over a list of
                  orders — ``dependent_request(result)`` gives that chain for the orders
                  of a getOrders page, each order's items dated by its PurchaseDate
                  (the page's ``scope``, their ``created_at``, as the report's rows
                  are); or bulk: the all-orders report (same text)
    payouts       listFinancialEventGroups by window (180-day slices)
    transactions  ``transactions_requests(group_ids)``: listFinancialEventsByGroupId per
                  group — ``dependent_request`` gives it for a groups page (an open
                  group's running total and the span it was seen in carried along, for
                  the block check: ``pagination``); the complete
                  path, since undated events (ServiceFee …) are told apart by their group
                  (normalize with ``scope=request.state["scope"]``). A group too old
                  for ByGroupId (``GROUP_EVENTS_FOR``, less ``GROUP_EVENTS_MARGIN``)
                  is listed by posted date over its span, in its currency. By window:
                  listFinancialEvents (PostedAfter/Before, 180-day slices).
    returns       the returns report (bulk, whatever ``bulk`` says: Amazon has no list)
    inventory     getInventorySummaries, a snapshot over every marketplace (the window
                  is ignored)

``first_request(..., now=...)`` checks the 2-minute rule (report windows: not in the
future) when the caller passes its ``now``. ``fetch`` makes one SP-API call: the access
token comes from the LWA cache; on an auth-expired answer it refreshes once and retries
once (``refreshed_token``). A bulk_download fetch also downloads the document its
getReportDocument answer points to. Records are in the payloads of ``page`` and
``bulk_download`` steps only; a bulk chain that ends without a document (CANCELLED: no
rows) ends on a poll step. Time comes from the injected ``clock``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared import jsontext
from shared.errors import (
    ConfigurationError,
    MalformedPayloadError,
    PermanentError,
    ThrottledError,
    TransientError,
)
from shared.normalize._common import parse_decimal, parse_instant
from shared.platforms.amazon import pagination, reports
from shared.platforms.amazon.auth import (
    DEFAULT_CACHE,
    Clock,
    LwaAuth,
    LwaCredentials,
    TokenCache,
)
from shared.platforms.amazon.classify import classify, classify_download
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
from shared.settings import PlatformSettings

PLATFORM = "amazon"
RESOURCES = ("orders", "order_items", "transactions", "payouts", "returns", "inventory")
TIMEOUT_S = 30.0
GROUP_EVENTS_FOR = timedelta(days=730)
"""listFinancialEventsByGroupId shows a group's events only while it started less than
two years ago (MARKETPLACE_APIS.md §2.3)."""
GROUP_EVENTS_MARGIN = timedelta(days=30)
"""Groups this close to that age are listed by posted date too: a chain built now may be
walked days later (a retried or parked block)."""


def wall_clock() -> datetime:
    """Production time source; tests and devhost inject their own clock."""
    return datetime.now(UTC)


class AmazonConnector:
    platform = PLATFORM
    drivers_listed_first = frozenset({"listFinancialEventGroups"})
    """Driver routes whose pages are all listed before their dependent chains are walked
    (``activities.fetch_pages``): a window's settlement groups, then their events."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: LwaAuth,
        credentials: LwaCredentials,
        account: str,
    ) -> None:
        self._http = http
        self._auth = auth
        self._marketplaces = credentials.marketplace_ids
        self.account = account

    @property
    def auth(self) -> LwaAuth:
        return self._auth

    def __repr__(self) -> str:
        return f"AmazonConnector(account={self.account!r}, marketplaces={self._marketplaces!r})"

    # --- chains ----------------------------------------------------------------------

    def first_request(
        self,
        resource: str,
        window: Window | None,
        *,
        bulk: bool = False,
        now: datetime | None = None,
        by_update: bool = False,
    ) -> PageRequest:
        if resource not in RESOURCES:
            raise ConfigurationError(
                f"amazon has no resource {resource!r}; expected one of {', '.join(RESOURCES)}"
            )
        if resource == "inventory":
            return pagination.inventory_request(self._marketplaces)
        if window is None:
            raise ConfigurationError(f"amazon {resource} needs a window")
        if bulk or resource == "returns":
            if resource not in ("orders", "order_items", "returns"):
                raise ConfigurationError(f"amazon has no bulk path for {resource}")
            if now is not None and window.end > now:
                raise ConfigurationError("amazon report windows may not end in the future")
            create = reports.create_request(
                resource, window, self._marketplaces, by_update=by_update
            )
            return create if now is None else reports.find_request(create, now)
        if now is not None:
            pagination.check_window(window, now)
        if resource == "orders":
            return pagination.orders_request(window, self._marketplaces, by_update=by_update)
        if resource == "payouts":
            return pagination.finance_request("listFinancialEventGroups", window)
        if resource == "transactions":
            return pagination.finance_request("listFinancialEvents", window)
        raise ConfigurationError(
            "amazon order_items are listed per order: use order_items_requests(order_ids) "
            "or dependent_request(result of a getOrders page), or bulk=True"
        )

    def order_items_requests(
        self, order_ids: Iterable[str], created: Mapping[str, str] | None = None
    ) -> PageRequest | None:
        """One chain over the items of every order in ``order_ids`` (None if empty);
        ``created`` (order id -> PurchaseDate) dates their items."""
        return pagination.order_items_request(order_ids, created)

    def transactions_requests(self, group_ids: Iterable[str]) -> PageRequest | None:
        """One chain over the financial events of every group in ``group_ids``."""
        return pagination.group_events_request(group_ids)

    def dependent_request(self, result: FetchResult) -> PageRequest | None:
        """The chain a page implies: order items for a getOrders page, events for a
        listFinancialEventGroups page; None for any other page."""
        if result.classified.outcome is not Outcome.OK or not isinstance(result.payload, dict):
            return None
        route = result.request.route
        if route == "getOrders":
            ids = _ids(result, "Orders", "AmazonOrderId")
            return self.order_items_requests(ids, _purchase_dates(result, ids))
        if route == "listFinancialEventGroups":
            ids = _ids(result, "FinancialEventGroupList", "FinancialEventGroupId")
            groups = [_group(result, row, i) for row, i in zip(_rows(result), ids, strict=True)]
            now = self._auth.now()
            seen = (result.sent_at, now) if result.sent_at is not None else None
            return pagination.groups_events_request(
                groups, by_date_before=now - GROUP_EVENTS_FOR + GROUP_EVENTS_MARGIN, seen=seen
            )
        return None

    # --- calls -----------------------------------------------------------------------

    async def ready(self) -> None:
        await ready_quietly(lambda: self._auth.token(self._http))

    async def fetch(self, request: PageRequest) -> FetchResult:
        if request.platform != PLATFORM:
            raise ConfigurationError(f"amazon connector given a {request.platform} request")
        refreshed = False
        sent_at = self._auth.now()
        try:
            response, refreshed = await self._call(request)
            classified = classify(
                response.status_code, response.headers, _json_or_none(response), route=request.route
            )
            if classified.outcome is Outcome.AUTH_EXPIRED and refreshed:
                classified = classified.model_copy(
                    update={
                        "outcome": Outcome.PERMANENT,
                        "reason": f"still refused after a token refresh: {classified.reason}",
                    }
                )
            if classified.outcome is not Outcome.OK:
                return FetchResult(
                    request=request, classified=classified, refreshed_token=refreshed
                )
            result = await self._ok(request, response, classified, refreshed)
            return result.model_copy(update={"sent_at": sent_at})
        except ResendWithheld as exc:
            return withheld(request, exc.classified)
        except httpx.TransportError as exc:
            return _failed(request, Outcome.TRANSIENT, f"network: {type(exc).__name__}", refreshed)
        except MalformedPayloadError:
            raise
        except ThrottledError as exc:
            return _failed(request, Outcome.THROTTLED, str(exc), refreshed, exc.retry_after_s)
        except TransientError as exc:
            return _failed(request, Outcome.TRANSIENT, str(exc), refreshed)
        except PermanentError as exc:
            return _failed(request, Outcome.PERMANENT, str(exc), refreshed)

    async def _call(self, request: PageRequest) -> tuple[httpx.Response, bool]:
        token = await self._auth.token(self._http)
        response = await self._send(request, token)
        if response.status_code != 403:
            return response, False
        first = classify(403, response.headers, _json_or_none(response), route=request.route)
        if first.outcome is not Outcome.AUTH_EXPIRED:
            return response, False
        self._auth.invalidate()
        token = await self._auth.refresh(self._http)
        if not await may_resend():
            raise ResendWithheld(first)
        return await self._send(request, token), True

    async def _send(self, request: PageRequest, token: str) -> httpx.Response:
        return await self._http.request(
            request.method,
            request.path,
            params=request.params or None,
            json=request.body if request.method != "GET" else None,
            headers={"x-amz-access-token": token, "accept": "application/json"},
        )

    async def _ok(
        self,
        request: PageRequest,
        response: httpx.Response,
        classified: Classified,
        refreshed: bool,
    ) -> FetchResult:
        body = _json(request, response)
        payload: Any = body
        if request.step == "page":
            following = pagination.next_request(request, body)
        elif request.step == "bulk_find":
            following = reports.after_find(request, body)
        elif request.step == "bulk_create":
            following = reports.after_create(request, body)
        elif request.step == "bulk_poll":
            following = reports.after_poll(request, body)
        elif request.step == "bulk_download":
            url, compressed = reports.document_location(request, body)
            download = await self._http.get(url)  # presigned: no SP-API token
            verdict = classify_download(download.status_code)
            if verdict.outcome is not Outcome.OK:
                return FetchResult(request=request, classified=verdict, refreshed_token=refreshed)
            payload = reports.document_text(
                request, download.content, compressed, download.charset_encoding
            )
            following = None
        else:
            raise ConfigurationError(f"amazon: unknown step {request.step!r}")
        return FetchResult(
            request=request,
            classified=classified,
            payload=payload,
            next=following,
            refreshed_token=refreshed,
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def _rows(result: FetchResult, key: str = "FinancialEventGroupList") -> list[Any]:
    payload = result.payload.get("payload") if isinstance(result.payload, dict) else None
    rows = payload.get(key) or [] if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise MalformedPayloadError(PLATFORM, result.request.resource, key, "not a list")
    return rows


def _ids(result: FetchResult, key: str, field: str) -> list[str]:
    rows = _rows(result, key)
    ids = [row.get(field) if isinstance(row, dict) else None for row in rows]
    if not all(isinstance(i, str) and i for i in ids):
        raise MalformedPayloadError(PLATFORM, result.request.resource, f"{key}.{field}", "missing")
    return ids


def _purchase_dates(result: FetchResult, ids: list[str]) -> dict[str, str]:
    """Order id -> its PurchaseDate (ISO 8601, as parsed) for a getOrders page: the
    date its items chain stamps on their items (getOrderItems gives none)."""
    out = {}
    for row, order_id in zip(_rows(result, "Orders"), ids, strict=True):
        try:
            out[order_id] = parse_instant(row.get("PurchaseDate")).isoformat()
        except ValueError:
            raise MalformedPayloadError(
                PLATFORM, result.request.resource, "Orders.PurchaseDate", "missing or not a date"
            ) from None
    return out


def _group(result: FetchResult, row: dict[str, Any], group_id: str) -> pagination.EventGroup:
    """A groups page row's span and currency (end None while the group is open)."""

    def instant(name: str) -> datetime | None:
        value = row.get(name)
        if value is None:
            return None
        try:
            return parse_instant(value)
        except ValueError:
            raise MalformedPayloadError(
                PLATFORM, result.request.resource, f"FinancialEventGroupList.{name}", "not a date"
            ) from None

    start = instant("FinancialEventGroupStart")
    total = row.get("OriginalTotal")
    currency = total.get("CurrencyCode") if isinstance(total, dict) else None
    if start is None or not isinstance(currency, str) or not currency:
        field = "FinancialEventGroupStart" if start is None else "OriginalTotal.CurrencyCode"
        raise MalformedPayloadError(
            PLATFORM, result.request.resource, f"FinancialEventGroupList.{field}", "missing"
        )
    amount = total.get("CurrencyAmount") if isinstance(total, dict) else None
    try:
        stated = None if amount is None else str(parse_decimal(amount))
    except ValueError:
        raise MalformedPayloadError(
            PLATFORM, result.request.resource, "OriginalTotal.CurrencyAmount", "not a number"
        ) from None
    end = instant("FinancialEventGroupEnd")
    return pagination.EventGroup(group_id, start, end, currency, stated)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return jsontext.loads(response.content)
    except ValueError:
        return None


def _json(request: PageRequest, response: httpx.Response) -> Mapping[str, Any]:
    body = _json_or_none(response)
    if not isinstance(body, dict):
        raise MalformedPayloadError(
            PLATFORM, request.resource, "$", "response is not a JSON object"
        )
    return body


def _failed(
    request: PageRequest,
    outcome: Outcome,
    reason: str,
    refreshed: bool,
    retry_after_s: float | None = None,
) -> FetchResult:
    classified = Classified(outcome=outcome, status=0, reason=reason, retry_after_s=retry_after_s)
    return FetchResult(request=request, classified=classified, refreshed_token=refreshed)


def build(
    settings: PlatformSettings,
    credentials: dict[str, str],
    account: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = wall_clock,
    cache: TokenCache | None = None,
) -> AmazonConnector:
    """A connector for one seller: base URL and LWA token URL from ``settings``."""
    creds = LwaCredentials.from_mapping(credentials, settings)
    http = httpx.AsyncClient(base_url=settings.base_url, transport=transport, timeout=TIMEOUT_S)
    auth = LwaAuth(creds, settings.auth_url, cache if cache is not None else DEFAULT_CACHE, clock)
    return AmazonConnector(http, auth, creds, account)


__all__ = ["AmazonConnector", "build"]
