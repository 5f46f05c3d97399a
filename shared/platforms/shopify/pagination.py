"""Page chains for the paged paths: GraphQL Relay cursors and REST ``Link`` headers.

GraphQL (route ``graphql``; S-GQL, MARKETPLACE_APIS.md §3.4): a POST of one resource's
query (``queries.QUERIES``) with ``first`` = the largest page whose requested cost fits
the budget (1,000 points), ``$query`` = the window's search filter and ``$after`` = the
previous page's ``pageInfo.endCursor``. ``PageRequest.cost`` is the query's requested
cost. Orders pages also carry ``ordersCount`` for the window (``reported_count``).
A cursor that does not move, or a page with nodes and no ``endCursor``, is malformed (it
would loop). A page whose nested connection is truncated is asked for again with wider
nested connections (``widened``).

REST (route ``rest``, orders only; S-PAG): ``GET /admin/api/{v}/orders.json`` with
``status=any`` (the default lists open orders only), ``limit`` (250), ``order=id asc``
and the window as ``created_at_min`` / ``created_at_max`` (or ``updated_at_*``).
Shopify's bounds are both inclusive and its times whole seconds, so the half-open
``[start, end)`` is sent as ``min = start``, ``max = end - 1 s``. The next page is the
``rel="next"`` URL of the ``Link`` header; its ``page_info`` is opaque and is sent
verbatim with ``limit`` only, because Shopify refuses any other filter beside
``page_info`` (400).

On both paths a chain ends only with an empty answer: after a last page that holds
records, one more request (GraphQL: ``after`` its ``endCursor``, ``first: 1``; REST: the
window's filters with ``since_id`` = the highest id seen) must come back empty. That
costs one cheap call per chain and catches a last page that lied (a lost ``hasNextPage`` or
``Link``); if the confirming request finds records, the chain goes on from them.

Windows are half-open UTC; ``window=None`` lists everything (inventory is a snapshot).
``by_update=True`` filters on the update time instead (daily deltas).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import PageRequest, Window, utc_iso
from shared.platforms.shopify.queries import MAX_QUERY_COST, nested_connections, query

PLATFORM = "shopify"
API_VERSION = "2025-10"
REST_LIMIT = 250
REST_RESOURCES = ("orders", "order_items", "returns")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-zA-Z]+)"?')


def graphql_path(version: str = API_VERSION) -> str:
    return f"/admin/api/{version}/graphql.json"


def rest_path(version: str = API_VERSION) -> str:
    return f"/admin/api/{version}/orders.json"


# --- GraphQL -----------------------------------------------------------------------------


def graphql_first(
    resource: str,
    window: Window | None,
    *,
    by_update: bool = False,
    version: str = API_VERSION,
    budget: int = MAX_QUERY_COST,
    nested: int | None = None,
) -> PageRequest:
    """The first page of a resource's window on the paged GraphQL path; ``nested``
    sizes its nested connections (default ``NESTED_PAGE``)."""
    q = query(resource)
    search = q.search(window, by_update=by_update)
    base = None if q.nested_size is None else (nested or q.nested_size)
    state: dict[str, Any] = {"by_update": by_update, "budget": budget}
    if base is not None:
        state["nested_base"] = base
    request = PageRequest(
        platform=PLATFORM,
        resource=resource,
        route="graphql",
        method="POST",
        path=graphql_path(version),
        body={"query": "", "variables": {"after": None, "query": search or None}},
        window=window,
        step="page",
        state=state,
    )
    return _sized(request, base)


def _sized(request: PageRequest, nested: int | None) -> PageRequest:
    """``request`` with its query text and cost for nested connections of ``nested``."""
    q = query(request.resource)
    state = dict(request.state)
    if nested is not None:
        q = q.nested(nested)
        state["nested"] = nested
    first = (
        1
        if request.state.get("confirm")
        else q.page_size(int(request.state.get("budget", MAX_QUERY_COST)))
    )
    return request.model_copy(
        update={
            "body": {**request.body, "query": q.text(first)},
            "cost": q.cost(first),
            "state": state,
        }
    )


def connection(resource: str, body: Any) -> Mapping[str, Any]:
    """The paged top connection of a GraphQL page (MalformedPayloadError if absent)."""
    q = query(resource)
    node: Any = body.get("data") if isinstance(body, Mapping) else None
    path = "data"
    for name in (*q.root, q.top.name):
        path = f"{path}.{name}"
        node = node.get(name) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            raise MalformedPayloadError(PLATFORM, resource, path, "missing from the page")
    return node


def nodes(conn: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A connection's nodes, from ``edges[].node`` or ``nodes``."""
    if isinstance(conn.get("nodes"), list):
        return [n for n in conn["nodes"] if isinstance(n, Mapping)]
    edges = conn.get("edges") if isinstance(conn.get("edges"), list) else []
    return [
        e["node"] for e in edges if isinstance(e, Mapping) and isinstance(e.get("node"), Mapping)
    ]


def graphql_next(request: PageRequest, body: Any) -> PageRequest | None:
    """The request after the page ``body`` answered, None when the chain is complete.

    A chain ends only with a page that holds no nodes: after a last page that does
    (``hasNextPage: false``), one more request ``after`` its ``endCursor`` confirms the
    end (``state["confirm"]``). It costs one cheap call per chain and catches a lost
    ``hasNextPage`` (a page that says it is the last while more records follow); if the
    confirming page finds records, the chain goes on from them. The confirming request
    asks for one node (``first: 1``): it is expected empty, and Shopify debits the
    requested cost of a full page before it runs; a node it does find says whether more
    follow (``hasNextPage``), and the pages after it are full again."""
    conn = connection(request.resource, body)
    info = conn.get("pageInfo")
    field = f"data.{query(request.resource).top.name}.pageInfo"
    if not isinstance(info, Mapping) or not isinstance(info.get("hasNextPage"), bool):
        raise MalformedPayloadError(PLATFORM, request.resource, field, "hasNextPage missing")
    found = nodes(conn)
    if not info["hasNextPage"] and not found:
        return None
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise MalformedPayloadError(
            PLATFORM, request.resource, f"{field}.endCursor", "a page with nodes has no cursor"
        )
    variables = dict(request.body["variables"])
    if variables.get("after") == cursor:
        raise MalformedPayloadError(
            PLATFORM, request.resource, f"{field}.endCursor", "cursor did not move (page loop)"
        )
    variables["after"] = cursor
    nxt = request.model_copy(
        update={
            "body": {**request.body, "variables": variables},
            "page_number": request.page_number + 1,
            "state": {**request.state, "confirm": not info["hasNextPage"]},
        }
    )
    return _sized(nxt, request.state.get("nested_base"))


def widened(request: PageRequest) -> PageRequest | None:
    """The same page again with nested connections twice as large (at most as large as
    one node allows within the budget), or None if they already are (see ``truncated``).
    Fewer nodes then fit on the page; the pages after it go back to the usual size."""
    q = query(request.resource)
    if q.nested_size is None:
        return None
    current = int(request.state["nested"])
    largest = q.max_nested(int(request.state.get("budget", MAX_QUERY_COST)))
    if current >= largest:
        return None
    return _sized(request, min(largest, 2 * current))


def reported_count(request: PageRequest, body: Any) -> int | None:
    """The window's record count a page reports (``ordersCount``, when exact)."""
    q = query(request.resource)
    if q.count_field is None or not isinstance(body, Mapping):
        return None
    count = (body.get("data") or {}).get(q.count_field)
    if not isinstance(count, Mapping) or count.get("precision") != "EXACT":
        return None
    value = count.get("count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def truncated(resource: str, body: Any) -> str | None:
    """Where a page's nested connection (line items, refund lines, inventory levels) says
    it has more nodes than the page holds, or None. Such a page is a partial result."""
    names = {sel.name for sel in nested_connections(query(resource).top)}
    for index, node in enumerate(nodes(connection(resource, body))):
        for parent in [node, *_objects(node.get("refunds"))]:
            for name in names & parent.keys():
                info = parent[name].get("pageInfo") if isinstance(parent[name], Mapping) else None
                if isinstance(info, Mapping) and info.get("hasNextPage") is True:
                    return f"node {index} ({node.get('id')}): {name} has more than one page"
    return None


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


# --- REST --------------------------------------------------------------------------------


def rest_first(
    resource: str,
    window: Window | None,
    *,
    by_update: bool = False,
    version: str = API_VERSION,
    limit: int = REST_LIMIT,
) -> PageRequest:
    """The first ``orders.json`` page of a window (orders, their items and refunds)."""
    if resource not in REST_RESOURCES:
        raise ConfigurationError(
            f"shopify REST path serves {', '.join(REST_RESOURCES)}, not {resource!r}"
        )
    if not 1 <= limit <= REST_LIMIT:
        raise ConfigurationError(f"shopify REST limit must be 1-{REST_LIMIT}, not {limit}")
    params: dict[str, Any] = {"status": "any", "limit": limit, "order": "id asc"}
    if window is not None:
        if window.end <= window.start:
            raise ConfigurationError(
                f"empty window: {utc_iso(window.start)} >= {utc_iso(window.end)}"
            )
        prefix = "updated_at" if by_update else "created_at"
        params[f"{prefix}_min"] = utc_iso(window.start)
        params[f"{prefix}_max"] = utc_iso(window.end - timedelta(seconds=1))
    return PageRequest(
        platform=PLATFORM,
        resource=resource,
        route="rest",
        path=rest_path(version),
        params=params,
        window=window,
        step="page",
        state={"by_update": by_update, "filters": params},
    )


def links(header: str | None) -> dict[str, str]:
    """``rel -> URL`` of a ``Link`` header (``{}`` when absent)."""
    return {rel.lower(): url for url, rel in _LINK.findall(header or "")}


def rest_next(request: PageRequest, link_header: str | None, body: Any) -> PageRequest | None:
    """The page after this one: the ``rel="next"`` link, else a confirming request.

    As on the GraphQL path, a chain ends only with an empty answer: after a last page
    with orders, the window's filters are sent again with ``since_id`` = the highest
    order id seen (pages run in id order), which finds what a lost ``Link`` hid."""
    orders = body.get("orders") if isinstance(body, Mapping) else None
    if not isinstance(orders, list):
        raise MalformedPayloadError(PLATFORM, request.resource, "orders", "missing from the page")
    ids = [o["id"] for o in orders if isinstance(o, Mapping) and isinstance(o.get("id"), int)]
    high = max([*ids, int(request.state.get("max_id", 0))])
    state = {**request.state, "max_id": high}
    url = links(link_header).get("next")
    if url is None:
        if not ids:
            return None
        params = {**request.state["filters"], "since_id": high}
        return request.model_copy(
            update={"params": params, "page_number": request.page_number + 1, "state": state}
        )
    query_params = parse_qs(urlsplit(url).query, keep_blank_values=True)
    page_info = (query_params.get("page_info") or [""])[0]
    if not page_info:
        raise MalformedPayloadError(
            PLATFORM, request.resource, "Link", "next link without page_info"
        )
    if request.params.get("page_info") == page_info:
        raise MalformedPayloadError(PLATFORM, request.resource, "Link", "page_info did not move")
    limit = (query_params.get("limit") or [str(request.params.get("limit", REST_LIMIT))])[0]
    return request.model_copy(
        update={
            "params": {"limit": int(limit), "page_info": page_info},
            "page_number": request.page_number + 1,
            "state": state,
        }
    )
