"""Resolvers of the Quiltt GraphQL subset, over one Profile's bank data at one instant.

Connections page like graphql-ruby's (which Quiltt's examples show: cursors ``"MQ"``,
``"Mw"`` are base64 of 1 and 3): a cursor is the unpadded url-safe base64 of a record's
1-based position in the sorted, filtered list, and ``after: c`` starts right after it.
Positions are offsets, so a record appearing earlier in the order between two page calls
(e.g. a new transaction under ``DATE_DESC``) shifts later pages by one, as on the real API.
A malformed cursor is a GraphQL error (graphql-ruby would silently restart; an error is
the safer signal). ``first`` defaults to and is capped at ``page_cap`` (100); a negative
``first`` is a GraphQL error.

Page faults, each decided per request identity (Profile, list arguments, ``after``,
``first``) and counted in the accounting:
    duplicate        the page starts one record early (repeats the previous page's last)
    short_page       the last records of a full page are dropped; ``endCursor`` still
                     points past them and ``count`` is unchanged (the loss is detectable)
    lost_next_token  ``hasNextPage`` is false although records remain
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from sandbox.quiltt.data import Account, Txn
from sandbox.quiltt.view import BankView

Roll = Callable[..., bool]  # roll(kind, *key) -> fault hits
Uniform = Callable[..., float]


def cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).rstrip(b"=").decode()


def position(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.isdigit():
        raise GraphQLError(f"Invalid cursor: {text!r}")
    return int(raw)


def predicate(flt: dict[str, Any], now: float) -> Callable[[Txn], bool] | None:
    """The ``TransactionFilter`` as a test on transactions visible at ``now`` (None: all)."""
    tests: list[Callable[[Txn], bool]] = []
    if flt.get("accountIds") is not None:
        accounts = set(flt["accountIds"])
        tests.append(lambda t: t.account_id in accounts)
    if flt.get("status") is not None:
        wanted = set(flt["status"])
        tests.append(lambda t: ("POSTED" if now >= t.posted else "PENDING") in wanted)
    if flt.get("entryType") is not None:
        entry = flt["entryType"]
        tests.append(lambda t: t.entry_type == entry)
    if flt.get("amount_gte") is not None:
        low = round(flt["amount_gte"] * 100)
        tests.append(lambda t: t.cents >= low)
    if flt.get("amount_lte") is not None:
        high = round(flt["amount_lte"] * 100)
        tests.append(lambda t: t.cents <= high)
    for name, compare in (
        ("date_gt", str.__gt__),
        ("date_gte", str.__ge__),
        ("date_lt", str.__lt__),
        ("date_lte", str.__le__),
    ):
        if flt.get(name) is not None:
            tests.append(lambda t, bound=flt[name], op=compare: op(t.date, bound))
    if not tests:
        return None
    return lambda t: all(test(t) for test in tests)


@dataclass
class Query:
    """The root value of one GraphQL request (graphql-core's default resolver calls these)."""

    view: BankView
    profile_id: str
    now: float
    page_cap: int
    roll: Roll
    uniform: Uniform
    _account_nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profile(self, _info: Any) -> dict[str, Any]:
        return {"id": self.profile_id}

    def accounts(self, _info: Any, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        flt = filter or {}
        nodes = [self._account_node(a) for a in self.view.accounts(self.now)]
        if flt.get("kind") is not None:
            nodes = [n for n in nodes if n["kind"] in flt["kind"]]
        if flt.get("verified") is not None:
            nodes = [n for n in nodes if n["verified"] == flt["verified"]]
        if flt.get("connection_status") is not None:
            nodes = [n for n in nodes if n["connection"]["status"] in flt["connection_status"]]
        return nodes

    def account(self, _info: Any, id: str) -> dict[str, Any] | None:
        account = self.view.account(id, self.now)
        return self._account_node(account) if account else None

    def transaction(self, _info: Any, id: str) -> dict[str, Any] | None:
        txn = self.view.transaction(id, self.now)
        return self._transaction_node(txn) if txn else None

    def transactions(
        self,
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        sort: str = "DATE_DESC",
        filter: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self._connection(first, after, sort, dict(filter or {}), scope="profile")

    # --- nodes ---------------------------------------------------------------------------
    def _account_node(self, account: Account) -> dict[str, Any]:
        if account.id in self._account_nodes:
            return self._account_nodes[account.id]
        node = self.view.account_record(account, self.now)

        def transactions(
            _info: Any,
            first: int | None = None,
            after: str | None = None,
            sort: str = "DATE_DESC",
            filter: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            flt = dict(filter or {})
            wanted = flt.get("accountIds")
            flt["accountIds"] = [account.id] if wanted is None or account.id in wanted else []
            return self._connection(first, after, sort, flt, scope=account.id)

        node["transactions"] = transactions
        self._account_nodes[account.id] = node
        return node

    def _transaction_node(self, txn: Txn) -> dict[str, Any]:
        node = self.view.transaction_record(txn, self.now)
        account = self.view.data.account(txn.account_id)
        node["account"] = lambda _info: self._account_node(account)
        return node

    # --- connections -------------------------------------------------------------------
    def _connection(
        self, first: int | None, after: str | None, sort: str, flt: dict[str, Any], scope: str
    ) -> dict[str, Any]:
        if first is not None and first < 0:
            raise GraphQLError("Argument 'first' must be greater than or equal to 0")
        size = self.page_cap if first is None else min(first, self.page_cap)
        start = position(after) if after else 0
        keep = predicate(flt, self.now)
        items = self.view.transactions(self.now)
        if keep is not None:
            items = [t for t in items if keep(t)]
        if sort == "DATE_DESC":
            items.reverse()
        total = len(items)
        key = (self.profile_id, scope, sort, json.dumps(flt, sort_keys=True), after, first)
        if 0 < start <= total and self.roll("duplicate", *key):
            start -= 1
        chunk = items[start : start + size]
        end = start + len(chunk)
        has_next = end < total
        if len(chunk) == size and len(chunk) > 1 and self.roll("short_page", *key):
            drop = 1 + int(self.uniform("short_page_size", *key) * max(1, len(chunk) // 4))
            chunk = chunk[:-drop]
        if has_next and self.roll("lost_next_token", *key):
            has_next = False
        nodes = [self._transaction_node(t) for t in chunk]
        return {
            "count": total,
            "edges": [{"cursor": cursor(start + i + 1), "node": n} for i, n in enumerate(nodes)],
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": has_next,
                "hasPreviousPage": start > 0,
                "startCursor": cursor(start + 1) if nodes else None,
                "endCursor": cursor(end) if end > start else None,
            },
        }
