"""Reports API 2021-06-30: createReport (202), getReports, getReport, getReportDocument.

createReport validates the body against CreateReportSpecification: reportType must be one
of ``reports.REPORT_TYPES``, marketplaceIds 1-25 values, dataStartTime <= dataEndTime <= now
(both default to now). Report ids are digits; document ids ``amzn1.spdoc.1.4.na.<uuid>``. A
seller only sees its own reports (another seller's id answers 404). getReports lists the
seller's reports newest first: ``reportTypes`` (1-10) or ``nextToken`` (then the only
parameter) is required; ``processingStatuses``, ``marketplaceIds`` (1-10: a report matches
if it has one of them), ``createdSince`` (default 90 days ago), ``createdUntil`` (default
now) filter; ``pageSize`` 1-100, default 10.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sandbox.amazon import paging
from sandbox.amazon.errors import invalid, not_found
from sandbox.amazon.formats import BadDate, parse_iso
from sandbox.amazon.reports import REPORT_TYPES, ReportJob, report_rows

if TYPE_CHECKING:
    from sandbox.amazon.app import Call, Reply


def _time(body: dict[str, Any], name: str, now: float) -> float:
    value = body.get(name)
    if value is None:
        return now
    try:
        t = parse_iso(str(value))
    except BadDate as exc:
        raise invalid(f"Invalid {name}: {value!r}.") from exc
    if t > now:
        raise invalid(f"{name} must be prior to or equal to the current date and time.")
    return t


def _uuid(*parts: object) -> str:
    h = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def create_report(call: Call) -> Reply:
    body = call.json_body()
    report_type = body.get("reportType")
    if report_type not in REPORT_TYPES:
        raise invalid(f"Invalid reportType: {report_type!r}.")
    markets = body.get("marketplaceIds")
    if not isinstance(markets, list) or not 1 <= len(markets) <= 25:
        raise invalid("marketplaceIds must be a list of 1 to 25 marketplace ids.")
    start, end = _time(body, "dataStartTime", call.now), _time(body, "dataEndTime", call.now)
    if start > end:
        raise invalid("dataStartTime must be before dataEndTime.")
    store, world = call.sandbox.reports, call.sandbox.world
    report_id = str(50_000_000_000 + len(store.jobs) * 7 + 3)
    job = ReportJob(
        report_id,
        call.account,
        call.client_id,
        report_type,
        [str(m) for m in markets],
        start,
        end,
        call.now,
        0.0,
        0.0,
        "DONE",
        None,
    )
    rows = len(report_rows(job, call.data.history, call.now))
    if rows == 0:
        job.outcome = "CANCELLED"
    elif world.faults.roll("amazon", "server_error", "report", report_id):
        world.accounting.fault("amazon", "report_fatal")
        job.outcome = "FATAL"
    else:
        job.document_id = f"amzn1.spdoc.1.4.na.{_uuid(world.faults.seed, report_id)}"
    wait = 2.0 + 8.0 * world.faults.uniform("amazon", "report_queue", report_id)
    store.add(job, wait, rows)
    return 202, {"reportId": report_id}


STATUSES = frozenset({"CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"})
RETENTION_S = 90 * 86_400


def _report_query(call: Call) -> dict[str, Any]:
    types = call.params("reportTypes")
    if not 1 <= len(types) <= 10:
        raise invalid("reportTypes or nextToken is required; reportTypes takes 1 to 10 values.")
    unknown = [t for t in types if t not in REPORT_TYPES]
    if unknown:
        raise invalid(f"Invalid reportTypes: {unknown[0]!r}.")
    statuses = call.params("processingStatuses")
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise invalid(f"Invalid processingStatuses: {bad[0]!r}.")
    markets = call.params("marketplaceIds")
    if len(markets) > 10:
        raise invalid("marketplaceIds takes at most 10 values.")
    since, until = call.date("createdSince"), call.date("createdUntil")
    return {
        "types": types,
        "statuses": statuses,
        "markets": markets,
        "since": call.now - RETENTION_S if since is None else since,
        "until": call.now if until is None else until,
        "size": call.integer("pageSize", 10, 1, 100),
    }


def list_reports(call: Call) -> Reply:
    token = call.param("nextToken")
    if token:
        if any(k != "nextToken" for k in call.query):
            raise invalid("nextToken must be the only parameter when it is given.")
        state = paging.decode("getReports", token, "nextToken")
        q, offset = state["q"], state["offset"]
    else:
        q, offset = _report_query(call), 0
    jobs = [
        j
        for j in call.sandbox.reports.jobs.values()
        if j.account == call.account
        and j.report_type in q["types"]
        and (not q["statuses"] or j.status(call.now) in q["statuses"])
        and (not q["markets"] or set(j.marketplace_ids) & set(q["markets"]))
        and q["since"] <= j.created <= q["until"]
        and j.created >= call.now - RETENTION_S
    ]
    jobs.sort(key=lambda j: (-j.created, j.report_id))
    chunk = jobs[offset : offset + q["size"]]
    out: dict[str, Any] = {"reports": [j.payload(call.now) for j in chunk]}
    if offset + q["size"] < len(jobs):
        out["nextToken"] = paging.encode("getReports", {"q": q, "offset": offset + q["size"]})
    return 200, out


def _job(call: Call, report_id: str) -> ReportJob:
    job = call.sandbox.reports.jobs.get(report_id)
    if job is None or job.account != call.account:
        raise not_found(f"Report {report_id} was not found.")
    return job


def get_report(call: Call) -> Reply:
    return 200, _job(call, call.path["reportId"]).payload(call.now)


def get_report_document(call: Call) -> Reply:
    document_id = call.path["reportDocumentId"]
    store = call.sandbox.reports
    job = next((j for j in store.jobs.values() if j.document_id == document_id), None)
    if job is None or job.account != call.account or call.now < job.ended:
        raise not_found(f"Report document {document_id} was not found.")
    document = store.document(job, call.data.history)
    out: dict[str, Any] = {
        "reportDocumentId": document_id,
        "url": f"{call.root}/documents/{document_id}?{store.signed_query(document_id, call.now)}",
    }
    if document.compressed:
        out["compressionAlgorithm"] = "GZIP"
    return 200, out
