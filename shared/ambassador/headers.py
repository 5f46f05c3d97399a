"""What a platform's response says about its limits, as ``ObserveRequest`` fields.

``feedback(platform, status, headers, body, now)`` returns a dict with ``throttled``,
``retry_after_s``, ``readings`` and (Shopify GraphQL) ``actual`` — ready for
``ObserveRequest(caller=…, request_id=…, route=…, now=…, request_at=…, charged=…,
**feedback(...))``. Header names are matched case-insensitively. Sources are the tags
of MARKETPLACE_APIS.md:

========  ===================================================================
amazon    ``x-amzn-RateLimit-Limit`` (req/s; absent on 429) — A-ORD, A-UP
shopify   REST ``X-Shopify-Shop-Api-Call-Limit: used/size`` + ``Retry-After``;
          GraphQL ``extensions.cost`` (``throttleStatus``, ``actualQueryCost``),
          ``THROTTLED`` errors (HTTP 200 or 429) — S-REST, S-GQL
ebay      no limit headers; 429 errorId 2001; ``ebay_rate_limits`` reads the
          Developer Analytics ``getRateLimits`` body — E-CL, E-DA
etsy      ``x-limit-per-second``, ``x-remaining-this-second``,
          ``x-limit-per-day``, ``x-remaining-today``, ``retry-after`` — Y-RL
quiltt    ``Ratelimit-Limit``, ``Ratelimit-Remaining``, ``Ratelimit-Reset``
          (epoch s) — Q-OV
========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from shared.ambassador.protocol import Reading


def feedback(
    platform: str,
    status: int,
    headers: Mapping[str, str],
    body: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Observation fields for one response (see the module docstring)."""
    h = {k.lower(): v for k, v in headers.items()}
    out: dict[str, Any] = {
        "throttled": status == 429,
        "retry_after_s": retry_after(h.get("retry-after"), now),
        "readings": [],
    }
    reader = _READERS.get(platform)
    if reader is not None:
        reader(h, body, out, now)
    return out


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date relative to ``now``."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now is None:
        return None
    return max(0.0, (when.astimezone(UTC) - now).total_seconds())


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _amazon(h: Mapping[str, str], body: Any, out: dict[str, Any], now: datetime | None) -> None:
    if (rate := _num(h.get("x-amzn-ratelimit-limit"))) and rate > 0:
        out["readings"].append(Reading(rate=rate))


def _shopify(h: Mapping[str, str], body: Any, out: dict[str, Any], now: datetime | None) -> None:
    used, _, size = (h.get("x-shopify-shop-api-call-limit") or "").partition("/")
    if (u := _num(used)) is not None and (s := _num(size)):
        out["readings"].append(Reading(remaining=max(0.0, s - u), capacity=s))
    if not isinstance(body, Mapping):
        return
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    if status:
        out["readings"].append(
            Reading(
                remaining=status.get("currentlyAvailable"),
                capacity=status.get("maximumAvailable"),
                rate=status.get("restoreRate"),
            )
        )
    if cost.get("actualQueryCost") is not None:
        out["actual"] = int(cost["actualQueryCost"])
    errors = body.get("errors") or []
    if not isinstance(errors, list):  # REST error bodies: {"errors": "<text>"} or a dict
        errors = []
    codes = {((e or {}).get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    if "THROTTLED" in codes:
        out["throttled"] = True
        requested, available = cost.get("requestedQueryCost"), status.get("currentlyAvailable")
        rate = status.get("restoreRate")
        if out["retry_after_s"] is None and None not in (requested, available, rate) and rate:
            out["retry_after_s"] = max(0.0, (requested - available) / rate)


def _etsy(h: Mapping[str, str], body: Any, out: dict[str, Any], now: datetime | None) -> None:
    for name, limit, remaining in (
        ("qps", "x-limit-per-second", "x-remaining-this-second"),
        ("qpd", "x-limit-per-day", "x-remaining-today"),
    ):
        capacity, left = _num(h.get(limit)), _num(h.get(remaining))
        if capacity is not None or left is not None:
            out["readings"].append(Reading(limit=name, capacity=capacity or None, remaining=left))
    if out["throttled"]:
        message = str((body or {}).get("error", "")) if isinstance(body, Mapping) else ""
        daily = "day" in message.lower() or _num(h.get("x-remaining-today")) == 0
        if not any(r.limit for r in out["readings"]):  # name the limit that refused
            out["readings"].append(Reading(limit="qpd" if daily else "qps"))


def _quiltt(h: Mapping[str, str], body: Any, out: dict[str, Any], now: datetime | None) -> None:
    capacity, left = _num(h.get("ratelimit-limit")), _num(h.get("ratelimit-remaining"))
    if capacity is not None or left is not None:
        out["readings"].append(Reading(capacity=capacity or None, remaining=left))
    reset = _num(h.get("ratelimit-reset"))  # epoch seconds when the window ends
    if out["throttled"] and out["retry_after_s"] is None and reset and now is not None:
        out["retry_after_s"] = max(0.0, reset - now.timestamp())


_READERS = {"amazon": _amazon, "shopify": _shopify, "etsy": _etsy, "quiltt": _quiltt}


def ebay_rate_limits(body: Mapping[str, Any]) -> dict[str, Reading]:
    """eBay ``getRateLimits``: API name (lower case, e.g. ``fulfillment``) -> its daily
    reading (``remaining``, ``capacity`` = ``limit``, ``reset_at``). The first rate of
    each API's first resource is taken (the daily window)."""
    readings: dict[str, Reading] = {}
    for api in body.get("rateLimits", []):
        for resource in api.get("resources", [])[:1]:
            for rate in resource.get("rates", [])[:1]:
                reset = rate.get("reset")
                readings[str(api.get("apiName", "")).lower()] = Reading(
                    remaining=rate.get("remaining"),
                    capacity=rate.get("limit") or None,
                    reset_at=datetime.fromisoformat(reset.replace("Z", "+00:00"))
                    if reset
                    else None,
                )
    return readings
