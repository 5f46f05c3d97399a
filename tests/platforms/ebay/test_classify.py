"""The eBay classification table, case by case, with eBay's own error bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.ebay import errors as sandbox_errors
from shared.platforms.base import Outcome
from shared.platforms.ebay.classify import classify, quota_wait

# MARKETPLACE_APIS.md §4.2: the over-quota body (E-ERR).
QUOTA_BODY = {
    "errors": [
        {
            "errorId": 2001,
            "domain": "ACCESS",
            "category": "REQUEST",
            "message": "Too many requests.",
            "longMessage": "The request limit has been reached for the resource.",
        }
    ]
}


def body(error_id: int, status_domain: str = "API_FULFILLMENT") -> dict[str, Any]:
    return {"errors": [{"errorId": error_id, "domain": status_domain, "category": "REQUEST"}]}


CASES: list[tuple[str, int, Any, Outcome]] = [
    ("orders page", 200, {"orders": [], "total": 0}, Outcome.OK),
    ("no transactions", 204, None, Outcome.OK),
    ("daily quota", 429, QUOTA_BODY, Outcome.THROTTLED),
    ("429 without body", 429, None, Outcome.THROTTLED),
    ("invalid token", 401, sandbox_errors.invalid_token().body(), Outcome.AUTH_EXPIRED),
    ("missing token", 401, sandbox_errors.missing_token().body(), Outcome.AUTH_EXPIRED),
    ("scope", 403, sandbox_errors.access_denied().body(), Outcome.PERMANENT),
    ("internal error", 500, sandbox_errors.internal_error().body(), Outcome.TRANSIENT),
    (
        "fulfillment system",
        500,
        sandbox_errors.system_error("fulfillment").body(),
        Outcome.TRANSIENT,
    ),
    ("finances system", 500, sandbox_errors.system_error("finances").body(), Outcome.TRANSIENT),
    ("system 10001", 500, body(10001, "ACCESS"), Outcome.TRANSIENT),
    ("gateway timeout", 504, sandbox_errors.internal_error(504).body(), Outcome.TRANSIENT),
    ("unavailable", 503, None, Outcome.TRANSIENT),
    ("transient not found", 404, sandbox_errors.not_found().body(), Outcome.TRANSIENT),
    ("transient invalid", 400, sandbox_errors.invalid_request().body(), Outcome.TRANSIENT),
    ("bad filter", 400, body(30800), Outcome.PERMANENT),
    ("bad limit", 400, body(31100), Outcome.PERMANENT),
    ("bad date", 400, body(135008, "API_FINANCES"), Outcome.PERMANENT),
    ("bad pagination", 400, body(25706, "API_INVENTORY"), Outcome.PERMANENT),
    ("unknown order", 404, body(32100), Outcome.PERMANENT),
    ("400 without body", 400, None, Outcome.PERMANENT),
    ("teapot", 418, None, Outcome.PERMANENT),
]


@pytest.mark.parametrize(
    ("status", "payload", "outcome"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_table(status: int, payload: Any, outcome: Outcome) -> None:
    result = classify(status, {}, payload)
    assert result.outcome is outcome
    assert result.status == status
    assert (result.reason == "") == (outcome is Outcome.OK)


def test_quota_429_names_the_error_and_has_no_invented_wait() -> None:
    result = classify(429, {}, QUOTA_BODY)
    assert "errorId 2001" in result.reason and "request limit" in result.reason
    assert result.retry_after_s is None
    assert result.limit_headers == {}


def test_retry_after_is_honoured_and_passed_on() -> None:
    result = classify(429, {"retry-after": "30"}, QUOTA_BODY)
    assert result.retry_after_s == 30.0
    assert result.limit_headers == {"Retry-After": "30"}


def test_quota_reset_from_developer_analytics() -> None:
    now = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    rate_limits = {
        "rateLimits": [
            {
                "apiContext": "sell",
                "apiName": "Fulfillment",
                "apiVersion": "v1",
                "resources": [
                    {
                        "name": "sell.fulfillment",
                        "rates": [
                            {
                                "count": 100000,
                                "limit": 100000,
                                "remaining": 0,
                                "reset": "2026-01-01T07:00:00.000Z",
                                "timeWindow": 86400,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    assert quota_wait(rate_limits, "Fulfillment", now) == 3600.0
    assert quota_wait(rate_limits, "Finances", now) is None
    assert quota_wait(None, "Fulfillment", now) is None
