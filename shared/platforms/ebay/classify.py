"""eBay Sell API responses -> outcomes: one table, first matching rule wins.

A rule matches on the HTTP status and, optionally, the first error's ``errorId`` (eBay's
envelope ``{"errors": [{errorId, domain, category, message, longMessage?, parameters?}]}``,
MARKETPLACE_APIS.md §4.4-4.5):

=========================  ===========================  =================================
status / errorId           outcome                      why
=========================  ===========================  =================================
200 201 204                ok                           204: getTransactions / getPayouts
                                                        found nothing (an empty page)
429 2001                   throttled                    the application's daily call
                                                        quota is used up (E-CL, E-ERR)
401 1001 / 1002            auth_expired                 invalid or expired / missing token
403 1100                   permanent                    the token lacks the API's scope
500 502 503 504            transient                    system errors (2003, 30500,
                                                        135000, 25001, 10001 …); eBay:
                                                        "retry … eBay recommends twice"
404 2002 / 400 2004        transient                    eBay's generic "resource not
                                                        found" / "invalid request" on a
                                                        valid call: transient faults that
                                                        succeed on retry (sandbox
                                                        ``ebay_transient``)
400 / 404 other errorIds   permanent                    the API's request errors (30xxx,
                                                        135xxx, 25xxx): never retried
other                      permanent
=========================  ===========================  =================================

Daily quotas reset once a day; eBay documents no rate-limit headers and its 429 body
carries no reset time. The wait is therefore ``Retry-After`` when a response carries one,
else ``None`` — the ambassador's eBay lane knows the quota window, and
``quota_wait(rate_limits, api, now)`` reads the authoritative reset time from Developer
Analytics getRateLimits. ``limit_headers`` carries ``Retry-After`` when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.ambassador.headers import retry_after
from shared.platforms.base import Classified, Outcome

LIMIT_HEADERS = ("Retry-After",)
SYSTEM_ERROR_IDS = frozenset({2003, 10001, 30500, 135000, 25001})
_REASON_CHARS = 200


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[int]
    outcome: Outcome
    error_ids: frozenset[int] | None = None  # the first errorId must be one of these
    why: str = ""


def _s(*values: int) -> frozenset[int]:
    return frozenset(values)


RULES: tuple[Rule, ...] = (
    Rule(_s(200, 201, 204), Outcome.OK),
    Rule(_s(429), Outcome.THROTTLED, why="daily call quota reached"),
    Rule(_s(401), Outcome.AUTH_EXPIRED, why="access token refused"),
    Rule(_s(403), Outcome.PERMANENT, why="access denied (scope)"),
    Rule(_s(500, 502, 503, 504), Outcome.TRANSIENT, why="eBay system error"),
    Rule(_s(404), Outcome.TRANSIENT, _s(2002), why="transient resource-not-found"),
    Rule(_s(400), Outcome.TRANSIENT, _s(2004), why="transient invalid-request"),
    Rule(_s(400, 404, 405, 409, 413, 415, 422), Outcome.PERMANENT, why="request refused"),
)
_UNKNOWN = Rule(frozenset(), Outcome.PERMANENT, why="unexpected status")


def first_error(body: Any) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return errors[0]
    return {}


def _error_id(error: Mapping[str, Any]) -> int | None:
    try:
        return int(error["errorId"])
    except (KeyError, TypeError, ValueError):
        return None


def limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name.lower()] for name in LIMIT_HEADERS if name.lower() in lowered}


def classify(
    status: int, headers: Mapping[str, str], body: Any, *, now: datetime | None = None
) -> Classified:
    """The outcome of one eBay API response (see the module table)."""
    error = first_error(body)
    error_id = _error_id(error)
    rule = next(
        (
            r
            for r in RULES
            if status in r.statuses and (r.error_ids is None or error_id in r.error_ids)
        ),
        _UNKNOWN,
    )
    limits = limit_headers(headers)
    wait = None
    if rule.outcome is Outcome.THROTTLED:
        wait = retry_after(limits.get("Retry-After"), now)
    reason = "" if rule.outcome is Outcome.OK else _reason(status, rule, error_id, error)
    return Classified(
        outcome=rule.outcome, status=status, reason=reason, retry_after_s=wait, limit_headers=limits
    )


def _reason(status: int, rule: Rule, error_id: int | None, error: Mapping[str, Any]) -> str:
    parts = [f"HTTP {status}", rule.why]
    if error_id is not None:
        parts.append(f"errorId {error_id}")
    message = str(error.get("longMessage") or error.get("message") or "")
    if message:
        parts.append(message[:_REASON_CHARS])
    return ": ".join(p for p in parts if p)


def quota_wait(rate_limits: Any, api_name: str, now: datetime) -> float | None:
    """Seconds until the daily quota of ``api_name`` (e.g. "Fulfillment") resets, from a
    Developer Analytics getRateLimits body; None when the body does not say."""
    if not isinstance(rate_limits, Mapping):
        return None
    for limit in rate_limits.get("rateLimits") or []:
        if not isinstance(limit, Mapping) or limit.get("apiName") != api_name:
            continue
        for resource in limit.get("resources") or []:
            for rate in resource.get("rates") or [] if isinstance(resource, Mapping) else []:
                reset = rate.get("reset") if isinstance(rate, Mapping) else None
                if isinstance(reset, str):
                    try:
                        when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
                    except ValueError:
                        continue
                    return max(0.0, (when - now).total_seconds())
    return None
