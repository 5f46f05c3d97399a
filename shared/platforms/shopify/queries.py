"""The GraphQL Admin queries Tributary sends, and what Shopify will charge for them.

Queries are built from a small selection tree (``Sel``) so that one object gives both
the query text and its **requested cost** by Shopify's static rules (S-GQL, S-LIM):

=====================  ===============================================================
field returns          cost
=====================  ===============================================================
scalar / enum          0
object                 1 + its selections
connection (``first``) 2 + first x (1 + the node's selections); ``edges``, ``node``,
                       ``cursor`` and ``pageInfo`` are part of the connection (free)
=====================  ===============================================================

For example ``orders(first: 250) { edges { node { id } } }`` costs 2 + 250 x 1 = 252,
the figure Shopify reports for it. Shopify debits the requested cost before running a
query and refunds the difference to ``extensions.cost.actualQueryCost`` afterwards; a
query whose requested cost exceeds ``MAX_QUERY_COST`` (1,000) is refused with
``MAX_COST_EXCEEDED`` whatever the plan. ``page_size`` picks the largest ``first`` that
keeps a page query within that cap, so ``PageRequest.cost`` (the permits asked of the
ambassador) is exactly this requested cost.

Nested connections (an order's line items, a refund's lines, an item's inventory
levels) are sized ``NESTED_PAGE`` (5) per node: most orders have one to three line
items, and a truncated page is asked for again wider (see ``pagination``).
``Query.nested(n)`` resizes them; ``max_nested`` is the largest size with which one node
still fits the budget. The orders query also selects ``ordersCount(query: $query)``
(1 point): the window's count.

Windows filter through the search syntax ``query:``: ``created_at:>='<start>'
created_at:<'<end>'`` (half-open, UTC), or ``updated_at`` for change windows. Shopify
Payments balance transactions filter on ``processed_at``, payouts on ``issued_at``.

Bulk queries (``bulk_text``) are the same trees rendered without ``first``, ``after``,
``pageInfo`` or cursors: a bulk operation pages by itself and writes every node as a
JSONL line, nested connection nodes as child lines carrying ``__parentId``.

The field names are those the normalizer (``normalize.py``) reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from shared.errors import ConfigurationError
from shared.platforms.base import Window, utc_iso

MAX_QUERY_COST = 1000
MAX_PAGE = 250
MUTATION_COST = 10


@dataclass(frozen=True)
class Sel:
    """One field of a selection set. ``args`` are rendered verbatim (``name: value``).
    ``connection`` makes it a Relay connection whose nodes select ``children``, sized
    ``first`` (the paged top connection gets its size per request)."""

    name: str
    children: tuple[Sel, ...] = ()
    args: tuple[tuple[str, str], ...] = ()
    first: int | None = None
    connection: bool = False

    def cost(self) -> int:
        inner = sum(child.cost() for child in self.children)
        if self.connection:
            return 2 + (self.first or 0) * (1 + inner)
        return 1 + inner if self.children else 0


def f(name: str, *children: Sel, **args: str) -> Sel:
    """A field: scalar when it has no children, an object otherwise."""
    return Sel(name, children, tuple(args.items()))


def conn(name: str, first: int, *children: Sel, **args: str) -> Sel:
    """A nested connection of ``first`` nodes whose node selects ``children``."""
    return Sel(name, children, tuple(args.items()), first=first, connection=True)


def scalars(*names: str) -> tuple[Sel, ...]:
    return tuple(Sel(n) for n in names)


def money(name: str) -> Sel:
    """A ``MoneyV2`` (cost 1)."""
    return f(name, *scalars("amount", "currencyCode"))


def bag(name: str) -> Sel:
    """A ``MoneyBag``'s shop money (cost 2)."""
    return f(name, f("shopMoney", *scalars("amount", "currencyCode")))


# --- the trees ---------------------------------------------------------------------------

ORDER_FIELDS = (
    *scalars("id", "name", "createdAt", "updatedAt", "cancelledAt"),
    *scalars("displayFinancialStatus", "displayFulfillmentStatus", "currencyCode"),
    bag("totalPriceSet"),
    bag("subtotalPriceSet"),
    bag("totalTaxSet"),
    bag("totalShippingPriceSet"),
    bag("totalDiscountsSet"),
)
LINE_ITEM_FIELDS = (
    *scalars("id", "sku", "title", "quantity"),
    bag("originalUnitPriceSet"),
    bag("originalTotalSet"),
    bag("totalDiscountSet"),
    f("taxLines", Sel("title"), bag("priceSet")),
    f("variant", *scalars("id", "sku")),
)
NESTED_PAGE = 5  # nested nodes (line items, refund lines, levels) per node on the paged path
REFUND_FIELDS = (
    *scalars("id", "createdAt", "note"),
    bag("totalRefundedSet"),
    conn(
        "refundLineItems",
        NESTED_PAGE,
        Sel("quantity"),
        f("lineItem", *scalars("id", "sku")),
        bag("subtotalSet"),
    ),
)
BALANCE_FIELDS = (
    *scalars("id", "type", "test", "transactionDate", "sourceType"),
    money("amount"),
    money("fee"),  # net = amount - fee: not asked for (1 point a node)
    f("associatedOrder", Sel("id")),
    f("associatedPayout", *scalars("id", "status")),
)
PAYOUT_FIELDS = (*scalars("id", "status", "issuedAt"), money("net"))
QUANTITY_NAMES = ("available", "on_hand", "reserved", "incoming")
LEVEL_FIELDS = (
    *scalars("id", "updatedAt"),
    f("location", Sel("id")),
    f(
        "quantities",
        *scalars("name", "quantity"),
        names=json.dumps(list(QUANTITY_NAMES)),
    ),
)


@dataclass(frozen=True)
class Query:
    """A resource's query: ``root`` is the path of objects above the paged connection
    (``shopifyPaymentsAccount`` for payments), ``top`` the paged connection itself and
    ``time_field`` the search field its windows filter on."""

    resource: str
    top: Sel
    root: tuple[str, ...] = ()
    time_field: str = "created_at"
    update_field: str | None = "updated_at"
    sort_key: str | None = None
    bulk: bool = False  # offered on the bulk path
    count_field: str | None = None  # a root count beside the page (``ordersCount``)

    def cost(self, first: int | None = None) -> int:
        top = self.top if first is None else replace(self.top, first=first)
        return top.cost() + len(self.root) + (1 if self.count_field else 0)

    def page_size(self, budget: int = MAX_QUERY_COST) -> int:
        """The largest ``first`` (at most 250) whose requested cost fits ``budget``."""
        node = self.cost(1) - self.cost(0)
        size = min(MAX_PAGE, (budget - self.cost(0)) // node)
        if size < 1:
            raise ConfigurationError(f"shopify {self.resource}: one node costs more than {budget}")
        return size

    @property
    def nested_size(self) -> int | None:
        """The page size of the nested connections (line items …), None if there are none."""
        sizes = [s.first for s in nested_connections(self.top)]
        return sizes[0] if sizes else None

    def nested(self, size: int) -> Query:
        """This query with every nested connection sized ``size``."""
        return replace(self, top=_resize(self.top, size))

    def max_nested(self, budget: int = MAX_QUERY_COST) -> int:
        """The largest nested size (at most 250) with which one node still fits ``budget``."""
        low, high = 1, MAX_PAGE
        while low < high:
            mid = (low + high + 1) // 2
            if self.nested(mid).cost(1) <= budget:
                low = mid
            else:
                high = mid - 1
        return low

    def text(self, first: int) -> str:
        """The paged query; variables ``$after`` (cursor) and ``$query`` (search)."""
        sort = f", sortKey: {self.sort_key}" if self.sort_key else ""
        args = f"first: {first}, after: $after, query: $query{sort}"
        body = _render(self.top, args, paged=True)
        for name in reversed(self.root):
            body = f"{name} {{ {body} }}"
        if self.count_field:
            body = f"{body} {self.count_field}(query: $query) {{ count precision }}"
        return f"query Page($after: String, $query: String) {{ {body} }}"

    def bulk_text(self, search: str) -> str:
        """The bulk operation query for one search filter (no paging arguments)."""
        sort = f", sortKey: {self.sort_key}" if self.sort_key else ""
        body = _render(self.top, f"query: {json.dumps(search)}{sort}", paged=False)
        for name in reversed(self.root):
            body = f"{name} {{ {body} }}"
        return f"{{ {body} }}"

    def search(self, window: Window | None, *, by_update: bool = False) -> str:
        """The ``query:`` filter for a half-open UTC window ('' for no window)."""
        if window is None:
            return ""
        name = self.update_field if by_update and self.update_field else self.time_field
        if by_update and self.update_field is None:
            raise ConfigurationError(f"shopify {self.resource}: no change-time filter")
        return window_filter(name, window.start, window.end)


def window_filter(name: str, start: datetime, end: datetime) -> str:
    """``created_at:>='2024-01-01T00:00:00Z' created_at:<'2024-01-02T00:00:00Z'``."""
    if end <= start:
        raise ConfigurationError(f"empty window: {utc_iso(start)} >= {utc_iso(end)}")
    return f"{name}:>='{utc_iso(start)}' {name}:<'{utc_iso(end)}'"


def nested_connections(sel: Sel) -> list[Sel]:
    """The connections below ``sel`` (``sel`` itself excluded)."""
    out = []
    for child in sel.children:
        if child.connection:
            out.append(child)
        out.extend(nested_connections(child))
    return out


def _resize(sel: Sel, size: int, top: bool = True) -> Sel:
    children = tuple(_resize(c, size, top=False) for c in sel.children)
    first = size if sel.connection and not top else sel.first
    return replace(sel, children=children, first=first)


def _render(sel: Sel, args: str | None = None, *, paged: bool) -> str:
    """A field as GraphQL text; ``args`` replaces a connection's own size arguments."""
    own = ", ".join(f"{k}: {v}" for k, v in sel.args)
    if sel.connection:
        size = args if args is not None else (f"first: {sel.first}" if paged else "")
        own = ", ".join(p for p in (size, own) if p)
    head = f"{sel.name}({own})" if own else sel.name
    if not sel.children:
        return head
    inner = " ".join(_render(child, paged=paged) for child in sel.children)
    if not sel.connection:
        return f"{head} {{ {inner} }}"
    if not paged:
        return f"{head} {{ edges {{ node {{ {inner} }} }} }}"
    return (
        f"{head} {{ edges {{ cursor node {{ {inner} }} }} pageInfo {{ hasNextPage endCursor }} }}"
    )


def _orders(resource: str, *children: Sel, count: str | None = None) -> Query:
    top = Sel("orders", children, connection=True)
    return Query(resource, top, bulk=True, sort_key="ID", count_field=count)


QUERIES: dict[str, Query] = {
    "orders": _orders("orders", *ORDER_FIELDS, count="ordersCount"),
    "order_items": _orders(
        "order_items",
        *scalars("id", "createdAt"),
        conn("lineItems", NESTED_PAGE, *LINE_ITEM_FIELDS),
    ),
    # the returns index: which orders of a window have refunds (2 points an order); their
    # refunds come from ``details_text`` (``refunds.py``: 26 points an order with refunds)
    "returns": _orders("returns", Sel("id"), f("refunds", Sel("id"))),
    "transactions": Query(
        "transactions",
        Sel("balanceTransactions", BALANCE_FIELDS, connection=True),
        root=("shopifyPaymentsAccount",),
        time_field="processed_at",
        update_field=None,
    ),
    "payouts": Query(
        "payouts",
        Sel("payouts", PAYOUT_FIELDS, connection=True),
        root=("shopifyPaymentsAccount",),
        time_field="issued_at",
        update_field=None,
    ),
    "inventory": Query(
        "inventory",
        Sel(
            "inventoryItems",
            (*scalars("id", "sku"), conn("inventoryLevels", NESTED_PAGE, *LEVEL_FIELDS)),
            connection=True,
        ),
        time_field="updated_at",
        update_field="updated_at",
    ),
}

# The bulk path writes orders with their line items and refunds in one file: the same
# file serves the orders, order_items and returns blocks of a window. Shopify refuses a
# connection inside a list field in a bulk query, and ``Order.refunds`` is a list, so
# bulk refunds come without their ``refundLineItems`` (Return.lines is empty on this path).
BULK_ORDERS = Query(
    "orders",
    Sel(
        "orders",
        (
            *ORDER_FIELDS,
            conn("lineItems", 0, *LINE_ITEM_FIELDS),
            f("refunds", *REFUND_FIELDS[:-1]),  # no connection inside a list field
        ),
        connection=True,
    ),
    bulk=True,
)


# --- refund details -----------------------------------------------------------------------

REFUNDED_ORDER = Sel("order", (*scalars("id", "createdAt"), f("refunds", *REFUND_FIELDS)))
"""What the returns chain asks of each order the index found with refunds: the order's
refunds whole, refund lines as a connection of ``NESTED_PAGE`` (resized when truncated)."""


def details_node_cost(nested: int = NESTED_PAGE) -> int:
    """Requested points of one order in ``details_text``: ``nodes`` counts one node per id
    (1 + the selection); ``refunds`` (a list without ``first``) counts one refund."""
    return _resize(REFUNDED_ORDER, nested).cost()


def details_fit(nested: int = NESTED_PAGE, budget: int = MAX_QUERY_COST) -> int:
    """How many orders one details query may ask for within ``budget`` (at most 250, the
    cap on ``nodes(ids:)``); ConfigurationError when not even one fits."""
    size = min(MAX_PAGE, budget // details_node_cost(nested))
    if size < 1:
        raise ConfigurationError(f"shopify returns: one order's refunds cost more than {budget}")
    return size


def details_max_nested(budget: int = MAX_QUERY_COST) -> int:
    """The widest refund-lines connection with which one order still fits ``budget``."""
    low, high = 1, MAX_PAGE
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if details_node_cost(mid) <= budget else (low, mid - 1)
    return low


def details_text(nested: int = NESTED_PAGE) -> str:
    """``nodes(ids: $ids) { ... on Order { id createdAt refunds { … } } }``."""
    inner = " ".join(_render(c, paged=True) for c in _resize(REFUNDED_ORDER, nested).children)
    return f"query Refunds($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on Order {{ {inner} }} }} }}"


def query(resource: str) -> Query:
    """The page query of a resource; ConfigurationError for one Shopify does not have."""
    if resource not in QUERIES:
        raise ConfigurationError(
            f"shopify has no resource {resource!r}; expected one of {', '.join(QUERIES)}"
        )
    return QUERIES[resource]


# --- bulk operations ---------------------------------------------------------------------

BULK_RUN = (
    "mutation BulkRun($query: String!) { bulkOperationRunQuery(query: $query) "
    "{ bulkOperation { id status } userErrors { field message code } } }"
)
BULK_RUN_COST = MUTATION_COST
_BULK_FIELDS = (
    "id status errorCode objectCount rootObjectCount fileSize url partialDataUrl "
    "createdAt completedAt query"
)
BULK_NODE = (
    f"query BulkNode($id: ID!) {{ node(id: $id) {{ ... on BulkOperation {{ {_BULK_FIELDS} }} }} }}"
)
BULK_CURRENT = f"query BulkCurrent {{ currentBulkOperation(type: QUERY) {{ {_BULK_FIELDS} }} }}"
BULK_POLL_COST = 1  # one object
