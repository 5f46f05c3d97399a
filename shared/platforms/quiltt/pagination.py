"""Quiltt GraphQL request chains: pure, no I/O.

Resources:

- ``bank_transactions``: the ``transactions`` Relay connection, ``first: 100`` (Quiltt's
  cap), ``after: <endCursor>``, ``sort: DATE_ASC`` (records appearing during a crawl land
  at the end, so the positions behind the cursor stay put), every status (PENDING ones
  too: they keep their id when they post). A window ``[start, end)`` becomes the date
  filter ``date_gte`` / ``date_lt``: Quiltt books a transaction on a calendar day
  (``YYYY-MM-DD``, no time), which the normalizer reads as UTC midnight, so the day
  ``D`` is inside the window iff ``start <= D 00:00 UTC < end``: ``date_gte`` is the first
  such day and ``date_lt`` the first day at or after ``end``.
- ``accounts``: the Profile's accounts with balances, one request (a plain list; no
  normalizer yet — reference data for the bank reconciliation).

The page after a transactions page: ``after = pageInfo.endCursor`` while
``hasNextPage``. ``state["seen"]`` counts the distinct records the chain has received (a
page whose first edge is the cursor it was asked to start after repeats a record, which
is not counted). A page saying ``hasNextPage: false`` while fewer records were seen than
``count`` gets one probe request after its ``endCursor``: an empty answer ends the
chain, records continue it. ``short_page`` spots a page whose last edge is not its
``endCursor`` (records were left out between them): the caller retries it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import ConfigurationError
from shared.platforms.base import PageRequest, Window

PLATFORM = "quiltt"
ROUTE = "api"
PAGE_CAP = 100
RESOURCES = ("bank_transactions", "accounts")

TRANSACTION_FIELDS = (
    "id date description amount entryType status currencyCode metadata account { id name }"
)
TRANSACTIONS_QUERY = (
    "query Transactions($first: Int!, $after: String, $filter: TransactionFilter,"
    " $sort: TransactionSort) {"
    " transactions(first: $first, after: $after, filter: $filter, sort: $sort) {"
    " count pageInfo { hasNextPage endCursor }"
    f" edges {{ cursor node {{ {TRANSACTION_FIELDS} }} }} }} }}"
)
ACCOUNTS_QUERY = (
    "query Accounts { accounts { id name type kind mask currencyCode verified metadata"
    " institution { name } connection { id provider status }"
    " balance { id at source current available limit } } }"
)


def first_day_from(instant: datetime) -> str:
    """The first calendar day (UTC) whose midnight is at or after ``instant``."""
    utc = instant.astimezone(UTC)
    day = utc.date()
    if utc != datetime(day.year, day.month, day.day, tzinfo=UTC):
        day += timedelta(days=1)
    return day.isoformat()


def date_filter(window: Window) -> dict[str, str]:
    if window.end <= window.start:
        raise ConfigurationError(f"quiltt: empty window {window.start} .. {window.end}")
    return {"date_gte": first_day_from(window.start), "date_lt": first_day_from(window.end)}


def first_request(
    path: str, resource: str, window: Window | None, *, bulk: bool = False, first: int = PAGE_CAP
) -> PageRequest:
    """The first request of ``resource``'s chain (``path``: the GraphQL endpoint's path).

    Raises ConfigurationError for an unknown resource, a bulk path (Quiltt has none), an
    empty window or a page size outside 1..100."""
    if resource not in RESOURCES:
        raise ConfigurationError(
            f"quiltt has no resource {resource!r}; expected one of {RESOURCES}"
        )
    if bulk:
        raise ConfigurationError("quiltt offers no bulk path")
    if not 1 <= first <= PAGE_CAP:
        raise ConfigurationError(f"quiltt: page size must be 1..{PAGE_CAP}, got {first}")
    common = {"platform": PLATFORM, "resource": resource, "route": ROUTE, "method": "POST"}
    if resource == "accounts":
        body = {"query": ACCOUNTS_QUERY, "operationName": "Accounts", "variables": {}}
        return PageRequest(**common, path=path, body=body)
    variables: dict[str, Any] = {"first": first, "after": None, "sort": "DATE_ASC"}
    if window is not None:
        variables["filter"] = date_filter(window)
    body = {"query": TRANSACTIONS_QUERY, "operationName": "Transactions", "variables": variables}
    return PageRequest(**common, path=path, body=body, window=window, state={"seen": 0})


def connection(body: dict[str, Any]) -> dict[str, Any]:
    return body["data"]["transactions"]


def short_page(request: PageRequest, body: dict[str, Any]) -> str | None:
    """Why a transactions page left records out, else None."""
    if request.resource != "bank_transactions":
        return None
    conn = connection(body)
    edges, end = conn["edges"], conn["pageInfo"].get("endCursor")
    if edges and end is not None and edges[-1]["cursor"] != end:
        return f"short page: {len(edges)} edges end before endCursor"
    return None


def next_request(request: PageRequest, body: dict[str, Any]) -> PageRequest | None:
    """The request after ``request`` answered ``body`` (ok), or None: chain complete."""
    if request.resource != "bank_transactions":
        return None
    conn = connection(body)
    variables = request.body["variables"]
    edges, info = conn["edges"], conn["pageInfo"]
    repeated = bool(edges) and variables.get("after") is not None
    repeated = repeated and edges[0]["cursor"] == variables["after"]
    seen = int(request.state.get("seen", 0)) + len(edges) - int(repeated)
    end = info.get("endCursor")
    if end is None or (request.state.get("probe") and not edges):
        return None  # nothing further, or the probe found nothing
    last = not info.get("hasNextPage")
    if last and seen >= int(conn["count"]):
        return None
    state = {"seen": seen, "probe": True} if last else {"seen": seen}  # last, yet unseen: probe
    body_next = {**request.body, "variables": {**variables, "after": end}}
    return request.model_copy(
        update={"body": body_next, "state": state, "page_number": request.page_number + 1}
    )
