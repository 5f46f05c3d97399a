"""Etsy's classification table, case by case, and the sandbox's real 429s through it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from shared.ambassador.headers import feedback
from shared.platforms.base import Outcome, Window
from shared.platforms.etsy.classify import RULES, classify, rule_for
from tests.platforms.etsy import support

LIMITS = {
    "x-limit-per-second": "10",
    "x-remaining-this-second": "0",
    "x-limit-per-day": "10000",
    "x-remaining-today": "9876",
}
DAY_OUT = {**LIMITS, "x-remaining-today": "0", "x-remaining-this-second": "9"}

# status, headers, body, rule, outcome, wait
CASES = [
    (200, LIMITS, {"count": 0, "results": []}, "ok", Outcome.OK, None),
    (201, {}, {}, "ok", Outcome.OK, None),
    (
        429,
        {**LIMITS, "retry-after": "1"},
        {"error": "Exceeded per second rate limit"},
        "qps",
        Outcome.THROTTLED,
        1.0,
    ),
    (429, LIMITS, {"error": "Exceeded per second rate limit"}, "qps", Outcome.THROTTLED, 1.0),
    (
        429,
        {**DAY_OUT, "retry-after": "86400"},
        {"error": "Exceeded daily rate limit"},
        "qpd",
        Outcome.THROTTLED,
        86400.0,
    ),
    (429, DAY_OUT, {"error": "Too many requests"}, "qpd", Outcome.THROTTLED, None),
    (429, {"Retry-After": "7"}, None, "429", Outcome.THROTTLED, 7.0),
    (429, {}, "<html>busy</html>", "429", Outcome.THROTTLED, 1.0),
    (
        401,
        LIMITS,
        {"error": "invalid_token", "error_description": "access token is expired"},
        "token",
        Outcome.AUTH_EXPIRED,
        None,
    ),
    (401, {}, {"error": "invalid_token"}, "token", Outcome.AUTH_EXPIRED, None),
    (
        403,
        {},
        {"error": "Shared secret is required in x-api-key header."},
        "key",
        Outcome.PERMANENT,
        None,
    ),
    (403, {}, {"error": "Missing x-api-key header."}, "key", Outcome.PERMANENT, None),
    (403, {}, {"error": "Invalid API key"}, "key", Outcome.PERMANENT, None),
    (
        403,
        LIMITS,
        {"error": "The shop does not belong to the authenticated user."},
        "403",
        Outcome.PERMANENT,
        None,
    ),
    (
        400,
        LIMITS,
        {
            "error": "Time window between min_created and max_created must be no more than "
            "2678400 seconds (31 days)."
        },
        "400",
        Outcome.PERMANENT,
        None,
    ),
    (
        400,
        {},
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
        "400",
        Outcome.PERMANENT,
        None,
    ),
    (
        404,
        LIMITS,
        {"error": "Could not find a Shop with shop_id = 1"},
        "404",
        Outcome.PERMANENT,
        None,
    ),
    (408, {}, None, "gone", Outcome.TRANSIENT, None),
    (500, LIMITS, {"error": "Internal Server Error"}, "gone", Outcome.TRANSIENT, None),
    (502, {}, "bad gateway", "gone", Outcome.TRANSIENT, None),
    (503, {}, None, "gone", Outcome.TRANSIENT, None),
    (504, LIMITS, {"error": "Gateway Timeout"}, "gone", Outcome.TRANSIENT, None),
    (302, {}, None, "else", Outcome.PERMANENT, None),
    (418, {}, {"error": "teapot"}, "else", Outcome.PERMANENT, None),
]


@pytest.mark.parametrize(("status", "headers", "body", "rule", "outcome", "wait"), CASES)
def test_table(status, headers, body, rule, outcome, wait) -> None:
    assert rule_for(status, headers, body).name == rule
    classified = classify(status, headers, body)
    assert classified.outcome is outcome
    assert classified.status == status
    assert classified.retry_after_s == wait
    expected = {k.lower(): v for k, v in headers.items()}
    assert classified.limit_headers == expected
    if outcome is Outcome.OK:
        assert classified.reason == ""
    else:
        assert classified.reason.startswith(f"etsy {status} {rule}")
        if isinstance(body, dict) and "error" in body:
            assert body["error"][:40] in classified.reason


def test_every_rule_has_a_case() -> None:
    assert {case[3] for case in CASES} == {rule.name for rule in RULES}


def test_reasons_redact_token_shaped_text_and_stay_short() -> None:
    leaked = "12345678.abcdefabcdefabcdefabcdef0123456789"
    body = {"error": "invalid_token", "error_description": f"token {leaked} " + "x" * 500}
    reason = classify(401, {}, body).reason
    assert leaked not in reason and "[redacted]" in reason
    assert len(reason) < 260


def test_limit_headers_feed_the_ambassador() -> None:
    observed = classify(429, {**DAY_OUT, "retry-after": "86400"}, {"error": "x"})
    fed = feedback("etsy", 429, observed.limit_headers, {"error": "Exceeded daily rate limit"})
    assert fed["throttled"] and fed["retry_after_s"] == 86400.0
    readings = {r.limit: r for r in fed["readings"]}
    assert readings["qpd"].remaining == 0 and readings["qpd"].capacity == 10000
    assert readings["qps"].capacity == 10


def _recent_window(now: float) -> Window:
    return Window(
        start=datetime.fromtimestamp(now - 86_400, UTC), end=datetime.fromtimestamp(now, UTC)
    )


def _limited_world(**limits: int):
    from sandbox.clock import ManualClock
    from sandbox.scenario import load
    from sandbox.world import World

    scenario = load("tiny")
    clock = ManualClock(scenario.now)
    return World(scenario, clock=clock, platforms=("etsy",), limits={"etsy": limits})


async def test_sandbox_per_second_429_is_throttled_with_its_wait() -> None:
    world = _limited_world(qps=2)  # calls take 0.08-0.4 s of sandbox time: a third one fails
    conn = support.connector(world)
    request = conn.first_request("orders", _recent_window(world.clock.now()))
    try:
        results = [await conn.fetch(request) for _ in range(10)]
    finally:
        await conn.aclose()
    throttled = [r for r in results if r.classified.outcome is Outcome.THROTTLED]
    assert throttled, [r.classified.status for r in results]
    c = throttled[0].classified
    assert c.status == 429 and c.retry_after_s == 1.0
    assert c.limit_headers["x-remaining-this-second"] == "0"
    assert {"x-limit-per-second", "x-limit-per-day", "x-remaining-today", "retry-after"} <= set(
        c.limit_headers
    )
    assert throttled[0].payload is None and throttled[0].next is None


async def test_sandbox_daily_429_is_throttled_for_the_day() -> None:
    world = _limited_world(qpd=3)
    conn = support.connector(world)
    request = conn.first_request("orders", _recent_window(world.clock.now()))
    try:
        statuses = []
        for _ in range(4):
            world.clock.advance(2)
            statuses.append(await conn.fetch(request))
    finally:
        await conn.aclose()
    assert [r.classified.outcome for r in statuses[:3]] == [Outcome.OK] * 3
    last = statuses[3].classified
    assert last.outcome is Outcome.THROTTLED and last.status == 429
    assert last.limit_headers["x-remaining-today"] == "0"
    assert 86_000 < last.retry_after_s <= 86_400
    assert "daily" in last.reason


async def test_keystring_alone_is_refused_as_permanent() -> None:
    world = support.world()
    creds = world.platforms["etsy"].credentials(support.CLIENT)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        response = await http.get(
            "/etsy/v3/application/openapi-ping", headers={"x-api-key": creds["keystring"]}
        )
    classified = classify(response.status_code, response.headers, response.json())
    assert classified.outcome is Outcome.PERMANENT and classified.status == 403
    assert "Shared secret is required" in classified.reason
