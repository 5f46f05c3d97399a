"""Reports 2021-06-30 on the world clock: queue, processing time, documents, URL expiry."""

from __future__ import annotations

import pytest

from sandbox.amazon.formats import iso
from sandbox.amazon.reports import ORDERS_BY_DATE, RETURNS_BY_DATE
from sandbox.faults import FaultRates, Faults
from tests.sandbox.amazon_support import MARKETS, Env, parse_flat_file

REPORTS = "/reports/2021-06-30/reports"


async def create(env: Env, token: str, report_type: str, start: float, end: float) -> str:
    spec = {
        "reportType": report_type,
        "marketplaceIds": list(MARKETS),
        "dataStartTime": iso(start),
        "dataEndTime": iso(end),
    }
    response = await env.get("createReport", REPORTS, token, json=spec)
    assert response.status_code == 202, response.text
    return response.json()["reportId"]


async def report(env: Env, token: str, report_id: str) -> dict:
    response = await env.get("getReport", f"{REPORTS}/{report_id}", token)
    assert response.status_code == 200
    return response.json()


async def test_report_lifecycle_runs_on_the_clock() -> None:
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        small = await create(env, token, ORDERS_BY_DATE, now - 7 * 86400, now - 60)
        large = await create(env, token, ORDERS_BY_DATE, now - 60 * 86400, now - 60)
        first = await report(env, token, small)
        assert first["processingStatus"] == "IN_QUEUE" and "reportDocumentId" not in first
        jobs = env.amazon.reports.jobs
        env.clock.set(jobs[small].started + 0.5)
        assert (await report(env, token, small))["processingStatus"] == "IN_PROGRESS"
        assert (await report(env, token, large))["processingStatus"] == "IN_QUEUE"
        early = await env.get(
            "getReportDocument", f"/reports/2021-06-30/documents/{jobs[small].document_id}", token
        )
        assert early.status_code == 404
        env.clock.set(jobs[large].ended + 1)
        done = await report(env, token, large)
        assert done["processingStatus"] == "DONE" and done["reportDocumentId"]
        assert done["processingEndTime"] == iso(jobs[large].ended)
        small_s = jobs[small].ended - jobs[small].started
        large_s = jobs[large].ended - jobs[large].started
        assert 20 <= small_s < large_s
        assert jobs[large].started >= jobs[small].ended  # one seller's reports queue FIFO


async def test_document_url_serves_the_flat_file_for_five_minutes() -> None:
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        report_id = await create(env, token, ORDERS_BY_DATE, now - 60 * 86400, now - 60)
        env.clock.set(env.amazon.reports.jobs[report_id].ended)
        document_id = (await report(env, token, report_id))["reportDocumentId"]
        document = (
            await env.get(
                "getReportDocument", f"/reports/2021-06-30/documents/{document_id}", token
            )
        ).json()
        assert document["url"].startswith("http://sandbox/amazon/documents/")
        assert document["compressionAlgorithm"] == "GZIP"  # large documents come gzipped
        download = await env.http.get(document["url"])
        assert download.status_code == 200
        rows = parse_flat_file(download.content, compressed=True)
        assert {r["amazon-order-id"] for r in rows} <= {
            o["AmazonOrderId"] for o in env.truth("orders")
        }
        tampered = await env.http.get(document["url"].replace("Signature=", "Signature=0"))
        assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
        env.clock.advance(301)
        expired = await env.http.get(document["url"])
        assert expired.status_code == 403
        assert b"<Code>AccessDenied</Code><Message>Request has expired" in expired.content


async def test_a_window_without_data_is_cancelled() -> None:
    async with Env() as env:
        token = await env.token()
        start = env.scenario.clients[0].history_start
        report_id = await create(env, token, RETURNS_BY_DATE, start - 30 * 86400, start - 86400)
        env.clock.advance(60)
        cancelled = await report(env, token, report_id)
        assert cancelled["processingStatus"] == "CANCELLED"
        assert "reportDocumentId" not in cancelled


async def test_fatal_reports_come_from_the_server_error_fault() -> None:
    rates = FaultRates(server_error=0.4)
    async with Env(faults=Faults(per_platform={"amazon": rates}, seed=3)) as env:
        token = await env.token()
        now = env.clock.now()
        outcomes = set()
        for _ in range(12):
            env.clock.advance(120)
            spec = {
                "reportType": ORDERS_BY_DATE,
                "marketplaceIds": [MARKETS[0]],
                "dataStartTime": iso(now - 30 * 86400),
                "dataEndTime": iso(now - 60),
            }
            response = await env.get("createReport", REPORTS, token, json=spec)
            if response.status_code == 202:
                outcomes.add(env.amazon.reports.jobs[response.json()["reportId"]].outcome)
        assert outcomes == {"DONE", "FATAL"}
        assert env.world.accounting.faults[("amazon", "report_fatal")] >= 1


@pytest.mark.parametrize(
    "spec",
    [
        {"reportType": "GET_NOTHING", "marketplaceIds": [MARKETS[0]]},
        {"reportType": ORDERS_BY_DATE, "marketplaceIds": []},
        {
            "reportType": ORDERS_BY_DATE,
            "marketplaceIds": [MARKETS[0]],
            "dataStartTime": "2099-01-01T00:00:00Z",
        },
        {
            "reportType": ORDERS_BY_DATE,
            "marketplaceIds": [MARKETS[0]],
            "dataStartTime": "2026-10-02T00:00:00Z",
            "dataEndTime": "2026-10-01T00:00:00Z",
        },
    ],
)
async def test_create_report_rejects_bad_specifications(spec: dict) -> None:
    async with Env() as env:
        token = await env.token()
        response = await env.get("createReport", REPORTS, token, json=spec)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "InvalidInput"


async def test_another_sellers_report_is_not_found() -> None:
    async with Env() as env:
        token = await env.token()
        response = await env.get("getReport", f"{REPORTS}/123", token)
        assert response.status_code == 404


async def test_get_reports_lists_the_sellers_reports_newest_first_with_filters() -> None:
    async with Env() as env:
        token = await env.token()
        now = env.clock.now()
        older = await create(env, token, ORDERS_BY_DATE, now - 7 * 86400, now - 60)
        env.clock.advance(5)
        newer = await create(env, token, ORDERS_BY_DATE, now - 3 * 86400, now - 60)
        returns = await create(env, token, RETURNS_BY_DATE, now - 3 * 86400, now - 60)

        async def listed(**params) -> dict:
            response = await env.get("getReports", REPORTS, token, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        body = await listed(reportTypes=ORDERS_BY_DATE)
        assert [r["reportId"] for r in body["reports"]] == [newer, older]
        both = await listed(reportTypes=f"{ORDERS_BY_DATE},{RETURNS_BY_DATE}", pageSize=2)
        assert [r["reportId"] for r in both["reports"]] == [returns, newer]
        rest = await listed(nextToken=both["nextToken"])
        assert [r["reportId"] for r in rest["reports"]] == [older] and "nextToken" not in rest
        since = iso(env.amazon.reports.jobs[newer].created)
        assert [
            r["reportId"]
            for r in (await listed(reportTypes=ORDERS_BY_DATE, createdSince=since))["reports"]
        ] == [newer]
        done = await listed(reportTypes=ORDERS_BY_DATE, processingStatuses="DONE")
        assert done["reports"] == []  # both still queued
        one_market = await listed(reportTypes=ORDERS_BY_DATE, marketplaceIds=MARKETS[1])
        assert [r["reportId"] for r in one_market["reports"]] == [newer, older]
        unseen = await listed(reportTypes=ORDERS_BY_DATE, marketplaceIds="A1F83G8C2ARO7P")
        assert unseen["reports"] == []  # no report of that marketplace

        env.clock.advance(4 * 45)  # getReports: 0.0222/s, burst 10
        for bad in ({}, {"reportTypes": "NOPE"}, {"reportTypes": ORDERS_BY_DATE, "pageSize": 0}):
            response = await env.get("getReports", REPORTS, token, params=bad)
            assert response.status_code == 400, bad
        mixed = await env.get(
            "getReports",
            REPORTS,
            token,
            params={"nextToken": both["nextToken"], "reportTypes": ORDERS_BY_DATE},
        )
        assert mixed.status_code == 400 and "only parameter" in mixed.text
