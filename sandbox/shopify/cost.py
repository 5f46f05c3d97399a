"""Shopify's calculated query cost (S-GQL), requested before and actual after execution.

Rules, as Shopify documents them:

* a field returning a scalar or an enum costs 0; one returning an object costs 1 plus
  the cost of its selection;
* a connection costs 2 plus, for each node, 1 plus the cost of the node's selection;
  requested cost counts ``first`` (or ``last``) nodes, actual cost the nodes returned.
  ``edges``, ``node``, ``nodes``, ``cursor`` and ``pageInfo`` are part of the connection
  and cost nothing themselves (``edges { node }`` and ``nodes`` count a node once);
* a plain list of objects counts its ``first`` argument (if any, else 1) objects
  requested, and the (non-null) objects returned actually; ``nodes(ids:)`` counts one
  object per id requested (our reading: Shopify sizes a list by the arguments that bound
  it, and a ``nodes`` of 250 ids is not one object's work);
* an interface or a fragment costs the maximum of its possible selections;
* a mutation field costs 10.

Both numbers are computed from the same walk over the validated document: with
``data=None`` it is the requested cost, with the response's ``data`` the actual cost (a
null object costs 0). Pure.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
_FREE = {"pageInfo", "cursor", "__typename"}


def operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((op for op in ops if op.name and op.name.value == name), None)


class _Walk:
    def __init__(self, schema: GraphQLSchema, doc: DocumentNode, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def arg(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None

    def fields(
        self, parent: Any, selection: SelectionSetNode | None
    ) -> list[list[tuple[Any, FieldNode]]]:
        """The fields of a selection with the type each is read on, one list per
        alternative (fragments on other types: an interface's possible objects)."""
        if selection is None:
            return [[]]
        plain: list[tuple[Any, FieldNode]] = []
        alternatives: list[list[tuple[Any, FieldNode]]] = []
        for sel in selection.selections:
            if isinstance(sel, FieldNode):
                plain.append((parent, sel))
                continue
            if isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments[sel.name.value]
                condition, sub = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(sel, InlineFragmentNode)
                condition, sub = sel.type_condition, sel.selection_set
            same = condition is None or condition.name.value == getattr(parent, "name", None)
            on = parent if same else self.schema.get_type(condition.name.value) or parent
            options = self.fields(on, sub)
            if same:
                plain += max(options, key=len)
            else:
                alternatives += options
        return [plain + alt for alt in alternatives] or [plain]

    def selection(
        self, parent: Any, selection: SelectionSetNode | None, data: Any, requested: bool
    ) -> int:
        best = 0
        for alternative in self.fields(parent, selection):
            if not requested and isinstance(data, dict) and not _applies(alternative, data):
                continue
            total = 0
            for on, node in alternative:
                total += self.field(on, node, data, requested)
            best = max(best, total)
        return best

    def field(self, parent: Any, node: FieldNode, data: Any, requested: bool) -> int:
        name = node.name.value
        if name in _FREE or not hasattr(parent, "fields") or name not in parent.fields:
            return 0
        field_type = parent.fields[name].type
        named = get_named_type(field_type)
        if is_leaf_type(named):
            return 0
        value = None if requested else (data or {}).get((node.alias or node.name).value)
        if not requested and value is None:
            return 0
        if named.name.endswith("Connection"):
            return self.connection(named, node, value, requested)
        inner = field_type.of_type if is_non_null_type(field_type) else field_type
        if is_list_type(inner):
            if requested:
                ids = self.arg(node, "ids")  # nodes(ids:): one node per id asked for
                count = len(ids) if isinstance(ids, list) else self.arg(node, "first") or 1
                return count * (1 + self.selection(named, node.selection_set, None, True))
            return sum(
                1 + self.selection(named, node.selection_set, v, False)
                for v in value
                if v is not None
            )
        return 1 + self.selection(named, node.selection_set, value, requested)

    def connection(self, conn: Any, node: FieldNode, value: Any, requested: bool) -> int:
        node_type = get_named_type(conn.fields["nodes"].type)
        per_node: list[tuple[SelectionSetNode | None, str]] = []
        for _, part in self.fields(conn, node.selection_set)[0]:
            if part.name.value == "nodes":
                per_node.append((part.selection_set, "nodes"))
            elif part.name.value == "edges" and part.selection_set is not None:
                for _, edge_part in self.fields(None, part.selection_set)[0]:
                    if edge_part.name.value == "node":
                        alias = (
                            (part.alias or part.name).value,
                            (edge_part.alias or edge_part.name).value,
                        )
                        per_node.append((edge_part.selection_set, "/".join(alias)))
        if requested:
            count = self.arg(node, "first") or self.arg(node, "last") or 0
            each = max([self.selection(node_type, s, None, True) for s, _ in per_node] or [0])
            return 2 + count * ((1 + each) if per_node else 0)
        total = 2
        for selection, where in per_node[:1] or []:
            items = _items(value, where)
            total += sum(1 + self.selection(node_type, selection, item, False) for item in items)
        return total


def _applies(alternative: list[tuple[Any, FieldNode]], data: dict[str, Any]) -> bool:
    """Whether an alternative read on object types may be the one ``data`` answered:
    an answer that names its type (``__typename``) counts only its own fragment."""
    kind = data.get("__typename")
    types = {getattr(on, "name", None) for on, _ in alternative if is_object_type(on)}
    return kind is None or not types or kind in types


def _items(value: dict[str, Any], where: str) -> list[Any]:
    if where == "nodes":
        return value.get("nodes") or []
    edges_key, node_key = where.split("/")
    return [
        edge.get(node_key) for edge in value.get(edges_key) or [] if edge.get(node_key) is not None
    ]


def query_cost(
    schema: GraphQLSchema,
    doc: DocumentNode,
    op: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    data: dict[str, Any] | None = None,
) -> int:
    """The requested cost (``data`` None) or the actual cost of the operation ``op``."""
    walk = _Walk(schema, doc, variables or {})
    if op.operation.value == "mutation":
        return MUTATION_COST * len(op.selection_set.selections)
    root: GraphQLObjectType | None = schema.query_type
    return walk.selection(root, op.selection_set, data, data is None)
