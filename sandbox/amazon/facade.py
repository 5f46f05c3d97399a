"""The Amazon sandbox as the world sees it: data per client, app, ground truth, payouts.

Ground truth (``ground_truth(client_id, resource)``) is exactly what the API shows at
``world.clock.now()``, in Amazon's own shapes, with these natural keys:

    orders        Order objects as getOrders returns them            AmazonOrderId
    order_items   OrderItem objects plus "AmazonOrderId" (taken from the enclosing
                  OrderItemsList)                                   OrderItemId
    transactions  financial event payloads plus "EventList" (the FinancialEvents list they
                  appear in) and "FinancialEventGroupId" (the group listing them)
                                                                    finance.natural_key
    payouts       FinancialEventGroup objects (open and closed)     FinancialEventGroupId
    returns       returns-report rows (column -> text)              Amazon RMA ID
    inventory     InventorySummary objects with details=true        sellerSku

Orders are in purchase order, transactions in posting order, payouts by group start,
returns by request date, inventory by SKU. Records younger than two minutes are in the
ground truth although the 2-minute rule keeps every query from returning them yet: compare
crawls in a quiet stretch of the timeline (``quiet_time``) or after a pause.

History is generated lazily per client on first use. ``payouts(client_id)`` lists every
group that closes inside the generated horizon with a non-zero total, past and future
(``paid_at`` = FundTransferDate tells them apart), in USD, for Quiltt's matching deposits.
``credentials(client_id)`` holds the app's LWA client id and secret (fake, from the
scenario seed), the client's refresh token, selling partner id and marketplace ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.amazon.app import build_app
from sandbox.amazon.auth import Lwa
from sandbox.amazon.data import History, generate
from sandbox.amazon.finance import Ledger, build_ledger
from sandbox.amazon.formats import MARKETPLACES
from sandbox.amazon.inventory import Stock, build_stock
from sandbox.amazon.limits import RateLimiter, plans_with
from sandbox.amazon.reports import ReportStore
from sandbox.amazon.view import order_items, order_payload, return_row
from sandbox.platform import PayoutFact, quiet_after

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.scenario import ClientSpec
    from sandbox.world import World

RESOURCES = ("orders", "order_items", "transactions", "payouts", "returns", "inventory")


@dataclass
class ClientData:
    spec: ClientSpec
    history: History
    ledger: Ledger
    stock: dict[str, Stock]


class AmazonSandbox:
    name = "amazon"
    resources = RESOURCES

    def __init__(self, world: World) -> None:
        self.world = world
        scenario = world.scenario
        self.limiter = RateLimiter(plans_with(world.limits("amazon")))
        self.lwa = Lwa(scenario.seed, {c.client_id: c.seed for c in scenario.clients}, world.faults)
        secret = hashlib.blake2b(repr(("s3", scenario.seed)).encode()).hexdigest()
        self.reports = ReportStore(secret)
        self._data: dict[str, ClientData] = {}
        self._app: ASGIApp | None = None

    def account(self, client_id: str) -> str:
        return self.world.scenario.client(client_id).account(self.name)

    def data(self, client_id: str) -> ClientData:
        if client_id not in self._data:
            spec = self.world.scenario.client(client_id)
            history = generate(
                self.world.scenario.seed,
                spec.client_id,
                spec.seed,
                spec.history_start,
                spec.history_end,
                spec.volume.get(self.name, 0.0),
            )
            ledger = build_ledger(self.world.scenario.seed, history)
            stock = build_stock(self.world.scenario.seed, history)
            self._data[client_id] = ClientData(spec, history, ledger, stock)
        return self._data[client_id]

    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        if resource not in RESOURCES:
            raise KeyError(f"Amazon has no resource {resource!r}; expected one of {RESOURCES}")
        data, now = self.data(client_id), self.world.clock.now()
        orders = [(o, o.version_at(now)) for o in data.history.orders if o.purchased <= now]
        if resource == "orders":
            return [order_payload(o, v) for o, v in orders]
        if resource == "order_items":
            return [
                {"AmazonOrderId": o.order_id, **item}
                for o, v in orders
                for item in order_items(o, v)
            ]
        if resource == "transactions":
            return [
                {"FinancialEventGroupId": e.group_id, "EventList": e.list_name, **e.payload}
                for e in data.ledger.events
                if e.posted <= now
            ]
        if resource == "payouts":
            return [g.payload(now) for g in data.ledger.groups if g.start <= now]
        if resource == "returns":
            return [return_row(r, now) for r in data.history.returns if r.requested <= now]
        stocks = sorted(data.stock.values(), key=lambda s: s.sku.sku)
        return [s.summary(now, details=True) for s in stocks if s.sku.launched <= now]

    def credentials(self, client_id: str) -> dict[str, str]:
        spec = self.world.scenario.client(client_id)
        digest = hashlib.blake2b(repr(("seller", spec.seed, client_id)).encode()).hexdigest()
        seller = "A" + "".join(c for c in digest.upper() if c.isalnum())[:13]
        return {
            "client_id": self.lwa.client_id,
            "client_secret": self.lwa.client_secret,
            "refresh_token": self.lwa.refresh_token(client_id, spec.seed),
            "selling_partner_id": seller,
            "marketplace_ids": ",".join(MARKETPLACES),
        }

    def payouts(self, client_id: str) -> list[PayoutFact]:
        data = self.data(client_id)
        return [
            PayoutFact(client_id, self.name, g.group_id, float(g.transfer), g.converted(), "USD")
            for g in data.ledger.groups
            if g.end <= data.history.horizon and g.converted() != 0
        ]

    def change_times(self, client_id: str) -> list[int]:
        """Every instant at which something the API shows for the client changes."""
        data = self.data(client_id)
        times = {v.at for o in data.history.orders for v in o.versions}
        times |= {e.posted for e in data.ledger.events}
        times |= {t for g in data.ledger.groups for t in (g.start, g.end, g.transfer)}
        for r in data.history.returns:
            times |= {t for t in (r.requested, r.received, r.refunded) if t is not None}
        times |= {t for s in data.stock.values() for t in (*s.times, s.sku.launched)}
        return sorted(times)

    def quiet_time(
        self,
        client_id: str,
        after: float,
        duration: float,
        margin: float = 300.0,
        times: list[int] | None = None,
    ) -> float:
        """The first instant >= ``after`` with no change in [t - margin, t + duration]:
        a window in which a crawl sees a still world (tests compare it to the ground truth).
        ``times``: this client's ``change_times`` if the caller already has them.
        """
        times = self.change_times(client_id) if times is None else times
        return quiet_after(times, after, duration, margin)
