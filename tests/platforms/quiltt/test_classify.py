"""Quiltt's classification table case by case, and the sandbox's real answers through it."""

from __future__ import annotations

import httpx
import pytest

from shared.ambassador.headers import feedback
from shared.platforms.base import Outcome
from shared.platforms.quiltt.classify import (
    DEFAULT_WAIT_S,
    ISSUANCE_WAIT_S,
    RULES,
    classify,
    rule_for,
)
from shared.platforms.quiltt.pagination import TRANSACTIONS_QUERY
from tests.platforms.quiltt import support

NOW = 1_793_000_000.0
RATE = {"Ratelimit-Limit": "100", "Ratelimit-Remaining": "0", "Ratelimit-Reset": str(int(NOW) + 1)}
PAGE = {"data": {"transactions": {"count": 0, "edges": [], "pageInfo": {"hasNextPage": False}}}}


def gql(message: str, code: str | None = None) -> dict:
    error: dict = {"message": message, "locations": [{"line": 1, "column": 3}]}
    if code:
        error["extensions"] = {"code": code}
    return {"data": None, "errors": [error]}


# status, headers, body, rule, outcome, wait
CASES = [
    (200, RATE, PAGE, "ok", Outcome.OK, None),
    (201, {}, {"token": "t", "expiration": 1}, "ok", Outcome.OK, None),
    (204, RATE, None, "ok", Outcome.OK, None),
    (200, RATE, {"data": {"accounts": []}, "errors": []}, "ok", Outcome.OK, None),
    (200, RATE, gql("Not Authenticated"), "gql-auth", Outcome.AUTH_EXPIRED, None),
    (200, {}, gql("token expired", "UNAUTHENTICATED"), "gql-auth", Outcome.AUTH_EXPIRED, None),
    (200, RATE, gql("Slow down", "THROTTLED"), "gql-throttled", Outcome.THROTTLED, 1.0),
    (200, {}, gql("Rate limit exceeded"), "gql-throttled", Outcome.THROTTLED, DEFAULT_WAIT_S),
    (
        200,
        {"Retry-After": "3"},
        gql("Too Many Requests", "TOO_MANY_REQUESTS"),
        "gql-throttled",
        Outcome.THROTTLED,
        3.0,
    ),
    (200, {}, gql("boom", "INTERNAL_SERVER_ERROR"), "gql-internal", Outcome.TRANSIENT, None),
    (
        200,
        RATE,
        gql("Cannot query field 'amountt' on type 'Transaction'."),
        "gql-query",
        Outcome.PERMANENT,
        None,
    ),
    (200, RATE, gql("Invalid cursor: 'zz'"), "gql-query", Outcome.PERMANENT, None),
    (
        200,
        RATE,
        gql("Syntax Error: Expected Name, found <EOF>."),
        "gql-query",
        Outcome.PERMANENT,
        None,
    ),
    (
        200,
        RATE,
        {"data": {"transactions": None}, "errors": [{"message": "partial", "path": ["x"]}]},
        "gql-query",
        Outcome.PERMANENT,
        None,
    ),
    (
        429,
        {"Ratelimit-Limit": "25", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "1"},
        {
            "message": "Too Many Requests",
            "instruction": "Session token issuance is limited to 10 per hour and 20 per day "
            "per Profile. Reuse tokens for their lifetime or revoke unused ones.",
        },
        "issuance",
        Outcome.THROTTLED,
        ISSUANCE_WAIT_S,
    ),
    (
        429,
        {},
        {"message": "Session token issuance is limited to 10 per hour and 20 per day"},
        "issuance",
        Outcome.THROTTLED,
        ISSUANCE_WAIT_S,
    ),
    (
        429,
        RATE,
        {"message": "Too Many Requests", "instruction": "Slow down: see the Ratelimit-* headers"},
        "429",
        Outcome.THROTTLED,
        1.0,
    ),
    (429, {"Retry-After": "12", **RATE}, None, "429", Outcome.THROTTLED, 12.0),
    (429, {}, None, "429", Outcome.THROTTLED, DEFAULT_WAIT_S),
    (
        401,
        RATE,
        {"message": "Not Authenticated", "instruction": "…"},
        "401",
        Outcome.AUTH_EXPIRED,
        None,
    ),
    (400, {}, {"message": "Bad Request"}, "refused", Outcome.PERMANENT, None),
    (403, {}, {"message": "Forbidden"}, "refused", Outcome.PERMANENT, None),
    (404, {}, {"message": "Not Found"}, "refused", Outcome.PERMANENT, None),
    (422, {}, {"message": "Unprocessable Entity"}, "refused", Outcome.PERMANENT, None),
    (
        500,
        RATE,
        {"message": "Internal Server Error", "errorId": "ab12"},
        "gone",
        Outcome.TRANSIENT,
        None,
    ),
    (503, RATE, {"message": "Service Unavailable"}, "gone", Outcome.TRANSIENT, None),
    (408, {}, None, "gone", Outcome.TRANSIENT, None),
    (301, {}, None, "else", Outcome.PERMANENT, None),
]


@pytest.mark.parametrize(("status", "headers", "body", "rule", "outcome", "wait"), CASES)
def test_table(status, headers, body, rule, outcome, wait) -> None:
    assert rule_for(status, body).name == rule
    classified = classify(status, headers, body, NOW)
    assert classified.outcome is outcome and classified.status == status
    assert classified.retry_after_s == wait
    assert classified.limit_headers == headers
    if outcome is Outcome.OK:
        assert classified.reason == ""
    else:
        assert classified.reason.startswith(f"quiltt {status} {rule}")


def test_every_rule_has_a_case() -> None:
    assert {case[3] for case in CASES} == {rule.name for rule in RULES}


def test_wait_from_reset_needs_now() -> None:
    assert classify(429, RATE, None).retry_after_s == DEFAULT_WAIT_S
    assert classify(429, RATE, None, NOW - 4.5).retry_after_s == pytest.approx(5.5)


def test_reasons_redact_tokens() -> None:
    jwt = "eyJhbGciOiJIUzUxMiJ9.eyJleHAiOjF9.c2lnbmF0dXJlc2lnbmF0dXJl"
    reason = classify(200, {}, gql(f"session {jwt} is not valid"), NOW).reason
    assert jwt not in reason and "[redacted]" in reason
    reason = classify(401, {}, {"message": "key qltt_0123456789abcdef refused"}, NOW).reason
    assert "qltt_0123456789abcdef" not in reason


def test_limit_headers_feed_the_ambassador() -> None:
    from datetime import UTC, datetime

    c = classify(429, RATE, {"message": "Too Many Requests"}, NOW)
    fed = feedback("quiltt", 429, c.limit_headers, None, datetime.fromtimestamp(NOW, UTC))
    assert fed["throttled"] and fed["retry_after_s"] == pytest.approx(1.0)
    (reading,) = fed["readings"]
    assert reading.capacity == 100 and reading.remaining == 0


async def _post(world, body: dict, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=world.transport()) as http:
        return await http.post(support.ENDPOINT, json=body, headers=headers)


async def _session(world) -> str:
    creds = world.platforms["quiltt"].credentials(support.CLIENT)
    async with httpx.AsyncClient(transport=world.transport()) as http:
        response = await http.post(
            support.SESSIONS,
            json={"userId": creds["profile_id"]},
            headers={"Authorization": f"Bearer {creds['api_secret_key']}"},
        )
    assert response.status_code == 201
    return response.json()["token"]


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"query": "{ transactions(first: 5) { count nope } }"}, "gql-query"),
        ({"query": "{ transactions(first: 5) { count "}, "gql-query"),
        (
            {"query": TRANSACTIONS_QUERY, "variables": {"first": 5, "after": "!!"}},
            "gql-query",
        ),
        (
            {"query": TRANSACTIONS_QUERY, "variables": {"first": 5, "filter": {"date_gte": "1/2"}}},
            "gql-query",
        ),
        ({"query": TRANSACTIONS_QUERY, "variables": {"first": 5}}, "ok"),
    ],
)
async def test_sandbox_graphql_answers(body: dict, rule: str) -> None:
    world = support.world()
    response = await _post(world, body, await _session(world))
    assert response.status_code == 200
    c = classify(response.status_code, response.headers, response.json(), world.clock.now())
    assert rule_for(response.status_code, response.json()).name == rule
    assert set(c.limit_headers) == {"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"}


async def test_sandbox_unauthenticated_and_throttled_answers() -> None:
    world = support.world(session_rps=2)
    body = {"query": TRANSACTIONS_QUERY, "variables": {"first": 1}}
    gone = await _post(world, body, "not-a-session")
    c = classify(gone.status_code, gone.headers, gone.json(), world.clock.now())
    assert c.outcome is Outcome.AUTH_EXPIRED and c.status == 401
    token = await _session(world)
    answers = [await _post(world, body, token) for _ in range(6)]
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled, [a.status_code for a in answers]
    first = throttled[0]
    c = classify(first.status_code, first.headers, first.json(), world.clock.now())
    assert c.outcome is Outcome.THROTTLED and 0 < c.retry_after_s <= 1.0
    assert c.limit_headers["Ratelimit-Remaining"] == "0"
