"""Quiltt sandbox: a client's bank accounts and transactions behind Quiltt's GraphQL API.

``build(world)`` returns a ``QuilttSandbox``. Its deposits mirror the marketplaces' payouts
(``world.payouts(client_id)``), so the world builds Quiltt last; each client's data is
generated lazily, on first use.

Ground truth (``ground_truth(client_id, resource)``), as visible at ``world.clock.now()``
and in Quiltt's GraphQL shape:

    bank_transactions   natural key ``id`` ("txn_…"); fields id, date, description, amount,
                        entryType, status, currencyCode, metadata, account{id, name};
                        ordered DATE_ASC
    accounts            natural key ``id`` ("acct_…"); fields id, name, type, kind, mask,
                        currencyCode, verified, metadata, institution{name},
                        connection{id, provider, status}, balance{id, at, source, current,
                        available, limit}

``reconciliation(client_id)`` lists every payout paid by now with its planned fate at the
bank (see ``data.py``) and the deposits visible so far.

Settings in ``world.limits('quiltt')``: any ``QuilttLimits`` field (``session_rps``,
``other_rps``, ``window``, ``sessions_per_hour``, ``sessions_per_day``, ``session_ttl``,
``page_cap``) and ``mismatch_share`` (share of payouts whose deposit goes wrong, 0.03).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.quiltt.auth import Auth
from sandbox.quiltt.data import generate, money, profile_id
from sandbox.quiltt.limits import QuilttLimits, RequestWindows
from sandbox.quiltt.view import BankView

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from sandbox.platform import PayoutFact
    from sandbox.world import World

RESOURCES = ("bank_transactions", "accounts")


class QuilttSandbox:
    name = "quiltt"
    resources = RESOURCES

    def __init__(self, world: World) -> None:
        self.world = world
        settings = world.limits("quiltt")
        self.limits = QuilttLimits.with_overrides(settings)
        self.mismatch_share = float(settings.get("mismatch_share", 0.03))
        seed = world.scenario.seed
        profiles = {
            profile_id(seed, spec.client_id): spec.client_id for spec in world.scenario.clients
        }
        self.auth = Auth(seed, profiles, self.limits, world.faults, world.accounting)
        self.windows = {
            "session": RequestWindows(self.limits.session_rps, self.limits.window),
            "other": RequestWindows(self.limits.other_rps, self.limits.window),
        }
        self._views: dict[str, BankView] = {}
        self._app: Starlette | None = None

    def view(self, client_id: str) -> BankView:
        if client_id not in self._views:
            spec = self.world.scenario.client(client_id)
            data = generate(
                self.world.scenario.seed, spec, self.world.payouts(client_id), self.mismatch_share
            )
            self._views[client_id] = BankView(data)
        return self._views[client_id]

    def app(self) -> Starlette:
        if self._app is None:
            from sandbox.quiltt.app import build_app

            self._app = build_app(self)
        return self._app

    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        view, now = self.view(client_id), self.world.clock.now()
        if resource == "bank_transactions":
            return [view.transaction_record(t, now) for t in view.transactions(now)]
        if resource == "accounts":
            return [view.account_record(a, now) for a in view.accounts(now)]
        raise KeyError(f"quiltt has no resource {resource!r}; expected one of {RESOURCES}")

    def credentials(self, client_id: str) -> dict[str, str]:
        """The client's Profile id and the environment's API secret key."""
        self.world.scenario.client(client_id)  # KeyError for unknown clients
        return {
            "profile_id": profile_id(self.world.scenario.seed, client_id),
            "api_secret_key": self.auth.api_secret_key,
        }

    def payouts(self, client_id: str) -> list[PayoutFact]:
        return []

    def reconciliation(self, client_id: str) -> list[dict[str, Any]]:
        """Each payout paid by now: its planned outcome and the deposits visible now."""
        view, now = self.view(client_id), self.world.clock.now()
        rows = []
        for match in view.data.matches:
            fact = match.payout
            if fact.paid_at > now:
                continue
            seen = [t for t in match.deposits if t.created <= now]
            rows.append(
                {
                    "platform": fact.platform,
                    "payout_id": fact.payout_id,
                    "paid_at": fact.paid_at,
                    "amount": str(fact.amount),
                    "currency": fact.currency,
                    "outcome": match.outcome,
                    "deposit_ids": [t.id for t in seen],
                    "deposit_amounts": [money(t.signed_cents) for t in seen],
                    "settled": len(seen) == len(match.deposits),
                }
            )
        return rows


def build(world: World) -> QuilttSandbox:
    return QuilttSandbox(world)
