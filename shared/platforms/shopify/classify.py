"""Shopify Admin responses -> outcomes: one table, first matching rule wins.

``classify(status, headers, body, requested_cost=...)`` looks the response up in
``RULES``. A rule matches on the HTTP status (a set) and, optionally, on a GraphQL error
code (``errors[].extensions.code``) or a phrase in the error text (MARKETPLACE_APIS.md
§3.2-3.3, S-RC, S-GQL):

==============================  ============  ==========================================
status / error                  outcome       why
==============================  ============  ==========================================
200/429 GraphQL THROTTLED       throttled     cost bucket empty: wait (requested -
                                              currentlyAvailable) / restoreRate
200 MAX_COST_EXCEEDED           permanent     one query may cost 1,000 at most
200 INTERNAL_SERVER_ERROR       transient
200 other GraphQL errors        permanent     ACCESS_DENIED, syntax, unknown fields …
200 ``extensions.search``       permanent     Shopify ignored a term of the ``query:``
    warnings                                  filter: the page is not the window's
200 201 202                     ok
429 (REST)                      throttled     wait ``Retry-After`` (Shopify: ~1 s)
401                             auth_expired  invalid or expired access token
400 402 403 404 406 422 423     permanent     bad request, shop frozen / locked, scope …
408 430 500 502 503 504         transient     timeouts, security back-off, server errors
                                              (with ``Retry-After`` as the wait if sent)
other                           permanent     (unknown status)
==============================  ============  ==========================================

``limit_headers`` carries what the ambassador learns limits from
(``shared.ambassador.headers.feedback`` reads the same names): the REST header
``X-Shopify-Shop-Api-Call-Limit`` (``used/size``) and ``Retry-After`` as sent, and for
GraphQL the cost extension flattened into ``X-GraphQL-Cost-*`` entries
(``Requested``, ``Actual``, ``Available``, ``Maximum``, ``Restore-Rate``), because
``limit_headers`` is a ``dict[str, str]`` and a THROTTLED answer carries no payload.
``graphql_body(limit_headers)`` rebuilds the ``{"extensions": {"cost": …}, "errors":
[…]}`` body ``feedback`` expects from them.

Reasons hold the status, the error code and Shopify's message (cut short), never a
request header or a token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.ambassador.headers import retry_after
from shared.platforms.base import Classified, Outcome

CALL_LIMIT = "X-Shopify-Shop-Api-Call-Limit"
RETRY_AFTER = "Retry-After"
COST_PREFIX = "X-GraphQL-Cost-"
ERROR_CODES = "X-GraphQL-Error-Codes"
DEFAULT_REST_WAIT_S = 1.0  # Shopify's advice when a 429 carries no Retry-After (S-RC)
DEFAULT_GRAPHQL_WAIT_S = 1.0
_REASON_CHARS = 200
_COST_KEYS = {  # limit_headers suffix -> (extensions.cost path)
    "Requested": ("requestedQueryCost",),
    "Actual": ("actualQueryCost",),
    "Available": ("throttleStatus", "currentlyAvailable"),
    "Maximum": ("throttleStatus", "maximumAvailable"),
    "Restore-Rate": ("throttleStatus", "restoreRate"),
}


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[int]
    outcome: Outcome
    code: str | None = None  # a GraphQL error code that must be present
    any_error: bool = False  # the body must carry GraphQL errors
    search_warning: bool = False  # the body must carry extensions.search warnings
    why: str = ""


def _s(*codes: int) -> frozenset[int]:
    return frozenset(codes)


RULES: tuple[Rule, ...] = (
    Rule(_s(200, 429), Outcome.THROTTLED, code="THROTTLED", why="GraphQL cost bucket empty"),
    Rule(_s(200), Outcome.PERMANENT, code="MAX_COST_EXCEEDED", why="query cost over 1,000"),
    Rule(_s(200), Outcome.TRANSIENT, code="INTERNAL_SERVER_ERROR", why="GraphQL server error"),
    Rule(_s(200), Outcome.PERMANENT, any_error=True, why="GraphQL errors"),
    Rule(_s(200), Outcome.PERMANENT, search_warning=True, why="search filter ignored"),
    Rule(_s(200, 201, 202), Outcome.OK),
    Rule(_s(429), Outcome.THROTTLED, why="REST bucket full"),
    Rule(_s(401), Outcome.AUTH_EXPIRED, why="access token refused"),
    Rule(_s(400, 402, 403, 404, 406, 422, 423), Outcome.PERMANENT, why="request refused"),
    Rule(_s(408, 430, 500, 502, 503, 504), Outcome.TRANSIENT, why="server error"),
)
_UNKNOWN = Rule(frozenset(), Outcome.PERMANENT, why="unexpected status")


def graphql_errors(body: Any) -> list[Mapping[str, Any]]:
    """GraphQL's top-level ``errors`` list (REST's ``{"errors": "text" | {...}}`` is not)."""
    if not isinstance(body, Mapping):
        return []
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, Mapping)]


def error_codes(body: Any) -> list[str]:
    codes = []
    for error in graphql_errors(body):
        ext = error.get("extensions")
        if isinstance(ext, Mapping) and isinstance(ext.get("code"), str):
            codes.append(ext["code"])
    return codes


def cost_extension(body: Any) -> Mapping[str, Any]:
    """``extensions.cost`` of a GraphQL body ({} when absent)."""
    if not isinstance(body, Mapping):
        return {}
    ext = body.get("extensions")
    cost = ext.get("cost") if isinstance(ext, Mapping) else None
    return cost if isinstance(cost, Mapping) else {}


def search_warnings(body: Any) -> list[str]:
    """``extensions.search[].warnings`` as ``field: message`` texts: Shopify does not fail
    a query over a bad search term, it ignores the term and says so here."""
    ext = body.get("extensions") if isinstance(body, Mapping) else None
    reports = ext.get("search") if isinstance(ext, Mapping) else None
    out = []
    for report in reports if isinstance(reports, list) else []:
        warnings = report.get("warnings") if isinstance(report, Mapping) else None
        for w in warnings if isinstance(warnings, list) else []:
            if isinstance(w, Mapping):
                out.append(f"{w.get('field', '')}: {w.get('message', '')}")
    return out


def _matches(rule: Rule, status: int, codes: list[str], has_errors: bool, body: Any) -> bool:
    if status not in rule.statuses:
        return False
    if rule.code is not None and rule.code not in codes:
        return False
    if rule.search_warning and not search_warnings(body):
        return False
    return not (rule.any_error and not has_errors)


def limit_headers(headers: Mapping[str, str], body: Any = None) -> dict[str, str]:
    """The limit facts of a response under canonical names (see the module docstring)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    out = {
        name: lowered[name.lower()] for name in (CALL_LIMIT, RETRY_AFTER) if name.lower() in lowered
    }
    cost = cost_extension(body)
    for suffix, path in _COST_KEYS.items():
        value: Any = cost
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[COST_PREFIX + suffix] = _num_text(value)
    codes = error_codes(body)
    if codes:
        out[ERROR_CODES] = ",".join(codes)
    return out


def _num_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def graphql_body(limits: Mapping[str, str]) -> dict[str, Any]:
    """The GraphQL body ``feedback`` reads, rebuilt from ``limit_headers`` ({} if none)."""
    cost: dict[str, Any] = {}
    for suffix, path in _COST_KEYS.items():
        text = limits.get(COST_PREFIX + suffix)
        if text is None:
            continue
        target = cost
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = float(text) if "." in text else int(text)
    body: dict[str, Any] = {"extensions": {"cost": cost}} if cost else {}
    codes = [c for c in limits.get(ERROR_CODES, "").split(",") if c]
    if codes:
        body["errors"] = [{"message": c, "extensions": {"code": c}} for c in codes]
    return body


def throttle_wait(body: Any, requested_cost: int | None = None) -> float:
    """Seconds until the cost bucket holds the query's requested cost again.

    ``(requested - currentlyAvailable) / restoreRate``, with the requested cost taken from
    the body's ``requestedQueryCost`` or else the caller's estimate; rounded up to the
    millisecond. Without a usable throttle status: ``DEFAULT_GRAPHQL_WAIT_S``."""
    cost = cost_extension(body)
    status = cost.get("throttleStatus")
    status = status if isinstance(status, Mapping) else {}
    requested = cost.get("requestedQueryCost", requested_cost)
    if requested is None:
        requested = requested_cost
    available, rate = status.get("currentlyAvailable"), status.get("restoreRate")
    if not all(isinstance(v, int | float) for v in (requested, available, rate)) or rate <= 0:
        return DEFAULT_GRAPHQL_WAIT_S
    return max(0.0, math.ceil((requested - available) / rate * 1000) / 1000)


def classify(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    requested_cost: int | None = None,
) -> Classified:
    """The outcome of one Shopify response (see the module table). ``body`` is the parsed
    JSON (or ``None`` / text); ``requested_cost`` is the query's estimated cost, used for
    the THROTTLED wait when the body does not report ``requestedQueryCost``."""
    codes, has_errors = error_codes(body), bool(graphql_errors(body))
    rule = next((r for r in RULES if _matches(r, status, codes, has_errors, body)), _UNKNOWN)
    wait = None
    if rule.outcome is Outcome.THROTTLED:
        wait = _wait(rule, headers, body, requested_cost)
    elif rule.outcome is Outcome.TRANSIENT:  # a 503 may say when to come back
        wait = retry_after({k.lower(): v for k, v in headers.items()}.get("retry-after"))
    reason = "" if rule.outcome is Outcome.OK else _reason(status, rule, body, codes)
    return Classified(
        outcome=rule.outcome,
        status=status,
        reason=reason,
        retry_after_s=wait,
        limit_headers=limit_headers(headers, body),
    )


def _wait(rule: Rule, headers: Mapping[str, str], body: Any, requested: int | None) -> float:
    sent = retry_after({k.lower(): v for k, v in headers.items()}.get("retry-after"))
    if rule.code == "THROTTLED":
        return sent if sent is not None else throttle_wait(body, requested)
    return sent if sent is not None else DEFAULT_REST_WAIT_S


def _reason(status: int, rule: Rule, body: Any, codes: list[str]) -> str:
    parts = [f"HTTP {status}", rule.why]
    if codes:
        parts.append(",".join(dict.fromkeys(codes)))
    detail = _message(body)
    if detail:
        parts.append(detail[:_REASON_CHARS])
    return ": ".join(p for p in parts if p)


def _message(body: Any) -> str:
    """Shopify's own error text: GraphQL ``errors[].message``, REST ``errors``/``error``."""
    errors = graphql_errors(body)
    if errors:
        return "; ".join(str(e.get("message", "")) for e in errors[:3])
    if search_warnings(body):
        return "; ".join(search_warnings(body)[:3])
    if isinstance(body, Mapping):
        value = body.get("errors", body.get("error"))
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            return "; ".join(f"{k}: {v}" for k, v in list(value.items())[:3])
    return ""
