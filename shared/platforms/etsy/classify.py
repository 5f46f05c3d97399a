"""Etsy Open API v3 responses -> outcomes: one table, first matching rule wins.

=====  ===============================================  ============  ======================
rule   when                                             outcome       wait
=====  ===============================================  ============  ======================
ok     2xx                                              ok
qps    429, body "Exceeded per second rate limit"       throttled     ``retry-after`` or 1 s
qpd    429, body names the daily limit, or              throttled     ``retry-after`` (Etsy
       ``x-remaining-today: 0``                                       sends 86400) or None
429    any other 429                                    throttled     ``retry-after`` or 1 s
token  401 (``invalid_token``: missing, unknown or      auth_expired
       expired access token)
key    403 naming the ``x-api-key`` / "Invalid API      permanent
       key" (keystring alone, wrong secret)
403    other 403 (another user's shop, missing scope)   permanent
400    400 (bad parameter, the 31-day ledger window)    permanent
404    404                                              permanent
gone   408, 425, 5xx (500, 502, 503, 504)               transient
else   anything else                                    permanent
=====  ===============================================  ============  ======================

Every outcome carries the limit headers observed (``LIMIT_HEADERS``, lower-case names as
``shared.ambassador.headers.feedback`` reads them). Reasons quote Etsy's ``error`` /
``error_description`` (at most 200 characters, token-shaped strings redacted): they never
hold credentials. ``classify`` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.ambassador.headers import retry_after
from shared.platforms.base import Classified, Outcome

LIMIT_HEADERS = (
    "x-limit-per-second",
    "x-remaining-this-second",
    "x-limit-per-day",
    "x-remaining-today",
    "retry-after",
)
SECOND_WAIT_S = 1.0
_TOKENISH = re.compile(r"\b\d+\.[A-Za-z0-9_\-]{12,}|[A-Za-z0-9_\-]{32,}")

Headers = Mapping[str, str]
Match = Callable[[int, Headers, Any], bool]


def _message(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body.get(k)) for k in ("error", "error_description") if body.get(k)]
    return _TOKENISH.sub("[redacted]", ": ".join(parts))[:200]


def _is(status: int) -> Match:
    return lambda s, _h, _b: s == status


def _daily(s: int, h: Headers, b: Any) -> bool:
    return s == 429 and ("daily" in _message(b).lower() or h.get("x-remaining-today") == "0")


def _per_second(s: int, _h: Headers, b: Any) -> bool:
    return s == 429 and "per second" in _message(b).lower()


def _key_refused(s: int, _h: Headers, b: Any) -> bool:
    text = _message(b).lower()
    return s == 403 and ("x-api-key" in text or "api key" in text)


def _gone(s: int, _h: Headers, _b: Any) -> bool:
    return s in (408, 425) or 500 <= s <= 599


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    outcome: Outcome
    default_wait_s: float | None = None  # throttled rules: the wait without retry-after


RULES: tuple[Rule, ...] = (
    Rule("ok", lambda s, _h, _b: 200 <= s <= 299, Outcome.OK),
    Rule("qps", _per_second, Outcome.THROTTLED, SECOND_WAIT_S),
    Rule("qpd", _daily, Outcome.THROTTLED, None),
    Rule("429", _is(429), Outcome.THROTTLED, SECOND_WAIT_S),
    Rule("token", _is(401), Outcome.AUTH_EXPIRED),
    Rule("key", _key_refused, Outcome.PERMANENT),
    Rule("403", _is(403), Outcome.PERMANENT),
    Rule("400", _is(400), Outcome.PERMANENT),
    Rule("404", _is(404), Outcome.PERMANENT),
    Rule("gone", _gone, Outcome.TRANSIENT),
    Rule("else", lambda _s, _h, _b: True, Outcome.PERMANENT),
)


def limit_headers(headers: Headers) -> dict[str, str]:
    """The rate-limit headers present, lower-case names."""
    lower = {k.lower(): v for k, v in headers.items()}
    return {name: lower[name] for name in LIMIT_HEADERS if name in lower}


def rule_for(status: int, headers: Headers, body: Any) -> Rule:
    lower = {k.lower(): v for k, v in headers.items()}
    return next(rule for rule in RULES if rule.match(status, lower, body))


def classify(status: int, headers: Headers, body: Any) -> Classified:
    """The outcome of one Etsy answer (``body`` parsed JSON, or None / text)."""
    rule = rule_for(status, headers, body)
    wait = None
    if rule.outcome is Outcome.THROTTLED:
        wait = retry_after(limit_headers(headers).get("retry-after"))
        wait = rule.default_wait_s if wait is None else wait
    reason = "" if rule.outcome is Outcome.OK else f"etsy {status} {rule.name}: {_message(body)}"
    return Classified(
        outcome=rule.outcome,
        status=status,
        reason=reason.rstrip(": "),
        retry_after_s=wait,
        limit_headers=limit_headers(headers),
    )
