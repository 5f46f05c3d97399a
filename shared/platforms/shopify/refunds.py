"""The returns chain: an index of the window's orders (a page of them, or the bulk file),
then the refunds of those that have any. Pure.

Refunds have no connection of their own in the Admin API (``Order.refunds`` is a list,
``RefundConnection`` hangs under ``Return`` only), so a returns window is read through
its orders. Asking every order for its refunds whole would cost 26 points an order (one
refund of ``REFUND_FIELDS`` with five refund lines, 22 of them for the lines) while
fewer than one order in ten has a refund, and Shopify debits the requested cost before
it refunds the difference. So the chain alternates two kinds of request, both on route
``graphql`` and step ``page``:

index    ``queries.QUERIES["returns"]``: ``orders(first: 250, query: <window>) { id
         refunds { id } }`` (2 points an order; cursors and the confirming empty page as
         every paged chain, ``pagination.graphql_next``). An index page with orders holds
         no records of its own and is not handed out (``payload`` None); the last one,
         empty, is: it stores as the block's (possibly only) page, with no records.
details  ``queries.details_text``: ``nodes(ids: [...]) { ... on Order { id createdAt
         refunds { … refundLineItems(first: n) } } }`` for the orders of the index page
         before it that have refunds, ``queries.details_fit`` orders a request (26 points
         each). Its page is the data page (``normalize.returns`` reads ``data.nodes``).
         Refund lines that do not fit (``hasNextPage``) make the same orders be asked
         again with the lines twice as wide (``widened``), up to what one order allows.

On the bulk path (history) the bulk file (``queries.BULK_ORDERS``: orders with their
refunds, without refund lines) is the index: a returns block's download is not handed
out when it shows refunds, and the details of those orders follow (``after_bulk``); the
last details page ends the chain.

The bulk file also shows each order's line items, and a refund has at most one line
per line item: after a bulk file the orders are asked fewest lines first, each request
sized to the most line items among its orders (``hints``), so a typical order costs 10
points instead of 26 and nothing is truncated; the paged index shows no line items, so
its details ask ``NESTED_PAGE`` lines and widen when truncated.

``state`` of a details request: ``ids`` (all the orders still to ask for, the first
``len(body ids)`` being this request's), ``hints`` (their line items, or None),
``nested`` (refund lines asked), ``base`` (the size the next orders start from without
hints), ``resume`` (the index request that follows, as JSON; None after a bulk file);
index (and bulk) requests carry ``details_nested``, that base size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shared.errors import MalformedPayloadError
from shared.platforms.base import PageRequest
from shared.platforms.shopify import pagination
from shared.platforms.shopify.queries import (
    MAX_QUERY_COST,
    NESTED_PAGE,
    details_fit,
    details_max_nested,
    details_node_cost,
    details_text,
)

RESOURCE = "returns"
PLATFORM = pagination.PLATFORM


def first(request: PageRequest, nested: int | None = None) -> PageRequest:
    """The chain's first index request, from ``pagination.graphql_first("returns", …)``;
    ``nested`` is the refund-lines size details requests start from."""
    state = {**request.state, "details_nested": nested or NESTED_PAGE}
    return request.model_copy(update={"state": state})


def is_details(request: PageRequest) -> bool:
    return request.resource == RESOURCE and "resume" in request.state


def refunded(body: Any) -> list[str]:
    """The ids of the orders of an index page that have refunds, in page order."""
    found = pagination.nodes(pagination.connection(RESOURCE, body))
    return [str(o["id"]) for o in found if isinstance(o.get("refunds"), list) and o["refunds"]]


def after_index(request: PageRequest, body: Any) -> tuple[Any, PageRequest | None]:
    """(payload to hand out, next request) after an index page."""
    following = pagination.graphql_next(request, body)
    ids = refunded(body)
    if ids and following is not None:
        return None, _details(request, ids, following)
    if following is None:  # the confirming empty page ends the chain: store it
        return body, None
    return None, following


def after_bulk(request: PageRequest, text: str) -> tuple[Any, PageRequest | None]:
    """(payload to hand out, next request) after a returns block's bulk file (orders with
    their refunds, no refund lines: a bulk query allows no connection inside a list
    field): the details of the orders it shows with refunds, or, with none, the file
    itself (no records) to end the chain. The file also shows each order's line items,
    and a refund has at most one line per line item: details requests ask for that many
    refund lines (``hints``), the orders with fewer first."""
    found = refunded_in_file(text)
    if not found:
        return text, None
    found.sort(key=lambda pair: pair[1])  # stable: file order within one size
    ids, hints = [i for i, _ in found], [max(1, n) for _, n in found]
    return None, _details(request, ids, None, hints=hints)


def refunded_in_file(text: str) -> list[tuple[str, int]]:
    """(order id, its line items) for each order of a bulk file with refunds (inline
    ``refunds``, or Refund child lines under ``__parentId``), in file order."""
    found: dict[str, None] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise MalformedPayloadError(PLATFORM, RESOURCE, f"line[{number}]", "not JSON") from None
        if not isinstance(row, Mapping):
            raise MalformedPayloadError(PLATFORM, RESOURCE, f"line[{number}]", "not an object")
        parent, own = row.get("__parentId"), str(row.get("id"))
        if parent is None and isinstance(row.get("refunds"), list) and row["refunds"]:
            found[own] = None
        elif isinstance(parent, str) and own.startswith("gid://shopify/Refund/"):
            found[parent] = None
        elif isinstance(parent, str) and own.startswith("gid://shopify/LineItem/"):
            lines[parent] = lines.get(parent, 0) + 1
    return [(order, lines.get(order, 0)) for order in found]


def after_details(request: PageRequest) -> PageRequest | None:
    """The request after a complete details page: more details, else the index again
    (None after the last details of a bulk file: the chain is complete)."""
    asked = len(request.body["variables"]["ids"])
    rest = request.state["ids"][asked:]
    hints = request.state.get("hints")
    resume = _resume(request)
    if rest:
        return _details(request, rest, resume, hints=None if hints is None else hints[asked:])
    if resume is None:
        return None
    return resume.model_copy(update={"page_number": request.page_number + 1})


def truncated(body: Any) -> str | None:
    """Where a details page's refund lines say they have more than the page holds."""
    data = body.get("data") if isinstance(body, Mapping) else None
    orders = data.get("nodes") if isinstance(data, Mapping) else None
    for order in orders if isinstance(orders, list) else []:
        for refund in _objects(order.get("refunds") if isinstance(order, Mapping) else None):
            lines = refund.get("refundLineItems")
            info = lines.get("pageInfo") if isinstance(lines, Mapping) else None
            if isinstance(info, Mapping) and info.get("hasNextPage") is True:
                return f"refund {refund.get('id')}: refundLineItems has more than one page"
    return None


def widened(request: PageRequest) -> PageRequest | None:
    """The same orders again with refund lines twice as wide (fewer orders fit; the rest
    follow), or None when they already are as wide as one order allows."""
    budget = int(request.state.get("budget", MAX_QUERY_COST))
    current, largest = int(request.state["nested"]), details_max_nested(budget)
    if current >= largest:
        return None
    wider = min(largest, 2 * current)
    ids, hints = request.state["ids"], request.state.get("hints")
    return _details(request, ids, _resume(request), hints=hints, least=wider, same=True)


def _resume(request: PageRequest) -> PageRequest | None:
    resume = request.state.get("resume")
    return None if resume is None else PageRequest.model_validate(resume)


def _details(
    before: PageRequest,
    ids: list[str],
    resume: PageRequest | None,
    *,
    hints: list[int] | None = None,
    least: int | None = None,
    same: bool = False,
) -> PageRequest:
    """The details request for the first orders of ``ids`` that fit the budget: refund
    lines sized ``least`` (default: the chain's base size), or, with ``hints`` (refund
    lines each order may have), the largest hint of the orders asked (at least
    ``least``)."""
    budget = int(before.state.get("budget", MAX_QUERY_COST))
    base = int(before.state.get("base", before.state.get("details_nested", NESTED_PAGE)))
    if hints is None:
        nested = least or base
        asked = ids[: details_fit(nested, budget)]
    else:
        asked, nested = _batch(ids, hints, least or 1, budget)
    state = {
        "by_update": before.state.get("by_update", False),
        "budget": budget,
        "nested": nested,
        "base": base,
        "ids": list(ids),
        "hints": hints,
        "resume": None
        if resume is None
        else resume.model_copy(update={"page_number": 0}).model_dump(mode="json"),
    }
    return before.model_copy(
        update={
            "route": "graphql",
            "method": "POST",
            "step": "page",
            "body": {"query": details_text(nested), "variables": {"ids": asked}},
            "cost": len(asked) * details_node_cost(nested),
            "state": state,
            "page_number": before.page_number if same else before.page_number + 1,
            "not_before_s": 0.0,
        }
    )


def details_costs(
    hints: list[int] | None, orders: int = 0, budget: int = MAX_QUERY_COST
) -> list[int]:
    """The requested cost of each details request for a set of refunded orders: with
    ``hints`` (line items per order, as after a bulk file) sized as ``after_bulk`` does,
    else ``orders`` orders at ``NESTED_PAGE`` lines (one index page's worth; the floor of
    the paged path). Truncations (widening) not counted."""
    if hints is None:
        fit = details_fit(NESTED_PAGE, budget)
        full, rest = divmod(orders, fit)
        each = details_node_cost(NESTED_PAGE)
        return [fit * each] * full + ([rest * each] if rest else [])
    left = sorted(max(1, n) for n in hints)
    out = []
    while left:
        asked, nested = _batch([""] * len(left), left, 1, budget)
        out.append(len(asked) * details_node_cost(nested))
        left = left[len(asked) :]
    return out


def _batch(ids: list[str], hints: list[int], least: int, budget: int) -> tuple[list[str], int]:
    """The longest prefix of ``ids`` whose orders, each asked for as many refund lines as
    the largest hint among them (at least ``least``, at most what one order allows), fit
    ``budget``; at least one order."""
    widest = details_max_nested(budget)
    nested = min(widest, max(least, hints[0]))
    count = 1
    while count < len(ids):
        wider = min(widest, max(nested, hints[count]))
        if (count + 1) * details_node_cost(wider) > budget:
            break
        nested, count = wider, count + 1
    return ids[:count], nested


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
