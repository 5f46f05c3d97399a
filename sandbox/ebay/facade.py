"""The eBay sandbox as the world sees it: data per client, app, ground truth, payouts.

Ground truth (``ground_truth(client_id, resource)``) is exactly what the APIs show at
``world.clock.now()``, in eBay's own shapes, with these natural keys:

    orders        Order objects as getOrders returns them (created within the last two
                  years, ``order_history_days``), oldest first              orderId
    order_items   LineItem objects plus "orderId" (the enclosing order)      lineItemId
    transactions  Transaction objects as getTransactions returns them,
                  oldest first                                               transactionId
    payouts       Payout objects as getPayouts returns them, oldest first   payoutId
    inventory     InventoryItemWithSkuLocaleGroupid objects, by SKU          sku
    returns       the orders' paymentSummary.refunds entries (cancellations and returns)
                  plus "orderId"; eBay's Post-Order API is not simulated, so they are
                  crawled through getOrders                                  refundId

History is generated lazily per client on first use (``data``). ``payouts(client_id)``
lists every payout inside the generated horizon, past and future (``paid_at`` =
payoutDate), in USD, for Quiltt's matching deposits; each amount is exactly the sum of its
transactions' signed amounts. ``credentials(client_id)`` holds the application's client id
and secret (fake, from the scenario seed), the client's refresh token and scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.ebay.app import build_app
from sandbox.ebay.auth import USER_SCOPES, EbayOAuth
from sandbox.ebay.data import DAY, History, generate
from sandbox.ebay.finance import Ledger, build_ledger
from sandbox.ebay.formats import digest
from sandbox.ebay.inventory import Stock, build_stock
from sandbox.ebay.limits import Policy, Quotas
from sandbox.ebay.views import inventory_payload, order_payload, payout_payload, transaction_payload
from sandbox.platform import PayoutFact, quiet_after

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.scenario import ClientSpec
    from sandbox.world import World

RESOURCES = ("orders", "order_items", "transactions", "payouts", "inventory", "returns")


@dataclass
class ClientData:
    spec: ClientSpec
    seller_id: str
    history: History
    ledger: Ledger
    stock: dict[str, Stock]
    created: list[int]  # order creation times, for bisection
    txn_dates: list[int]
    payout_dates: list[int]


class EbaySandbox:
    name = "ebay"
    resources = RESOURCES

    def __init__(self, world: World) -> None:
        self.world = world
        scenario = world.scenario
        self.policy = Policy.with_overrides(world.limits("ebay"))
        self.quotas = Quotas(self.policy)
        clients = {c.client_id: c.seed for c in scenario.clients}
        self.oauth = EbayOAuth(scenario.seed, clients, self.policy.access_token_ttl_s)
        self._data: dict[str, ClientData] = {}
        self._app: ASGIApp | None = None

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
                f"seller_{digest('seller', seed, client_id, size=4)}",
                history,
                ledger,
                build_stock(seed, client_id, history),
                [o.created for o in history.orders],
                [t.date for t in ledger.transactions],
                [p.date for p in ledger.payouts],
            )
        return self._data[client_id]

    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        if resource not in RESOURCES:
            raise KeyError(f"eBay has no resource {resource!r}; expected one of {RESOURCES}")
        data, now = self.data(client_id), self.world.clock.now()
        oldest = now - self.policy.order_history_days * DAY
        orders = [o for o in data.history.orders if oldest <= o.created <= now]
        if resource == "orders":
            return [order_payload(o, now, data.seller_id) for o in orders]
        if resource == "order_items":
            return [
                {"orderId": o["orderId"], **line}
                for o in (order_payload(o, now, data.seller_id) for o in orders)
                for line in o["lineItems"]
            ]
        if resource == "returns":
            return [
                {"orderId": o["orderId"], **refund}
                for o in (order_payload(o, now, data.seller_id) for o in orders)
                for refund in o["paymentSummary"]["refunds"]
            ]
        if resource == "transactions":
            return [transaction_payload(t, now) for t in data.ledger.transactions if t.date <= now]
        if resource == "payouts":
            return [payout_payload(p, now) for p in data.ledger.payouts if p.date <= now]
        stock = [data.stock[sku] for sku in sorted(data.stock)]
        return [inventory_payload(s.sku, s.quantity(now)) for s in stock if s.sku.launched <= now]

    def credentials(self, client_id: str) -> dict[str, str]:
        spec = self.world.scenario.client(client_id)
        return {
            "client_id": self.oauth.app_id,
            "client_secret": self.oauth.cert_id,
            "refresh_token": self.oauth.refresh_token(client_id, spec.seed),
            "scope": " ".join(sorted(USER_SCOPES)),
        }

    def change_times(self, client_id: str) -> list[int]:
        """Every instant at which something the APIs show for the client changes."""
        data = self.data(client_id)
        times = {t for o in data.history.orders for t in o.events()}
        for txn in data.ledger.transactions:
            times |= {txn.date, txn.available}
        times |= {t for p in data.ledger.payouts for t in (p.date, p.succeeded)}
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
        """The first instant >= ``after`` with no change in [t - margin, t + duration]: a
        window in which a crawl sees a still world (tests compare it to the ground truth).
        ``times``: this client's ``change_times`` if the caller already has them.
        """
        times = self.change_times(client_id) if times is None else times
        return quiet_after(times, after, duration, margin)

    def payouts(self, client_id: str) -> list[PayoutFact]:
        data = self.data(client_id)
        return [
            PayoutFact(client_id, self.name, p.payout_id, float(p.date), p.amount, "USD")
            for p in data.ledger.payouts
        ]
