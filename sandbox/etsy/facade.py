"""The Etsy sandbox as the world sees it: data per client, app, ground truth, payouts.

Ground truth (``ground_truth(client_id, resource)``) is exactly what the API shows at
``world.clock.now()``, in Etsy's own shapes, with these natural keys:

    orders        ShopReceipt objects, oldest first                          receipt_id
    order_items   ShopReceiptTransaction objects                             transaction_id
    transactions  PaymentAccountLedgerEntry objects (every ledger entry,
                  payouts included), by sequence                             entry_id
    payouts       the ledger entries with ledger_type DISBURSE2 (see ledger.py)  entry_id
    payments      Payment objects, one per receipt                           payment_id
    returns       the payments' payment_adjustments (cancellations and returns)
                  plus "receipt_id"                                          payment_adjustment_id
    inventory     ListingInventory objects plus "listing_id", for every listing
                  created by now                                             listing_id

History is generated lazily per client on first use (``data``); the shop and user ids are
known without it. ``payouts(client_id)`` lists every DISBURSE2 inside the generated
horizon, past and future (``paid_at`` = its create_date), in USD; each amount is exactly
the sum of the ledger entries since the previous payout. ``credentials(client_id)`` holds
the application's keystring and shared secret (fake, from the scenario seed), the
client's refresh token, user id and shop id.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.etsy.app import build_app
from sandbox.etsy.auth import EtsyAuth
from sandbox.etsy.data import History, Receipt, account_ids, generate
from sandbox.etsy.ledger import Entry, Ledger, build_ledger
from sandbox.etsy.limits import Limits, Policy
from sandbox.etsy.stock import Stock, build_stock
from sandbox.etsy.views import (
    inventory_payload,
    ledger_payload,
    payment_payload,
    receipt_payload,
    transaction_payload,
)
from sandbox.platform import PayoutFact, quiet_after

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.scenario import ClientSpec
    from sandbox.world import World

RESOURCES = (
    "orders",
    "order_items",
    "transactions",
    "payouts",
    "payments",
    "returns",
    "inventory",
)


@dataclass
class ClientData:
    spec: ClientSpec
    history: History
    ledger: Ledger
    stock: dict[int, Stock]
    created: list[int]  # receipt creation times, for bisection
    entry_times: list[int]
    # every (receipt, line), newest first (created, transaction_id descending), and the
    # negated creation times in that order, for bisection; built on first use
    lines_desc: list[tuple[Receipt, Any]] | None = None
    lines_desc_keys: list[int] | None = None


class EtsySandbox:
    name = "etsy"
    resources = RESOURCES

    def __init__(self, world: World) -> None:
        self.world = world
        scenario = world.scenario
        self.policy = Policy.with_overrides(world.limits("etsy"))
        self.limits = Limits(self.policy)
        self.auth = EtsyAuth(scenario.seed, self.policy.access_token_ttl_s)
        self.application_id = int(self.auth.keystring[:8], 16) % 10_000_000 + 1
        self._accounts: dict[str, tuple[int, int]] = {}
        self._refresh: dict[str, str] = {}
        for spec in scenario.clients:
            shop_id, user_id = account_ids(scenario.seed, spec.client_id, spec.seed)
            self._accounts[spec.client_id] = (shop_id, user_id)
            self._refresh[spec.client_id] = self.auth.register(user_id, spec.seed)
        self._by_user = {user: c for c, (_, user) in self._accounts.items()}
        self._by_shop = {str(shop): c for c, (shop, _) in self._accounts.items()}
        self._data: dict[str, ClientData] = {}
        self._app: ASGIApp | None = None

    def client_of_user(self, user_id: int) -> str:
        return self._by_user[user_id]

    def client_of_shop(self, shop_id: str) -> str | None:
        return self._by_shop.get(shop_id)

    def data(self, client_id: str) -> ClientData:
        if client_id not in self._data:
            spec = self.world.scenario.client(client_id)
            seed = self.world.scenario.seed
            history = generate(
                seed,
                client_id,
                spec.seed,
                spec.history_start,
                spec.history_end,
                spec.volume.get(self.name, 0.0),
            )
            ledger = build_ledger(seed, client_id, history)
            self._data[client_id] = ClientData(
                spec,
                history,
                ledger,
                build_stock(seed, client_id, history),
                [r.created for r in history.receipts],
                [e.at for e in ledger.entries],
            )
        return self._data[client_id]

    @staticmethod
    def visible_receipts(data: ClientData, now: float) -> list[Receipt]:
        return data.history.receipts[: bisect.bisect_right(data.created, now)]

    @staticmethod
    def receipts_created(
        data: ClientData, now: float, low: float | None, high: float | None
    ) -> list[Receipt]:
        """The receipts visible at ``now`` created in ``[low, high]`` (either bound may be
        None), in history order (bisection over the creation times, which ascend)."""
        visible = bisect.bisect_right(data.created, now)
        start = 0 if low is None else bisect.bisect_left(data.created, low, 0, visible)
        end = visible if high is None else bisect.bisect_right(data.created, high, start, visible)
        return data.history.receipts[start:end]

    @staticmethod
    def visible_lines_newest_first(data: ClientData, now: float) -> list[tuple[Receipt, Any]]:
        """Every (receipt, line) of the receipts visible at ``now``, newest first
        (create time, then transaction id, descending): one sort per client, not one per
        request (lines never change once a receipt exists)."""
        if data.lines_desc is None or data.lines_desc_keys is None:
            pairs = [(r, line) for r in data.history.receipts for line in r.lines]
            pairs.sort(key=lambda pair: (pair[0].created, pair[1].transaction_id), reverse=True)
            data.lines_desc = pairs
            data.lines_desc_keys = [-r.created for r, _ in pairs]
        return data.lines_desc[bisect.bisect_left(data.lines_desc_keys, -now) :]

    @staticmethod
    def visible_entries(data: ClientData, now: float) -> list[Entry]:
        return data.ledger.entries[: bisect.bisect_right(data.entry_times, now)]

    @staticmethod
    def entries_between(data: ClientData, now: float, low: float, high: float) -> list[Entry]:
        """The ledger entries visible at ``now`` with ``low <= at <= high``, in ledger
        order (bisection over the entry times, which ascend)."""
        times = data.entry_times
        visible = bisect.bisect_right(times, now)
        start = bisect.bisect_left(times, low, 0, visible)
        return data.ledger.entries[start : bisect.bisect_right(times, high, start, visible)]

    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        if resource not in RESOURCES:
            raise KeyError(f"Etsy has no resource {resource!r}; expected one of {RESOURCES}")
        data, now = self.data(client_id), self.world.clock.now()
        shop, user = data.history.shop_id, data.history.user_id
        receipts = self.visible_receipts(data, now)
        if resource == "orders":
            return [receipt_payload(r, now, user) for r in receipts]
        if resource == "order_items":
            return [transaction_payload(r, line, now, user) for r in receipts for line in r.lines]
        if resource in ("payments", "returns"):
            payments = [payment_payload(r, now, shop, user) for r in receipts]
            if resource == "payments":
                return payments
            return [
                {"receipt_id": p["receipt_id"], **adjustment}
                for p in payments
                for adjustment in p["payment_adjustments"]
            ]
        entries = self.visible_entries(data, now)
        if resource == "transactions":
            return [ledger_payload(e, data.ledger.ledger_id) for e in entries]
        if resource == "payouts":
            return [ledger_payload(e, data.ledger.ledger_id) for e in entries if e.is_payout]
        stocks = sorted(
            data.stock.values(), key=lambda s: (s.listing.created, s.listing.listing_id)
        )
        return [
            {"listing_id": s.listing.listing_id, **inventory_payload(s.listing, s.quantity(now))}
            for s in stocks
            if s.listing.created <= now
        ]

    def credentials(self, client_id: str) -> dict[str, str]:
        shop_id, user_id = self._accounts[client_id]
        return {
            "keystring": self.auth.keystring,
            "shared_secret": self.auth.shared_secret,
            "refresh_token": self._refresh[client_id],
            "user_id": str(user_id),
            "shop_id": str(shop_id),
        }

    def payouts(self, client_id: str) -> list[PayoutFact]:
        ledger = self.data(client_id).ledger
        return [
            PayoutFact(
                client_id, self.name, str(e.entry_id), float(e.at), Decimal(-e.amount) / 100, "USD"
            )
            for e in ledger.payouts
        ]

    def change_times(self, client_id: str) -> list[int]:
        """Every instant at which something the API shows for the client changes."""
        data = self.data(client_id)
        times = {t for r in data.history.receipts for t in r.events()}
        times |= set(data.entry_times)
        times |= {t for s in data.stock.values() for t in s.times}
        return sorted(times)

    def quiet_time(
        self,
        client_id: str,
        after: float,
        duration: float,
        margin: float = 60.0,
        times: list[int] | None = None,
    ) -> float:
        """The first instant >= ``after`` with no change in [t - margin, t + duration].
        ``times``: this client's ``change_times`` if the caller already has them.
        """
        times = self.change_times(client_id) if times is None else times
        return quiet_after(times, after, duration, margin)
