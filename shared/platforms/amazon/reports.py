"""The Reports API 2021-06-30 bulk path as a chain of requests (pure; no I/O).

    bulk_find      GET  /reports/2021-06-30/reports (getReports): a report of the same
                   type, window and marketplaces created in the last ``ADOPT_WITHIN``
                   and not failed is adopted (polled or downloaded) instead of creating
                   another: orders and order items read the same all-orders report, and
                   a seller's reports are processed one after the other, so a second
                   identical report would only queue behind the first. None found (or
                   no ``now`` given): createReport.
    bulk_create    POST /reports/2021-06-30/reports (createReport) -> 202 {reportId}
    bulk_poll      GET  /reports/2021-06-30/reports/{reportId} (getReport), first
                   ``FIRST_POLL_S`` after creation, then every ``POLL_S`` seconds while
                   IN_QUEUE and every ``POLL_RUNNING_S`` once IN_PROGRESS
                   (``not_before_s``) until processingStatus is terminal. Reports take
                   tens of seconds to minutes to process, queued behind the seller's
                   earlier reports: polling a queued one often only spends calls, but
                   a running one ends soon, and the time from its end to the poll that
                   sees it (DONE, or FATAL: create it again) is lost whole when it is
                   the seller's last report (getReport's lane, 2/s, has room)
    bulk_download  GET  /reports/2021-06-30/documents/{reportDocumentId} (getReportDocument)
                   and, in the same fetch, the document at the URL it returns (a presigned
                   S3 URL: no SP-API operation, no permit, no access token). The URL lives
                   five minutes and is never put in a request or a history; a retried
                   download step asks for a fresh one.

Every step is one call on its route (``PageRequest.calls_ahead`` 1: a poll that repeats
waits ``not_before_s`` first, so it needs no second permit at once).

``state`` carries ``report_type``, ``report_spec`` (the createReport body, to create the
report again after FATAL), ``report_id`` (once created) and ``attempt``, so a retried
block resumes polling the same report instead of creating a new one.
Terminal states: DONE -> the download step; CANCELLED (Amazon cancels a report with no
rows) -> the chain ends with no document; FATAL -> a new report is created, at most
``MAX_ATTEMPTS`` in all (then ``PermanentError``).

Report types: the all-orders flat file by order date (or by last update, ``by_update``)
serves both ``orders`` and ``order_items``; the returns flat file serves ``returns``.
``dataStartTime`` / ``dataEndTime`` are the window's bounds (Amazon includes both; the
end must not be in the future).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.errors import MalformedPayloadError, PermanentError
from shared.normalize._common import parse_instant
from shared.platforms.base import PageRequest, Window, utc_iso

PLATFORM = "amazon"
ORDERS_BY_DATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
RETURNS_BY_DATE = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
REPORTS_PATH = "/reports/2021-06-30/reports"
REPORT_PATH = "/reports/2021-06-30/reports/{}"
DOCUMENT_PATH = "/reports/2021-06-30/documents/{}"
POLL_S = 20.0
POLL_RUNNING_S = 10.0
FIRST_POLL_S = 20.0
ADOPT_WITHIN = timedelta(hours=1)
FIND_PAGE = 100
MAX_ATTEMPTS = 3
PENDING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


def report_type(resource: str, *, by_update: bool = False) -> str:
    if resource == "returns":
        return RETURNS_BY_DATE
    return ORDERS_BY_UPDATE if by_update else ORDERS_BY_DATE


def create_request(
    resource: str,
    window: Window,
    marketplace_ids: Sequence[str],
    *,
    by_update: bool = False,
    attempt: int = 1,
) -> PageRequest:
    kind = report_type(resource, by_update=by_update)
    body = {
        "reportType": kind,
        "marketplaceIds": list(marketplace_ids),
        "dataStartTime": utc_iso(window.start),
        "dataEndTime": utc_iso(window.end),
    }
    return PageRequest(
        platform=PLATFORM,
        resource=resource,
        route="createReport",
        method="POST",
        path=REPORTS_PATH,
        body=body,
        window=window,
        step="bulk_create",
        calls_ahead=1,
        state={"report_type": kind, "attempt": attempt, "report_spec": body},
    )


def find_request(create: PageRequest, now: datetime) -> PageRequest:
    """getReports for a report ``create`` (a bulk_create request) would duplicate."""
    spec = create.body
    params = {
        "reportTypes": spec["reportType"],
        "processingStatuses": "IN_QUEUE,IN_PROGRESS,DONE",
        "marketplaceIds": ",".join(spec["marketplaceIds"][:10]),
        "createdSince": utc_iso(now - ADOPT_WITHIN),
        "pageSize": FIND_PAGE,
    }
    return create.model_copy(
        update={
            "route": "getReports",
            "method": "GET",
            "body": None,
            "params": params,
            "step": "bulk_find",
        }
    )


def _same_report(spec: Mapping[str, Any], report: Any) -> bool:
    if not isinstance(report, Mapping) or report.get("reportType") != spec["reportType"]:
        return False
    try:
        same_window = all(
            parse_instant(report.get(k)) == parse_instant(spec[k])
            for k in ("dataStartTime", "dataEndTime")
        )
    except ValueError:
        return False
    markets = report.get("marketplaceIds")
    return same_window and isinstance(markets, list) and set(markets) == set(spec["marketplaceIds"])


def after_find(request: PageRequest, body: Any) -> PageRequest | None:
    """The step after a getReports answer: the adopted report's next step (its poll, or
    its download when DONE), the next getReports page, or createReport."""
    reports = body.get("reports") if isinstance(body, Mapping) else None
    if not isinstance(reports, list):
        raise MalformedPayloadError(PLATFORM, request.resource, "reports", "missing or not a list")
    spec = request.state["report_spec"]
    found = next((r for r in reports if _same_report(spec, r)), None)
    if found is not None:
        report_id = _field(request, found, "reportId")
        return after_poll(poll_request(request, report_id, 0.0), found)
    token = body.get("nextToken")
    if isinstance(token, str) and token:
        return request.model_copy(
            update={"params": {"nextToken": token}, "page_number": request.page_number + 1}
        )
    return create_request_from(request, int(request.state.get("attempt", 1)))


def poll_request(request: PageRequest, report_id: str, wait_s: float) -> PageRequest:
    return request.model_copy(
        update={
            "route": "getReport",
            "method": "GET",
            "path": REPORT_PATH.format(report_id),
            "body": None,
            "step": "bulk_poll",
            "state": {**request.state, "report_id": report_id},
            "not_before_s": wait_s,
            "page_number": request.page_number + 1,
        }
    )


def _field(request: PageRequest, body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, Mapping) else None
    if not isinstance(value, str) or not value:
        raise MalformedPayloadError(PLATFORM, request.resource, name, "missing or not text")
    return value


def after_create(request: PageRequest, body: Any) -> PageRequest:
    """The first poll of the report ``createReport`` just accepted."""
    return poll_request(request, _field(request, body, "reportId"), FIRST_POLL_S)


def after_poll(request: PageRequest, body: Any) -> PageRequest | None:
    """The next step after a getReport answer (None: CANCELLED, no document)."""
    status = _field(request, body, "processingStatus")
    if status in PENDING:
        wait = POLL_RUNNING_S if status == "IN_PROGRESS" else POLL_S
        return poll_request(request, request.state["report_id"], wait)
    if status == "DONE":
        document_id = _field(request, body, "reportDocumentId")
        return request.model_copy(
            update={
                "route": "getReportDocument",
                "path": DOCUMENT_PATH.format(document_id),
                "step": "bulk_download",
                "state": {**request.state, "document_id": document_id},
                "not_before_s": 0.0,
                "page_number": request.page_number + 1,
            }
        )
    if status == "CANCELLED":
        return None
    if status == "FATAL":
        attempt = int(request.state.get("attempt", 1))
        if attempt >= MAX_ATTEMPTS:
            raise PermanentError(
                f"amazon report {request.state['report_type']} ended FATAL {attempt} times"
            )
        return create_request_from(request, attempt + 1)
    raise MalformedPayloadError(
        PLATFORM, request.resource, "processingStatus", f"unknown value {status!r}"
    )


def create_request_from(request: PageRequest, attempt: int) -> PageRequest:
    """A new createReport for the same report (after FATAL)."""
    body = dict(request.state.get("report_spec") or {})
    if not body:
        raise PermanentError("amazon report chain lost its createReport body")
    return PageRequest(
        platform=PLATFORM,
        resource=request.resource,
        route="createReport",
        method="POST",
        path=REPORTS_PATH,
        body=body,
        window=request.window,
        step="bulk_create",
        calls_ahead=1,
        state={"report_type": body["reportType"], "attempt": attempt, "report_spec": body},
        page_number=request.page_number + 1,
    )


def document_location(request: PageRequest, body: Any) -> tuple[str, bool]:
    """(url, gzip?) from a getReportDocument answer."""
    url = _field(request, body, "url")
    compression = body.get("compressionAlgorithm")
    if compression not in (None, "GZIP"):
        raise MalformedPayloadError(
            PLATFORM, request.resource, "compressionAlgorithm", f"unknown value {compression!r}"
        )
    return url, compression == "GZIP"


def document_text(
    request: PageRequest, content: bytes, compressed: bool, charset: str | None
) -> str:
    """The report's text: gunzipped when Amazon says GZIP, decoded by its charset
    (UTF-8 when the response names none)."""
    try:
        raw = gzip.decompress(content) if compressed else content
    except (OSError, EOFError, zlib.error):
        raise MalformedPayloadError(PLATFORM, request.resource, "document", "bad gzip") from None
    try:
        return raw.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        problem = f"not decodable as {charset or 'utf-8'}"
        raise MalformedPayloadError(PLATFORM, request.resource, "document", problem) from None
