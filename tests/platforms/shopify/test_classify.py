"""Shopify's classification table, case by case, with Shopify's own bodies and headers."""

from __future__ import annotations

from typing import Any

import pytest

from shared.ambassador.headers import feedback
from shared.platforms.base import Outcome
from shared.platforms.shopify.classify import (
    CALL_LIMIT,
    classify,
    graphql_body,
    limit_headers,
    throttle_wait,
)


def cost(requested: int | None, actual: int | None, available: float, rate: float = 100.0):
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


THROTTLED = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ],
    "extensions": cost(752, None, 152.0),
}
MAX_COST = {
    "errors": [
        {
            "message": "Query cost is 1252, which exceeds the single query max cost limit (1000).",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1252, "maxCost": 1000},
        }
    ],
    "extensions": cost(1252, None, 2000.0),
}
OK_PAGE = {"data": {"orders": {"edges": []}}, "extensions": cost(992, 12, 1988.0)}
REST_429 = {
    "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
    "uninterrupted service."
}
SYNTAX = {
    "errors": [
        {
            "message": "Field 'nope' doesn't exist on type 'Order'",
            "locations": [{"line": 1, "column": 40}],
            "extensions": {"code": "undefinedField", "typeName": "Order", "fieldName": "nope"},
        }
    ]
}
ACCESS = {
    "errors": [
        {
            "message": "Access denied for shopifyPaymentsAccount field.",
            "extensions": {"code": "ACCESS_DENIED"},
        }
    ],
    "data": {"shopifyPaymentsAccount": None},
}
INTERNAL = {
    "errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
}
SEARCH_IGNORED = {
    "data": {"orders": {"edges": [], "pageInfo": {"hasNextPage": False}}},
    "extensions": {
        **cost(992, 2, 1998.0),
        "search": [
            {
                "path": ["orders"],
                "query": "create_at:>='2026-09-01T00:00:00Z'",
                "parsed": {},
                "warnings": [
                    {"field": "create_at", "message": "Invalid search field for this query."}
                ],
            }
        ],
    },
}
UNAUTHORIZED = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome", "wait"),
    [
        (200, {}, OK_PAGE, Outcome.OK, None),
        (200, {CALL_LIMIT: "3/40"}, {"orders": []}, Outcome.OK, None),
        # THROTTLED arrives with HTTP 200 (and sometimes 429): (752 - 152) / 100 = 6 s
        (200, {}, THROTTLED, Outcome.THROTTLED, 6.0),
        (429, {}, THROTTLED, Outcome.THROTTLED, 6.0),
        (200, {}, MAX_COST, Outcome.PERMANENT, None),
        (200, {}, INTERNAL, Outcome.TRANSIENT, None),
        (200, {}, SYNTAX, Outcome.PERMANENT, None),
        (200, {}, ACCESS, Outcome.PERMANENT, None),
        (200, {}, SEARCH_IGNORED, Outcome.PERMANENT, None),
        (429, {"Retry-After": "2.0", CALL_LIMIT: "40/40"}, REST_429, Outcome.THROTTLED, 2.0),
        (429, {CALL_LIMIT: "40/40"}, REST_429, Outcome.THROTTLED, 1.0),  # no Retry-After: ~1 s
        (401, {}, UNAUTHORIZED, Outcome.AUTH_EXPIRED, None),
        (400, {}, {"errors": {"page_info": ["cannot be passed"]}}, Outcome.PERMANENT, None),
        (402, {}, {"errors": "Unavailable Shop"}, Outcome.PERMANENT, None),
        (403, {}, {"errors": "Forbidden"}, Outcome.PERMANENT, None),
        (404, {}, {"errors": "Not Found"}, Outcome.PERMANENT, None),
        (406, {}, None, Outcome.PERMANENT, None),
        (422, {}, {"errors": {"created_at_min": ["is invalid"]}}, Outcome.PERMANENT, None),
        (423, {}, {"errors": "This shop is unavailable"}, Outcome.PERMANENT, None),
        (430, {}, None, Outcome.TRANSIENT, None),
        (500, {}, {"errors": "Internal Server Error"}, Outcome.TRANSIENT, None),
        (502, {}, "<html>Bad Gateway</html>", Outcome.TRANSIENT, None),
        (503, {"Retry-After": "5"}, {"errors": "Service Unavailable"}, Outcome.TRANSIENT, 5.0),
        (504, {}, None, Outcome.TRANSIENT, None),
        (418, {}, None, Outcome.PERMANENT, None),
    ],
)
def test_table(
    status: int, headers: dict[str, str], body: Any, outcome: Outcome, wait: float | None
) -> None:
    c = classify(status, headers, body, requested_cost=500)
    assert (c.outcome, c.status, c.retry_after_s) == (outcome, status, wait)
    assert (c.reason == "") is (outcome is Outcome.OK)


def test_an_ignored_search_term_names_the_field() -> None:
    c = classify(200, {}, SEARCH_IGNORED)
    assert "search filter ignored" in c.reason and "create_at" in c.reason


def test_reasons_name_the_code_and_message_never_a_token() -> None:
    c = classify(200, {"X-Shopify-Access-Token": "shpat_secret"}, MAX_COST)
    assert "MAX_COST_EXCEEDED" in c.reason and "1252" in c.reason
    assert "shpat_secret" not in c.reason and "shpat_secret" not in str(c.limit_headers)
    assert "Invalid API key" in classify(401, {}, UNAUTHORIZED).reason


def test_throttle_wait_uses_the_estimate_when_the_body_has_no_requested_cost() -> None:
    body = {"errors": THROTTLED["errors"], "extensions": cost(None, None, 100.0, rate=50.0)}
    assert throttle_wait(body, requested_cost=400) == 6.0
    assert throttle_wait({"errors": THROTTLED["errors"]}, requested_cost=400) == 1.0
    assert throttle_wait({"extensions": cost(10, None, 500.0)}) == 0.0  # never negative
    assert throttle_wait({"extensions": cost(101, None, 0.0, rate=300.0)}) == 0.337  # ceil ms


def test_limit_headers_carry_the_call_limit_and_the_cost_extension() -> None:
    c = classify(200, {"x-shopify-shop-api-call-limit": "32/40", "x-request-id": "abc"}, OK_PAGE)
    assert c.limit_headers == {
        CALL_LIMIT: "32/40",
        "X-GraphQL-Cost-Requested": "992",
        "X-GraphQL-Cost-Actual": "12",
        "X-GraphQL-Cost-Available": "1988",
        "X-GraphQL-Cost-Maximum": "2000",
        "X-GraphQL-Cost-Restore-Rate": "100",
    }
    assert limit_headers({}, None) == {}


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (200, {}, THROTTLED),
        (200, {}, OK_PAGE),
        (429, {"Retry-After": "2.0", CALL_LIMIT: "40/40"}, REST_429),
        (200, {CALL_LIMIT: "12/40"}, {"orders": []}),
    ],
)
def test_the_ambassador_reads_the_same_facts_from_limit_headers(
    status: int, headers: dict[str, str], body: Any
) -> None:
    """What feedback() learns from the full response it also learns from the
    classification alone (a THROTTLED answer carries no payload to the caller)."""
    c = classify(status, headers, body)
    # feedback() reads GraphQL bodies only: it fails on REST's {"errors": "<text>"}
    # (reported to the lead), and a REST body holds no limit facts anyway.
    graphql = body if isinstance(body.get("errors", []), list) else None
    from_response = feedback("shopify", status, headers, graphql)
    from_classified = feedback("shopify", status, c.limit_headers, graphql_body(c.limit_headers))
    assert from_classified == from_response
    if body is THROTTLED:
        assert from_classified["throttled"] and from_classified["retry_after_s"] == c.retry_after_s
