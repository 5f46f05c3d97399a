"""Offset pages, their faults, and the query parameters every paged eBay method shares.

Page faults (each rolled on the request's identity, so a retry of the same page can come
back whole):

    short_page       the page holds one record fewer than it should (``total`` and ``next``
                     are unchanged, so the record is missing from the crawl unless re-read)
    duplicate        a page after the first repeats the previous page's last record first
                     (never on a short page, so "fewer distinct new records than expected"
                     always detects a short page)
    lost_next_token  ``next`` is absent although records remain (``offset + limit < total``)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.ebay.errors import EbayError

if TYPE_CHECKING:
    from sandbox.ebay.app import Call


@dataclass
class Page:
    records: list[Any]
    lost_next: bool


def page(call: Call, records: list[Any], offset: int, limit: int) -> Page:
    """The records at ``[offset, offset + limit)`` of ``records``, with page faults."""
    chosen = records[offset : offset + limit]
    if len(chosen) >= 2 and call.roll("short_page"):
        chosen = chosen[:-1]
    elif 0 < offset <= len(records) and chosen and call.roll("duplicate"):
        chosen = [records[offset - 1], *chosen]
    lost = offset + limit < len(records) and call.roll("lost_next_token")
    return Page(chosen, lost)


def integer(
    raw: str | None, default: int, low: int, high: int, error: Callable[[str], EbayError]
) -> int:
    """A whole-number query parameter in ``[low, high]``, else the API's own error."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not (text.isdigit() or (text.startswith("-") and text[1:].isdigit())):
        raise error(raw)
    value = int(text)
    if not low <= value <= high:
        raise error(raw)
    return value


def links(call: Call, offset: int, limit: int, total: int, lost_next: bool) -> dict[str, Any]:
    """``href``, ``limit``, ``offset``, ``total`` and ``next``/``prev`` of a record-offset page."""
    out: dict[str, Any] = {
        "href": call.url(limit=limit, offset=offset),
        "limit": limit,
        "offset": offset,
        "total": total,
    }
    if offset + limit < total and not lost_next:
        out["next"] = call.url(limit=limit, offset=offset + limit)
    if offset > 0:
        out["prev"] = call.url(limit=limit, offset=max(0, offset - limit))
    return out
