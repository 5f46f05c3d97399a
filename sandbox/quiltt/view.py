"""What Quiltt shows of a client's bank data at an instant ``now`` (epoch seconds, UTC).

A transaction is visible once ``created <= now``; its status is PENDING until ``posted``
and POSTED from then on. Accounts are visible from the day they were opened. Balances come
from the connection's daily sync at 06:00 UTC: the balance shown at ``now`` is the one of
the last sync at or before ``now`` (opening balance plus every transaction POSTED by then),
so a transaction that posted after the sync is listed but not yet in the balance.

Records are in Quiltt's GraphQL shape. Ground-truth natural keys: ``id`` (``txn_…`` for
``bank_transactions``, ``acct_…`` for ``accounts``). Transaction order (``DATE_ASC``) is
``(date, time it appeared, id)``; ``DATE_DESC`` is the reverse.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from sandbox.quiltt.data import DAY, HOUR, Account, BankData, Txn, iso_date, money

INSTITUTION = {"name": "Harbor Commerce Bank"}
SYNC_OFFSET = 6 * HOUR


def last_sync(now: float) -> float:
    """The last daily balance sync (06:00 UTC) at or before ``now``."""
    return math.floor((now - SYNC_OFFSET) / DAY) * DAY + SYNC_OFFSET


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(math.floor(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BankView:
    """Read access to one client's ``BankData`` at any instant."""

    def __init__(self, data: BankData) -> None:
        self.data = data
        self._accounts = {a.id: a for a in data.accounts}
        self._by_id = {t.id: t for t in data.txns}
        self._created = sorted(t.created for t in data.txns)
        self._posted: dict[str, tuple[list[float], list[int]]] = {}
        for account in data.accounts:
            moves = sorted(
                (t.posted, t.signed_cents) for t in data.txns if t.account_id == account.id
            )
            times = [m[0] for m in moves]
            self._posted[account.id] = (times, list(accumulate(m[1] for m in moves)))

    def accounts(self, now: float) -> list[Account]:
        return [a for a in self.data.accounts if a.opened <= now]

    def account(self, account_id: str, now: float) -> Account | None:
        account = self._accounts.get(account_id)
        return account if account is not None and account.opened <= now else None

    def transactions(self, now: float) -> list[Txn]:
        """Visible transactions in ``DATE_ASC`` order."""
        return [t for t in self.data.txns if t.created <= now]

    def transaction(self, txn_id: str, now: float) -> Txn | None:
        txn = self._by_id.get(txn_id)
        return txn if txn is not None and txn.created <= now else None

    def visible_count(self, now: float) -> int:
        return bisect.bisect_right(self._created, now)

    def balance_cents(self, account: Account, at: float) -> int:
        times, sums = self._posted[account.id]
        i = bisect.bisect_right(times, at)
        return account.opening_cents + (sums[i - 1] if i else 0)

    def transaction_record(self, txn: Txn, now: float) -> dict[str, Any]:
        account = self._accounts[txn.account_id]
        return {
            "id": txn.id,
            "date": txn.date,
            "description": txn.description,
            "amount": money(txn.cents),
            "entryType": txn.entry_type,
            "status": "POSTED" if now >= txn.posted else "PENDING",
            "currencyCode": txn.currency,
            "metadata": None,
            "account": {"id": account.id, "name": account.name},
        }

    def balance_record(self, account: Account, now: float) -> dict[str, Any]:
        at = max(last_sync(now), account.opened)
        current = self.balance_cents(account, at)
        limit = account.limit_cents
        digest = hashlib.blake2b(f"{account.id}|{at}".encode(), digest_size=10).hexdigest()
        return {
            "id": f"bal_{digest}",
            "at": iso_time(at),
            "source": "SYNC",
            "current": money(current),
            "available": money(current + limit if limit is not None else current),
            "limit": -money(limit) if limit is not None else None,
        }

    def account_record(self, account: Account, now: float) -> dict[str, Any]:
        return {
            "id": account.id,
            "name": account.name,
            "type": account.type,
            "kind": account.kind,
            "mask": account.mask,
            "currencyCode": account.currency,
            "verified": account.kind == "DEPOSITORY",
            "metadata": None,
            "institution": dict(INSTITUTION),
            "connection": {"id": self.data.connection_id, "provider": "MX", "status": "SYNCED"},
            "balance": self.balance_record(account, now),
        }


def txn_day(text: str) -> int:
    """A ``YYYY-MM-DD`` date as days since the epoch (ValueError if malformed)."""
    parsed = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if iso_date(int(parsed.timestamp() // DAY)) != text:
        raise ValueError(text)
    return int(parsed.timestamp() // DAY)
