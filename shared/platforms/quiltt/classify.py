"""Quiltt responses (GraphQL API and session issuance) -> outcomes: one table, first match wins.

GraphQL answers errors with HTTP 200 and an ``errors`` list, so the body decides first:

==============  ==============================================  ============  ==============
rule            when                                            outcome       wait
==============  ==============================================  ============  ==============
ok              2xx without GraphQL ``errors``                  ok
gql-auth        200 + an error coded UNAUTHENTICATED /          auth_expired
                AUTHENTICATION_ERROR / UNAUTHORIZED, or saying
                "Not Authenticated"
gql-throttled   200 + an error coded THROTTLED / RATE_LIMITED   throttled     as for 429
                / TOO_MANY_REQUESTS, or saying "rate limit" /
                "Too Many Requests"
gql-internal    200 + an error coded INTERNAL_SERVER_ERROR      transient
gql-query       200 + any other error (syntax, validation,      permanent
                unknown field, bad variable, invalid cursor)
issuance        429 whose message / instruction names Session   throttled     600 s
                token issuance (10/h, 20/day per Profile)
429             other 429 (requests per second)                 throttled     Retry-After,
                                                                              else
                                                                              Ratelimit-Reset
                                                                              - now, else 1 s
401             401 ``Not Authenticated`` (expired / revoked    auth_expired
                session)
refused         400, 403, 404, 422                              permanent
gone            408, 5xx                                        transient
else            anything else                                   permanent
==============  ==============================================  ============  ==============

Limit headers observed are kept as ``Ratelimit-Limit``, ``Ratelimit-Remaining``,
``Ratelimit-Reset`` (epoch seconds) and ``Retry-After`` — what
``shared.ambassador.headers.feedback`` reads. Reasons quote Quiltt's ``message`` or the
first GraphQL error (200 characters at most, token-shaped text redacted). Pure: ``now``
(epoch seconds) is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.ambassador.headers import retry_after
from shared.platforms.base import Classified, Outcome

LIMIT_HEADERS = ("Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Retry-After")
ISSUANCE_WAIT_S = 600.0
DEFAULT_WAIT_S = 1.0
AUTH_CODES = frozenset({"UNAUTHENTICATED", "AUTHENTICATION_ERROR", "UNAUTHORIZED"})
THROTTLE_CODES = frozenset({"THROTTLED", "RATE_LIMITED", "TOO_MANY_REQUESTS"})
INTERNAL_CODES = frozenset({"INTERNAL_SERVER_ERROR"})
_TOKENISH = re.compile(
    r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-.]+|qltt_[A-Za-z0-9]+|[A-Za-z0-9_\-]{40,}"
)

Headers = Mapping[str, str]
Match = Callable[[int, Any], bool]


def _errors(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, Mapping) or not body.get("errors"):
        return []
    errors = body["errors"]
    return [e if isinstance(e, Mapping) else {"message": str(e)} for e in errors]


def _codes(body: Any) -> set[str]:
    return {str((e.get("extensions") or {}).get("code", "")).upper() for e in _errors(body)}


def _says(body: Any, *phrases: str) -> bool:
    text = " ".join(str(e.get("message", "")) for e in _errors(body)).lower()
    return any(p in text for p in phrases)


def _message(body: Any) -> str:
    errors = _errors(body)
    if errors:
        text = str(errors[0].get("message", ""))
        if len(errors) > 1:
            text += f" (+{len(errors) - 1} more)"
    elif isinstance(body, Mapping):
        text = str(body.get("message", ""))
    else:
        text = ""
    return _TOKENISH.sub("[redacted]", text)[:200]


def _text(body: Any) -> str:
    """Quiltt's REST error text: ``message`` and ``instruction``, lower-cased."""
    if not isinstance(body, Mapping):
        return ""
    return f"{body.get('message', '')} {body.get('instruction', '')}".lower()


def _gql(status: int, body: Any) -> bool:
    return 200 <= status <= 299 and bool(_errors(body))


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    outcome: Outcome


RULES: tuple[Rule, ...] = (
    Rule("ok", lambda s, b: 200 <= s <= 299 and not _errors(b), Outcome.OK),
    Rule(
        "gql-auth",
        lambda s, b: _gql(s, b) and bool(_codes(b) & AUTH_CODES or _says(b, "not authenticated")),
        Outcome.AUTH_EXPIRED,
    ),
    Rule(
        "gql-throttled",
        lambda s, b: (
            _gql(s, b)
            and bool(_codes(b) & THROTTLE_CODES or _says(b, "rate limit", "too many requests"))
        ),
        Outcome.THROTTLED,
    ),
    Rule(
        "gql-internal",
        lambda s, b: _gql(s, b) and bool(_codes(b) & INTERNAL_CODES),
        Outcome.TRANSIENT,
    ),
    Rule("gql-query", _gql, Outcome.PERMANENT),
    Rule(
        "issuance",
        lambda s, b: s == 429 and "session token issuance" in _text(b),
        Outcome.THROTTLED,
    ),
    Rule("429", lambda s, _b: s == 429, Outcome.THROTTLED),
    Rule("401", lambda s, _b: s == 401, Outcome.AUTH_EXPIRED),
    Rule("refused", lambda s, _b: s in (400, 403, 404, 422), Outcome.PERMANENT),
    Rule("gone", lambda s, _b: s == 408 or 500 <= s <= 599, Outcome.TRANSIENT),
    Rule("else", lambda _s, _b: True, Outcome.PERMANENT),
)


def limit_headers(headers: Headers) -> dict[str, str]:
    lower = {k.lower(): v for k, v in headers.items()}
    return {name: lower[name.lower()] for name in LIMIT_HEADERS if name.lower() in lower}


def rule_for(status: int, body: Any) -> Rule:
    return next(rule for rule in RULES if rule.match(status, body))


def _wait(rule: Rule, seen: dict[str, str], now: float | None) -> float:
    if rule.name == "issuance":
        return ISSUANCE_WAIT_S
    asked = retry_after(seen.get("Retry-After"))
    if asked is not None:
        return asked
    try:
        reset = float(seen["Ratelimit-Reset"])
    except (KeyError, ValueError):
        return DEFAULT_WAIT_S
    return max(0.05, reset - now) if now is not None else DEFAULT_WAIT_S


def classify(status: int, headers: Headers, body: Any, now: float | None = None) -> Classified:
    """The outcome of one Quiltt answer (``body`` parsed JSON, or None)."""
    rule, seen = rule_for(status, body), limit_headers(headers)
    wait = _wait(rule, seen, now) if rule.outcome is Outcome.THROTTLED else None
    reason = "" if rule.outcome is Outcome.OK else f"quiltt {status} {rule.name}: {_message(body)}"
    return Classified(
        outcome=rule.outcome,
        status=status,
        reason=reason.rstrip(": "),
        retry_after_s=wait,
        limit_headers=seen,
    )
