"""Bulk operations (S-BULK): ``bulkOperationRunQuery``, polling, the JSONL result.

Lifecycle on the world clock: an operation is CREATED when accepted, RUNNING from one
second later, COMPLETED at ``created + bulk_startup_s + objects / bulk_objects_per_s``;
``objectCount`` grows linearly while it runs. The data is read when the operation is
accepted (a snapshot of the shop at that instant). ``bulkOperationCancel`` makes it
CANCELED. The result ``url`` (set once COMPLETED) is under the sandbox
(``/shopify/bulk-results/<id>.jsonl?signature=…``), needs no access token, and expires
``bulk_url_ttl_s`` (7 days) after completion (then 403, as a signed storage URL does).

JSONL: one line per node of the top connection; a nested connection's nodes follow their
parent's line, each with ``"__parentId": <parent id>`` (grandchildren after their
parent); connection wrappers (``edges``, ``node``, ``pageInfo``) disappear. The
sandbox always writes this grouped order, as ``groupObjects: true`` does (the default
before 2026-01; from 2026-01 the default is false, and a client that relies on children
following their parent passes ``groupObjects: true``, as estuary's source-shopify-native
does).

Rules checked on the bulk query, with Shopify's messages as a 2026-04 shop answered
them (airhorns/shopify-draft-proxy, fixtures/conformance/…/2026-04/bulk-operations:
bulk-operation-run-query-validators.json). It parses and validates against the schema
(else one error); it is a query operation (else one error). Then every rule it breaks is
a ``userErrors`` entry (code INVALID, field ``["query"]``, nothing runs), in this order:
a connection selected through ``nodes`` rather than ``edges { node }``; a top-level
``node``; connections nested more than 2 deep; more than 5 connections; a connection's
node that nests another connection without selecting ``id`` (unaliased); a connection
inside a list field; no connection at all (alone, or after the top-level ``node``
error). Shopify counts a connection anywhere; the sandbox reads top-level connections
only and refuses a query whose connections all lie below a top-level object (the
connections of ``shopifyPaymentsAccount``) with the no-connection error: no capture or
peer shows Shopify accepting one (see ``bench.floor.OFFERED_BULK``).
Concurrency: at most ``bulk_concurrency_before_2026_01`` (1) CREATED or RUNNING bulk
query per shop for API versions before 2026-01, ``bulk_concurrency`` (5) from 2026-01;
beyond that the mutation answers ``bulkOperation: null`` and a userError, code
OPERATION_IN_PROGRESS, field null, "A bulk query operation for this app and shop is
already in progress: <the running operations' ids>." (captured 2026-04 at the sixth).
Bulk queries are exempt from the single-query cost cap; the mutation costs 10.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    value_from_ast_untyped,
)

from sandbox.shopify.schema import document, schema
from sandbox.shopify.views import utc

if TYPE_CHECKING:
    from sandbox.shopify.limits import Policy

RootFactory = Callable[[str, float], Any]  # (shop, now) -> a bulk-mode Root


class BulkQueryError(Exception):
    """A bulk query Shopify refuses; ``messages``: one userError message each."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


@dataclass
class BulkOperation:
    number: int
    shop: str
    query: str
    created: float
    lines: list[str]
    roots: int
    done_at: float
    url: str
    url_ttl_s: float
    cancelled_at: float | None = None

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"

    def status(self, t: float) -> str:
        if self.cancelled_at is not None and t >= self.cancelled_at:
            return "CANCELED"
        if t >= self.done_at:
            return "COMPLETED"
        return "RUNNING" if t >= self.created + 1 else "CREATED"

    def active(self, t: float) -> bool:
        return self.status(t) in ("CREATED", "RUNNING")

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def node(self, t: float) -> dict[str, Any]:
        status = self.status(t)
        total = len(self.lines)
        if status == "COMPLETED":
            count = total
        elif status == "RUNNING":
            count = int(total * (t - self.created) / max(1e-9, self.done_at - self.created))
        elif status == "CANCELED":
            count = int(
                total
                * min(
                    1.0, (self.cancelled_at - self.created) / max(1e-9, self.done_at - self.created)
                )
            )
        else:
            count = 0
        done = status == "COMPLETED"
        return {
            "__typename": "BulkOperation",
            "id": self.gid,
            "status": status,
            "errorCode": None,
            "createdAt": utc(self.created),
            "completedAt": utc(self.done_at)
            if done
            else utc(self.cancelled_at)
            if status == "CANCELED"
            else None,
            "objectCount": str(count),
            "rootObjectCount": str(self.roots if done else 0),
            "fileSize": str(len(self.text().encode())) if done and self.lines else None,
            "url": self.url if done and self.lines else None,
            "partialDataUrl": None,
            "query": self.query,
            "type": "QUERY",
        }


def _user_error(
    message: str, code: str = "INVALID", field: list[str] | None = None
) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"code": code, "field": field, "message": message}],
    }


class _Shape:
    """Checks a bulk query's connections and flattens its result into JSONL lines."""

    def __init__(self) -> None:
        self.connections = 0
        self.too_deep = False
        self.in_list = False
        self.nodes_style: list[str] = []  # connections selected through ``nodes``
        self.without_id: list[str] = []  # connections whose node lacks ``id`` yet nests one

    def check(
        self,
        parent: GraphQLObjectType,
        selection: SelectionSetNode | None,
        depth: int,
        in_list: bool,
    ) -> None:
        for sel in selection.selections if selection else ():
            assert isinstance(sel, FieldNode)  # fragments were inlined
            name = sel.name.value
            if name == "__typename":
                continue
            ftype = parent.fields[name].type
            named = get_named_type(ftype)
            inner = ftype.of_type if is_non_null_type(ftype) else ftype
            if named.name.endswith("Connection"):
                parts = _node_selections(sel)
                if not _selects(sel.selection_set, "edges") and _selects(
                    sel.selection_set, "nodes"
                ):
                    if name not in self.nodes_style:
                        self.nodes_style.append(name)
                    continue
                self.connections += 1
                self.in_list = self.in_list or in_list
                self.too_deep = self.too_deep or depth + 1 > 2
                node_type = get_named_type(named.fields["nodes"].type)
                for part in parts:
                    lacks_id = _has_connection(node_type, part) and not _selects(part, "id")
                    if lacks_id and name not in self.without_id:
                        self.without_id.append(name)
                    self.check(node_type, part, depth + 1, False)
            elif isinstance(named, GraphQLObjectType):
                self.check(named, sel.selection_set, depth, in_list or is_list_type(inner))

    def errors(self, top_level_node: bool, top_connections: int) -> list[str]:
        """The userErrors messages, in the order Shopify lists them (captured 2026-04)."""
        out = []
        if self.nodes_style:
            first = self.nodes_style[0]
            out.append(
                "All connection fields in a bulk query must select their contents using "
                f"'edges' > 'node', e.g: '{first} {{ edges {{ node {{'. Selecting via 'nodes' "
                "is not supported. Invalid connection fields: '"
                + "', '".join(self.nodes_style)
                + "'."
            )
        if top_level_node:
            out.append("Bulk queries cannot contain a top level `node` field.")
        if self.too_deep:
            out.append(
                "Bulk queries cannot contain connections with a nesting depth greater than 2."
            )
        if self.connections > 5:
            out.append("Bulk queries cannot contain more than 5 connections.")
        if self.without_id:
            out.append(
                "The parent 'node' field for a nested connection must select the 'id' field "
                "without an alias and must be of 'ID' return type. Connection fields without "
                f"'id': {', '.join(self.without_id)}."
            )
        if self.in_list:
            out.append(
                "Queries that contain a connection field within a list field are not "
                "currently supported."
            )
        if not top_connections and (not out or (top_level_node and len(out) == 1)):
            out.append("Bulk queries must contain at least one connection.")
        return out

    def flatten(
        self,
        parent: GraphQLObjectType,
        node_sel: SelectionSetNode,
        value: dict,
        parent_id: str | None,
        out: list[str],
    ) -> None:
        line, children = {}, []
        for sel in node_sel.selections:
            assert isinstance(sel, FieldNode)
            key = (sel.alias or sel.name).value
            named = (
                get_named_type(parent.fields[sel.name.value].type)
                if sel.name.value != "__typename"
                else None
            )
            if named is not None and named.name.endswith("Connection"):
                children.append((get_named_type(named.fields["nodes"].type), sel, value.get(key)))
            else:
                line[key] = value.get(key)
        if parent_id is not None:
            line["__parentId"] = parent_id
        out.append(json.dumps(line, separators=(",", ":")))
        for child_type, sel, conn in children:
            for part in _node_selections(sel):
                for item in _conn_items(conn, sel, part):
                    self.flatten(child_type, part, item, value.get("id"), out)


def _node_selections(conn: FieldNode) -> list[SelectionSetNode]:
    out = []
    for part in conn.selection_set.selections if conn.selection_set else ():
        if not isinstance(part, FieldNode):
            continue
        if part.name.value == "nodes" and part.selection_set:
            out.append(part.selection_set)
        elif part.name.value == "edges" and part.selection_set:
            for edge in part.selection_set.selections:
                if isinstance(edge, FieldNode) and edge.name.value == "node" and edge.selection_set:
                    out.append(edge.selection_set)
    return out[:1]


def _conn_items(conn: dict | None, sel: FieldNode, part: SelectionSetNode) -> list[dict]:
    if not conn:
        return []
    for key_part in sel.selection_set.selections:
        key = (key_part.alias or key_part.name).value
        if key_part.name.value == "nodes" and key_part.selection_set is part:
            return conn.get(key) or []
        if key_part.name.value == "edges":
            node_field = next(
                e for e in key_part.selection_set.selections if e.name.value == "node"
            )
            node_key = (node_field.alias or node_field.name).value
            return [edge[node_key] for edge in conn.get(key) or []]
    return []


def _has_connection(parent: Any, selection: SelectionSetNode) -> bool:
    fields = getattr(parent, "fields", {})
    return any(
        isinstance(sel, FieldNode)
        and sel.name.value in fields
        and _is_connection(fields[sel.name.value].type)
        for sel in selection.selections
    )


def _is_connection(field_type: Any) -> bool:
    return get_named_type(field_type).name.endswith("Connection")


def _selects(selection: SelectionSetNode, name: str) -> bool:
    return any(
        isinstance(s, FieldNode) and s.name.value == name and s.alias is None
        for s in selection.selections
    )


def inline(selection: SelectionSetNode, fragments: dict[str, Any]) -> SelectionSetNode:
    """``selection`` with every fragment replaced by its fields (bulk types are concrete)."""
    out: list[FieldNode] = []
    for sel in selection.selections:
        if isinstance(sel, FieldNode):
            if sel.selection_set is not None:
                sel = FieldNode(
                    alias=sel.alias,
                    name=sel.name,
                    arguments=sel.arguments,
                    directives=sel.directives,
                    selection_set=inline(sel.selection_set, fragments),
                )
            out.append(sel)
            continue
        sub = (
            fragments[sel.name.value].selection_set
            if isinstance(sel, FragmentSpreadNode)
            else sel.selection_set
        )
        out += inline(sub, fragments).selections
    return SelectionSetNode(selections=tuple(out))


def project(selection: SelectionSetNode, value: Any, variables: dict[str, Any]) -> Any:
    """The response of ``selection`` over resolver values (dicts, callables, lists).

    The bulk path's executor: the document was validated by graphql-core already, and the
    resolvers' dicts hold serialized values, so selecting keys is all that is left (and
    much faster than graphql-core's executor over a whole shop).
    """
    if value is None:
        return None
    if isinstance(value, list):
        return [project(selection, v, variables) for v in value]
    out: dict[str, Any] = {}
    for sel in selection.selections:
        assert isinstance(sel, FieldNode)
        name = sel.name.value
        raw = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if callable(raw):
            args = {
                a.name.value: value_from_ast_untyped(a.value, variables)
                for a in sel.arguments or ()
            }
            raw = raw(None, **args)
        key = (sel.alias or sel.name).value
        out[key] = project(sel.selection_set, raw, variables) if sel.selection_set else raw
    return out


def run_bulk_query(
    query: str, root: Any, variables: dict[str, Any] | None = None
) -> tuple[list[str], int]:
    """The JSONL lines and the number of root objects of ``query`` over ``root`` (bulk mode).

    BulkQueryError carries every rule the query breaks (``messages``), in Shopify's order."""
    doc = document(query)
    if isinstance(doc, tuple):
        raise BulkQueryError(f"Invalid bulk query: {doc[0].message}")
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) == 1 and ops[0].operation.value != "query":
        raise BulkQueryError("Invalid operation type. Only `query` operations are supported.")
    if len(ops) != 1:
        raise BulkQueryError("Bulk queries must contain exactly one query operation.")
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    selection = inline(ops[0].selection_set, fragments)
    top = [s for s in selection.selections if isinstance(s, FieldNode)]
    query_type = schema().query_type
    shape = _Shape()
    shape.check(query_type, selection, 0, False)
    # only a connection at the top is read: one below a top-level object (the connections
    # of ``shopifyPaymentsAccount``) is refused, as no capture shows Shopify accepting one
    top_connections = sum(
        1
        for t in top
        if _is_connection(query_type.fields[t.name.value].type)
        and t.name.value not in shape.nodes_style
    )
    messages = shape.errors(any(t.name.value == "node" for t in top), top_connections)
    if messages:
        raise BulkQueryError(*messages)
    data = project(selection, root, variables or {})
    lines: list[str] = []
    roots = 0
    for field in top:
        named = get_named_type(query_type.fields[field.name.value].type)
        if not named.name.endswith("Connection"):
            continue
        node_type = get_named_type(named.fields["nodes"].type)
        for part in _node_selections(field):
            for item in _conn_items(data.get((field.alias or field.name).value), field, part):
                roots += 1
                shape.flatten(node_type, part, item, None, lines)
    return lines, roots


class BulkOperations:
    """Every bulk operation of every shop in the sandbox."""

    def __init__(
        self, policy: Policy, seed: int, root_for: RootFactory, limit_for: Callable[[str], int]
    ) -> None:
        self.policy = policy
        self.seed = seed
        self.root_for = root_for
        self.limit_for = limit_for
        self._ops: dict[int, BulkOperation] = {}
        self._next = 4_200_000_000 + seed % 1000
        self.url_base = "/shopify"

    def current(self, shop: str) -> BulkOperation | None:
        mine = [op for op in self._ops.values() if op.shop == shop]
        return mine[-1] if mine else None

    def get(self, shop: str, gid: str) -> BulkOperation | None:
        number = gid.rsplit("/", 1)[-1]
        op = self._ops.get(int(number)) if number.isdigit() else None
        return op if op is not None and op.shop == shop else None

    def signature(self, number: int) -> str:
        return hashlib.blake2b(
            repr((self.seed, "bulk", number)).encode(), digest_size=12
        ).hexdigest()

    def run(self, shop: str, version: str, query: str, now: float) -> dict[str, Any]:
        active = [op for op in self._ops.values() if op.shop == shop and op.active(now)]
        if len(active) >= self.limit_for(version):
            running = ", ".join(op.gid for op in active)
            message = (
                f"A bulk query operation for this app and shop is already in progress: {running}."
            )
            return _user_error(message, "OPERATION_IN_PROGRESS")
        try:
            lines, roots = run_bulk_query(query, self.root_for(shop, now))
        except BulkQueryError as exc:
            errors = [{"code": "INVALID", "field": ["query"], "message": m} for m in exc.messages]
            return {"bulkOperation": None, "userErrors": errors}
        self._next += 1
        number = self._next
        done = now + self.policy.bulk_startup_s + len(lines) / self.policy.bulk_objects_per_s
        url = f"{self.url_base}/bulk-results/{number}.jsonl?signature={self.signature(number)}"
        op = BulkOperation(
            number, shop, query, now, lines, roots, done, url, self.policy.bulk_url_ttl_s
        )
        self._ops[number] = op
        return {"bulkOperation": op.node(now), "userErrors": []}

    def cancel(self, shop: str, gid: str, now: float) -> dict[str, Any]:
        op = self.get(shop, gid)
        if op is None:
            return _user_error("Bulk operation does not exist", "INVALID", ["id"])
        if not op.active(now):
            return {
                "bulkOperation": op.node(now),
                "userErrors": [
                    {
                        "code": None,
                        "field": None,
                        "message": "A bulk operation cannot be canceled when it is "
                        f"{op.status(now).lower()}",
                    }
                ],
            }
        op.cancelled_at = now
        return {"bulkOperation": op.node(now), "userErrors": []}

    def download(self, number: int, signature: str | None, now: float) -> tuple[int, str]:
        op = self._ops.get(number)
        if op is None or signature != self.signature(number) or op.status(now) != "COMPLETED":
            return 403, _storage_error("AccessDenied", "Access denied.")
        if now > op.done_at + op.url_ttl_s:
            return 400, _storage_error("ExpiredToken", "The provided token has expired.")
        return 200, op.text()


def _storage_error(code: str, message: str) -> str:
    head = "<?xml version='1.0' encoding='UTF-8'?>"
    return f"{head}<Error><Code>{code}</Code><Message>{message}</Message></Error>"
