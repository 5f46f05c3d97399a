"""Every full response example in the official specs, normalized.

Walks every operation of every spec file in ../shared/specs and collects the 200-response
examples (Swagger ``examples`` and Amazon's ``x-amzn-api-sandbox`` static responses). An
operation whose pages we normalize must normalize all its examples to at least one record;
every other operation with examples must be listed in ``NOT_PAGES`` with the reason, so a
new example in a spec update cannot go unnoticed. (The eBay and Etsy specs carry no
response examples; their fixtures are validated against the schemas instead.)"""

from __future__ import annotations

from typing import Any

import pytest

from shared.normalize import normalize
from tests.normalize.specs import SPECS, example_cases, load

PAGES = {
    "getOrders": ("amazon", "orders"),
    "getOrderItems": ("amazon", "order_items"),
    "listFinancialEvents": ("amazon", "transactions"),
    "listFinancialEventsByGroupId": ("amazon", "transactions"),
    "listFinancialEventsByOrderId": ("amazon", "transactions"),
    "listFinancialEventGroups": ("amazon", "payouts"),
    "getInventorySummaries": ("amazon", "inventory"),
}
NOT_PAGES = {
    "getOrder": "one order, not a page; the connector lists orders with getOrders",
    "getOrderBuyerInfo": "buyer PII (restricted data), not a record we keep",
    "getOrderAddress": "address PII (restricted data), not a record we keep",
    "getOrderItemsBuyerInfo": "buyer PII (restricted data), not a record we keep",
    "getOrderRegulatedInfo": "regulated-item verification data, not a record we keep",
    "listTransactions": "Finances 2024-06-19: not used; transactions come from Finances v0",
    "listBalances": "Finances 2024-06-19 balances: not a record type",
    "listSummary": "Finances 2024-06-19 summaries: not a record type",
    "getReports": "report job metadata; the report document's text is what we normalize",
    "getReport": "report job metadata; the report document's text is what we normalize",
    "getReportDocument": "a document's download URL, not its content",
    "getReportSchedules": "report schedules: not a record type",
    "getReportSchedule": "report schedules: not a record type",
}


def _cases() -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(spec file, operationId, example response, example request parameters)."""
    out = []
    for spec_file in sorted(p.name for p in SPECS.iterdir() if p.suffix in (".json", ".yaml")):
        for path, item in load(spec_file).get("paths", {}).items():
            for method, op in item.items():
                if not isinstance(op, dict):
                    continue
                for example, request in example_cases(spec_file, path, method):
                    out.append((spec_file, op.get("operationId", path), example, request))
    return out


CASES = _cases()


def test_every_example_is_accounted_for() -> None:
    operations = {case[1] for case in CASES}
    assert operations, "the specs hold examples"
    assert operations <= set(PAGES) | set(NOT_PAGES), operations - set(PAGES) - set(NOT_PAGES)
    assert set(PAGES) <= operations | {"getInventorySummaries"}  # its spec has no example


@pytest.mark.parametrize(
    ("spec_file", "operation", "example", "request_params"),
    [case for case in CASES if case[1] in PAGES],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_spec_example_normalizes(
    spec_file: str, operation: str, example: Any, request_params: dict[str, Any]
) -> None:
    platform, resource = PAGES[operation]
    group = request_params.get("eventGroupId", {}).get("value", "")
    records = normalize(platform, resource, example, account="spec", scope=group)
    assert records, f"{spec_file} {operation} example gave no records"
    assert all(r.platform == platform and r.account == "spec" for r in records)
    assert all(r.natural_key for r in records)
    if group:  # events without their own FinancialEventGroupId take the request's
        assert group in {getattr(r, "payout_id", None) for r in records}
