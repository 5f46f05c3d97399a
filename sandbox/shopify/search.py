"""Shopify's search syntax for the ``query:`` argument of connections (a subset).

    created_at:>=2025-01-01T00:00:00Z updated_at:<'2025-02-01T00:00:00-05:00' AND id:>123

Terms are ``field:value`` or ``field:<op>value`` with ``<op>`` one of ``> >= < <=``;
terms are joined by spaces or ``AND`` (both mean AND). A value may be quoted with ``'``
or ``"``. Date fields take an ISO 8601 datetime (``Z`` or an offset; without one, the
shop's zone) or a date ``YYYY-MM-DD``, read as midnight in the shop's zone;
``field:<date>`` without an operator means that whole shop-local day. ``id`` compares
the numeric id (a GID is accepted too). Other fields compare text, case-insensitively,
for equality.

Shopify does not fail a query with a bad filter: it ignores the term and reports it in
``extensions.search[].warnings`` (``{field, message}``). ``OR``, negation (``-field``)
and free text are not supported here and are reported the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.shopify.views import SHOP_ZONE

_TERM = re.compile(r"""(?P<field>[A-Za-z_]+):(?P<op>>=|<=|>|<)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
DATE, NUMBER, TEXT = "date", "number", "text"


@dataclass
class Search:
    """A parsed query: predicates on a record's fields, and the warnings to report."""

    text: str
    tests: list[tuple[str, str, Any]] = field(default_factory=list)  # field, op, value
    warnings: list[dict[str, str]] = field(default_factory=list)

    def dates(self, name: str) -> list[tuple[str, Any]]:
        """The ``(op, bound)`` of every term on ``name``."""
        return [(op, bound) for field_name, op, bound in self.tests if field_name == name]

    def extension(self, path: list[str]) -> dict[str, Any] | None:
        if not self.warnings:
            return None
        return {"path": path, "query": self.text, "warnings": self.warnings}


def _instant(value: str) -> tuple[float, float | None] | None:
    """(start, end of day or None) in epoch seconds; None when unreadable."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = datetime.fromisoformat(value).replace(tzinfo=SHOP_ZONE)
            return day.timestamp(), (day + timedelta(days=1)).timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_ZONE)
    return moment.timestamp(), None


def parse(text: str | None, kinds: dict[str, str]) -> Search:
    """Parse ``text`` for a connection whose searchable fields are ``kinds`` (name -> kind)."""
    search = Search(text or "")
    rest = text or ""
    for match in _TERM.finditer(rest):
        name, op, raw = match["field"].lower(), match["op"] or "=", match["value"].strip("'\"")
        kind = kinds.get(name)
        if kind is None:
            search.warnings.append(
                {"field": name, "message": "Invalid search field for this query."}
            )
            continue
        if kind == DATE:
            when = _instant(raw)
            if when is None:
                search.warnings.append({"field": name, "message": f"Invalid date value: {raw}"})
                continue
            if op == "=" and when[1] is not None:
                search.tests += [(name, ">=", when[0]), (name, "<", when[1])]
            else:
                search.tests.append((name, op, when[0]))
        elif kind == NUMBER:
            digits = raw.rsplit("/", 1)[-1]
            if not digits.isdigit():
                search.warnings.append({"field": name, "message": f"Invalid id value: {raw}"})
                continue
            search.tests.append((name, op, int(digits)))
        else:
            search.tests.append((name, "=", raw.lower()))
    leftover = _TERM.sub(" ", rest).split()
    for word in leftover:
        if word != "AND":
            search.warnings.append(
                {"field": "default", "message": f"Unsupported search term: {word}"}
            )
    return search


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def matches(search: Search, values: Callable[[str], Any]) -> bool:
    """True if the record whose field values ``values(name)`` gives passes every term."""
    for name, op, bound in search.tests:
        value = values(name)
        if value is None:
            return False
        if isinstance(value, str):
            value = value.lower()
        if not _OPS[op](value, bound):
            return False
    return True
