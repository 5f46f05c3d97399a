"""SP-API responses -> outcomes: one table, first matching rule wins.

``classify(status, headers, body, route=...)`` looks the response up in ``RULES``. A rule
matches on the HTTP status (a set) and, optionally, on the first error's ``code`` and a
phrase in its ``message`` / ``details`` (Amazon's envelope ``{"errors": [{"code",
"message", "details"}]}``, MARKETPLACE_APIS.md §2.4-2.5):

=========================  ===========================  ===============================
status / error             outcome                      why
=========================  ===========================  ===============================
200 201 202 204            ok
429 (QuotaExceeded)        throttled                    wait 1 / the operation's rate
403 Unauthorized           auth_expired                 expired / revoked / invalid token
403 other                  permanent                    the app lacks the role
400 InvalidInput           permanent                    bad dates, oversized pages …
401 404 405 413 415        permanent
408 500 502 503 504        transient                    InternalFailure, overloading
other                      permanent (unknown status)
=========================  ===========================  ===============================

The wait after a 429: Amazon sends no ``Retry-After`` (and no rate header on 429, by the
spec); a token bucket refills one token in ``1 / rate`` seconds, so that is the wait, the
rate taken from the ``x-amzn-RateLimit-Limit`` header when present, else from the
operation's default usage plan (``shared.ambassador.policies.AMAZON_PLANS``), else 2 s.

``limit_headers`` carries ``x-amzn-RateLimit-Limit`` whenever the response has it (the
ambassador reads it with ``shared.ambassador.headers.feedback``). Reasons hold the status,
the error code and Amazon's message, never request headers or tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.ambassador.policies import AMAZON_PLANS
from shared.platforms.base import Classified, Outcome

RATE_HEADER = "x-amzn-RateLimit-Limit"
LIMIT_HEADERS = (RATE_HEADER,)
DEFAULT_THROTTLE_WAIT_S = 2.0
_REASON_CHARS = 200


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[int]
    outcome: Outcome
    code: str | None = None  # the first error's code must equal this
    phrase: str | None = None  # ... and message/details must contain this (lower case)
    why: str = ""


def _s(*codes: int) -> frozenset[int]:
    return frozenset(codes)


RULES: tuple[Rule, ...] = (
    Rule(_s(200, 201, 202, 204), Outcome.OK),
    Rule(_s(429), Outcome.THROTTLED, why="quota exceeded"),
    Rule(_s(403), Outcome.AUTH_EXPIRED, code="Unauthorized", why="access token refused"),
    Rule(_s(403), Outcome.AUTH_EXPIRED, phrase="expired token", why="access token expired"),
    Rule(_s(403), Outcome.PERMANENT, why="access denied"),
    Rule(_s(400), Outcome.PERMANENT, code="InvalidInput", why="invalid input"),
    Rule(_s(400, 401, 404, 405, 409, 413, 415, 422), Outcome.PERMANENT, why="request refused"),
    Rule(_s(408, 500, 502, 503, 504), Outcome.TRANSIENT, why="server error"),
)
_UNKNOWN = Rule(frozenset(), Outcome.PERMANENT, why="unexpected status")


def first_error(body: Any) -> dict[str, str]:
    """The first entry of Amazon's ``errors`` list as strings ({} when there is none)."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return {k: str(v) for k, v in errors[0].items() if v is not None}
    return {}


def _matches(rule: Rule, status: int, error: Mapping[str, str]) -> bool:
    if status not in rule.statuses:
        return False
    if rule.code is not None and error.get("code") != rule.code:
        return False
    if rule.phrase is not None:
        text = f"{error.get('message', '')} {error.get('details', '')}".lower()
        if rule.phrase not in text:
            return False
    return True


def limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The limit headers present in ``headers`` (any case), under their canonical names."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name.lower()] for name in LIMIT_HEADERS if name.lower() in lowered}


def throttle_wait(route: str | None, headers: Mapping[str, str]) -> float:
    """Seconds until the operation's bucket holds a token again: 1 / rate."""
    rate_text = limit_headers(headers).get(RATE_HEADER)
    try:
        rate = float(rate_text) if rate_text is not None else 0.0
    except ValueError:
        rate = 0.0
    if rate <= 0 and route in AMAZON_PLANS:
        rate = AMAZON_PLANS[route][0]
    return 1.0 / rate if rate > 0 else DEFAULT_THROTTLE_WAIT_S


def classify(
    status: int, headers: Mapping[str, str], body: Any, *, route: str | None = None
) -> Classified:
    """The outcome of one SP-API response (see the module table)."""
    error = first_error(body)
    rule = next((r for r in RULES if _matches(r, status, error)), _UNKNOWN)
    reason = "" if rule.outcome is Outcome.OK else _reason(status, rule, error)
    wait = throttle_wait(route, headers) if rule.outcome is Outcome.THROTTLED else None
    return Classified(
        outcome=rule.outcome,
        status=status,
        reason=reason,
        retry_after_s=wait,
        limit_headers=limit_headers(headers),
    )


def _reason(status: int, rule: Rule, error: Mapping[str, str]) -> str:
    parts = [f"HTTP {status}", rule.why]
    if error.get("code"):
        parts.append(error["code"])
    detail = error.get("message", "")
    if error.get("details"):
        detail = f"{detail} ({error['details']})"
    if detail:
        parts.append(detail[:_REASON_CHARS])
    return ": ".join(p for p in parts if p)


def classify_download(status: int) -> Classified:
    """A report document download (presigned S3 URL): 200 ok; 403 (the URL expired after
    five minutes) and 5xx transient, since the retried step fetches a fresh URL; else
    permanent."""
    if status == 200:
        return Classified(outcome=Outcome.OK, status=status)
    outcome = Outcome.TRANSIENT if status == 403 or status >= 500 else Outcome.PERMANENT
    return Classified(outcome=outcome, status=status, reason=f"report download: HTTP {status}")
