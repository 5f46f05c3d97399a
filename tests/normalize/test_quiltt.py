"""Quiltt: bank transactions from the GraphQL transactions connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.errors import MalformedPayloadError
from shared.models import Money
from shared.normalize import normalize


def txn(txn_id: str, day: str, amount: Any, entry: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": txn_id,
        "date": day,
        "description": "AMAZON PAYMENTS DEPOSIT",
        "amount": amount,
        "entryType": entry,
        "status": "POSTED",
        "currencyCode": "USD",
        "metadata": None,
        "account": {"id": "acct_1", "name": "Checking"},
        **extra,
    }


def page(*nodes: dict[str, Any], edges: bool = True) -> dict[str, Any]:
    info = {"hasNextPage": False, "endCursor": "MTA"}
    conn = (
        {"edges": [{"node": n, "cursor": n["id"]} for n in nodes]}
        if edges
        else {"nodes": list(nodes)}
    )
    return {"data": {"transactions": {**conn, "pageInfo": info, "count": len(nodes)}}}


def test_dates_become_utc_midnight_and_entry_type_gives_the_sign() -> None:
    credit, debit, signed = normalize(
        "quiltt",
        "bank_transactions",
        page(
            txn("txn_1", "2026-03-29", 1234.5, "CREDIT"),
            txn("txn_2", "2026-03-30", 19.99, "DEBIT", status="PENDING"),
            txn("txn_3", "2026-12-31", -5, "DEBIT"),  # a signed amount is read by magnitude
        ),
        account="p_profile",
    )
    assert credit.booked_at == datetime(2026, 3, 29, tzinfo=UTC)
    assert credit.booked_on.isoformat() == "2026-03-29"
    assert credit.amount == Money(amount=Decimal("1234.5"), currency="USD")
    assert (debit.amount.amount, debit.status) == (Decimal("-19.99"), "PENDING")
    assert signed.amount.amount == Decimal("-5") and signed.booked_at.year == 2026
    assert credit.natural_key == "txn_1" and credit.bank_account_id == "acct_1"
    assert credit.account == "p_profile"


def test_nodes_form_account_scope_and_text_pages() -> None:
    nodes = page(txn("txn_1", "2026-03-29", 1, "CREDIT"), edges=False)
    scoped = {"data": {"account": {"id": "acct_1", "transactions": nodes["data"]["transactions"]}}}
    expected = normalize(
        "quiltt", "bank_transactions", page(txn("txn_1", "2026-03-29", 1, "CREDIT"))
    )
    assert normalize("quiltt", "bank_transactions", nodes) == expected
    assert normalize("quiltt", "bank_transactions", scoped) == expected
    assert normalize("quiltt", "bank_transactions", json.dumps(nodes)) == expected
    assert normalize("quiltt", "bank_transactions", page()) == []


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (txn("txn_1", "2026-03-29T00:00:00Z", 1, "CREDIT"), "date"),
        (txn("txn_1", "03/29/2026", 1, "CREDIT"), "date"),
        (txn("txn_1", "2026-03-29", "1,00", "CREDIT"), "amount"),
        (txn("txn_1", "2026-03-29", None, "CREDIT"), "amount"),
        (txn("txn_1", "2026-03-29", 1, "TRANSFER"), "entryType"),
        (txn("", "2026-03-29", 1, "CREDIT"), "id"),
        (txn("txn_1", "2026-03-29", 1, "CREDIT", currencyCode=None), "currencyCode"),
    ],
)
def test_malformed_transactions_name_the_field(node: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        normalize("quiltt", "bank_transactions", page(node))
    assert info.value.field == f"$.data.transactions.edges[0].node.{field}"
    assert (info.value.platform, info.value.resource) == ("quiltt", "bank_transactions")


def test_graphql_errors_are_refused() -> None:
    errors = {"errors": [{"message": "Not Authenticated"}], "data": None}
    with pytest.raises(MalformedPayloadError, match="Not Authenticated"):
        normalize("quiltt", "bank_transactions", errors)
