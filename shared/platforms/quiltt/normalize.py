"""Quiltt GraphQL pages -> bank transactions (pure).

Input: one page of the transactions connection, ``{"data": {"transactions": conn}}`` (or
``{"data": {"account": {"transactions": conn}}}`` for an account-scoped query), with
``edges[].node`` or ``nodes[]``; a page may be given as its text. A page with GraphQL
``errors`` is refused.

Node fields (Quiltt's Transaction): ``id`` (``txn_...``), ``date`` (``YYYY-MM-DD``),
``amount`` (a JSON number), ``entryType`` CREDIT | DEBIT, ``currencyCode``, ``status``
PENDING | POSTED, ``description``, ``account{id}``.

- ``booked_at`` is UTC midnight of ``date``: banks book by calendar day without a time or
  zone, so the date is kept as the same calendar day in UTC, never shifted.
- ``amount`` is ``+|amount|`` for CREDIT and ``-|amount|`` for DEBIT; the sign comes from
  ``entryType`` alone, so an unsigned or a signed ``amount`` both normalize the same.
- Natural key: ``id``. A PENDING transaction that later POSTs keeps its id, so the loader's
  upsert replaces it.
"""

from __future__ import annotations

from shared.models import BankTransaction
from shared.normalize._common import Context, Node, load_json

_SIGNS = {"CREDIT": 1, "DEBIT": -1}


def bank_transactions(ctx: Context, payload: dict | str) -> list[BankTransaction]:
    page = ctx.node(load_json(ctx, payload) if isinstance(payload, str) else payload)
    if page.get("errors"):
        page.fail("errors", f"GraphQL errors: {page.get('errors')!r}")
    data = page.obj("data")
    holder = data.obj("account") if data.has("account") else data
    return [_transaction(ctx, node) for node in holder.connection("transactions")]


def _transaction(ctx: Context, n: Node) -> BankTransaction:
    txn_id, entry = n.text("id"), n.text("entryType")
    if entry not in _SIGNS:
        n.fail("entryType", f"expected CREDIT or DEBIT, got {entry!r}")
    amount = abs(n.decimal("amount")) * _SIGNS[entry]
    account = n.opt_obj("account")
    return ctx.make(
        BankTransaction,
        n.path,
        natural_key=txn_id,
        transaction_id=txn_id,
        bank_account_id=account.opt_text("id") if account else None,
        booked_at=n.day("date"),
        amount=ctx.money(n.at("amount"), amount, n.currency("currencyCode")),
        status=n.opt_text("status"),
        description=n.opt_text("description"),
    )
