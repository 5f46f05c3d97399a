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
parent); connection wrappers (``edges``, ``node``, ``pageInfo``) disappear.

Rules checked on the bulk query (each failure is a ``userErrors`` entry with code
INVALID, nothing runs): it parses and validates against the schema; it is a query; its
top field is a connection; at most 5 connections; connections nest at most 2 deep; no
connection inside a list field; an object with a nested connection selects ``id``.
Concurrency: at most ``bulk_concurrency_before_2026_01`` (1) CREATED or RUNNING bulk
query per shop for API versions before 2026-01, ``bulk_concurrency`` (5) from 2026-01;
beyond that the mutation answers ``bulkOperation: null`` and a userError.
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
    pass


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
                if in_list:
                    raise BulkQueryError(
                        "Queries that contain a connection field within a list field are "
                        "not currently supported."
                    )
                self.connections += 1
                if depth + 1 > 2:
                    raise BulkQueryError(
                        "Bulk queries cannot contain connections with a nesting depth "
                        "greater than 2."
                    )
                node_type = get_named_type(named.fields["nodes"].type)
                for part in _node_selections(sel):
                    if _has_connection(node_type, part) and not _selects(part, "id"):
                        raise BulkQueryError(
                            "The id field is required on objects with nested connections."
                        )
                    self.check(node_type, part, depth + 1, False)
            elif isinstance(named, GraphQLObjectType):
                self.check(named, sel.selection_set, depth, in_list or is_list_type(inner))

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
    """The JSONL lines and the number of root objects of ``query`` over ``root`` (bulk mode)."""
    doc = document(query)
    if isinstance(doc, tuple):
        raise BulkQueryError(f"Invalid bulk query: {doc[0].message}")
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation.value != "query":
        raise BulkQueryError("Bulk queries must contain exactly one query operation.")
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    selection = inline(ops[0].selection_set, fragments)
    top = [s for s in selection.selections if isinstance(s, FieldNode)]
    query_type = schema().query_type
    if not any(_is_connection(query_type.fields[t.name.value].type) for t in top):
        raise BulkQueryError("Bulk queries must contain at least one connection.")
    shape = _Shape()
    shape.check(query_type, selection, 0, False)
    if shape.connections > 5:
        raise BulkQueryError("Bulk queries cannot contain more than 5 connections.")
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
            if self.limit_for(version) == 1:
                message = (
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{active[0].gid}."
                )
                return _user_error(message, "OPERATION_IN_PROGRESS")
            message = (
                f"A maximum of {self.limit_for(version)} bulk query operations can run at "
                "once for this app and shop."
            )
            return _user_error(message, "LIMIT_REACHED")
        try:
            lines, roots = run_bulk_query(query, self.root_for(shop, now))
        except BulkQueryError as exc:
            return _user_error(str(exc), "INVALID", ["query"])
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
