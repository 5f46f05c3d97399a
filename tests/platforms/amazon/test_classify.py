"""The Amazon classification table, case by case, with Amazon's own error bodies."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.amazon import errors as sandbox_errors
from shared.ambassador.headers import feedback
from shared.ambassador.policies import AMAZON_PLANS
from shared.platforms.amazon.classify import (
    DEFAULT_THROTTLE_WAIT_S,
    RATE_HEADER,
    classify,
    classify_download,
)
from shared.platforms.base import Outcome

# MARKETPLACE_APIS.md §2.2: the 429 body as observed from the real service.
QUOTA_BODY = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}
QUOTA_NO_DETAILS = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota."}]}
INVALID = {"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}  # A-ORD example
ACCESS_DENIED = {
    "errors": [
        {
            "code": "AccessDenied",
            "message": "Access Denied, Unauthorized, Expired Token, or Invalid Signature",
        }
    ]
}
NO_ROLE = {"errors": [{"code": "AccessDenied", "message": "The application lacks the role."}]}

CASES: list[tuple[str, int, dict[str, str], Any, Outcome]] = [
    ("orders page", 200, {RATE_HEADER: "0.0167"}, {"payload": {"Orders": []}}, Outcome.OK),
    ("report accepted", 202, {}, {"reportId": "1"}, Outcome.OK),
    ("no content", 204, {}, None, Outcome.OK),
    ("quota exceeded", 429, {}, QUOTA_BODY, Outcome.THROTTLED),
    ("quota, no details", 429, {}, QUOTA_NO_DETAILS, Outcome.THROTTLED),
    ("429 without a body", 429, {}, None, Outcome.THROTTLED),
    ("token expired", 403, {}, sandbox_errors.UNAUTHORIZED_EXPIRED, Outcome.AUTH_EXPIRED),
    ("token invalid", 403, {}, sandbox_errors.UNAUTHORIZED_INVALID, Outcome.AUTH_EXPIRED),
    ("token missing", 403, {}, sandbox_errors.UNAUTHORIZED_MISSING, Outcome.AUTH_EXPIRED),
    ("spec 403 wording", 403, {}, ACCESS_DENIED, Outcome.AUTH_EXPIRED),
    ("role missing", 403, {}, NO_ROLE, Outcome.PERMANENT),
    ("invalid input", 400, {RATE_HEADER: "0.0167"}, INVALID, Outcome.PERMANENT),
    ("bad request other code", 400, {}, {"errors": [{"code": "BadThing"}]}, Outcome.PERMANENT),
    ("not found", 404, {}, {"errors": [{"code": "NotFound", "message": "x"}]}, Outcome.PERMANENT),
    ("too large", 413, {}, None, Outcome.PERMANENT),
    ("unsupported media", 415, {}, None, Outcome.PERMANENT),
    ("internal failure", 500, {}, sandbox_errors.INTERNAL_FAILURE, Outcome.TRANSIENT),
    ("unavailable", 503, {}, sandbox_errors.SERVICE_UNAVAILABLE, Outcome.TRANSIENT),
    ("gateway", 502, {}, "<html>", Outcome.TRANSIENT),
    ("gateway timeout", 504, {}, None, Outcome.TRANSIENT),
    ("unknown status", 418, {}, None, Outcome.PERMANENT),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_table(status: int, headers: dict[str, str], body: Any, outcome: Outcome) -> None:
    result = classify(status, headers, body, route="getOrders")
    assert result.outcome is outcome
    assert result.status == status
    assert (result.reason == "") == (outcome is Outcome.OK)
    assert (result.retry_after_s is not None) == (outcome is Outcome.THROTTLED)


@pytest.mark.parametrize(
    ("route", "headers", "wait"),
    [
        ("getOrders", {}, 1 / AMAZON_PLANS["getOrders"][0]),
        ("getOrderItems", {}, 2.0),
        ("getInventorySummaries", {}, 0.5),
        ("getOrders", {RATE_HEADER: "0.5"}, 2.0),  # the header, when sent, is authoritative
        ("getOrders", {RATE_HEADER: "junk"}, 1 / AMAZON_PLANS["getOrders"][0]),
        ("noSuchOperation", {}, DEFAULT_THROTTLE_WAIT_S),
    ],
)
def test_throttle_wait_is_one_token_of_the_operations_rate(route, headers, wait) -> None:
    result = classify(429, headers, QUOTA_BODY, route=route)
    assert result.retry_after_s == pytest.approx(wait)


def test_limit_headers_reach_the_ambassador_under_its_names() -> None:
    result = classify(200, {"X-Amzn-RateLimit-Limit": "0.0167", "x-amzn-RequestId": "r"}, {})
    assert result.limit_headers == {RATE_HEADER: "0.0167"}
    readings = feedback("amazon", 200, result.limit_headers)["readings"]
    assert [r.rate for r in readings] == [0.0167]
    assert classify(429, {}, QUOTA_BODY).limit_headers == {}


def test_reasons_carry_code_and_message() -> None:
    reason = classify(400, {}, INVALID).reason
    assert "400" in reason and "InvalidInput" in reason and "Invalid Input" in reason
    expired = classify(403, {}, sandbox_errors.UNAUTHORIZED_EXPIRED).reason
    assert "has expired" in expired


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (403, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (404, Outcome.PERMANENT),
    ],
)
def test_report_download(status: int, outcome: Outcome) -> None:
    assert classify_download(status).outcome is outcome
