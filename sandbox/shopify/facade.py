"""The Shopify sandbox as the world sees it: data per shop, app, ground truth, payouts.

Each client has one shop, named by its account (``ClientSpec.account("shopify")``, e.g.
``shopify-c-tiny``; domain ``shopify-c-tiny.myshopify.com``).

Ground truth (``ground_truth(client_id, resource)``) is exactly what the API shows at
``world.clock.now()``, in the Admin GraphQL shapes (UTC ``Z`` times, GIDs, MoneyBags),
with these natural keys:

    orders        Order objects (every Order field of the schema, no lineItems/refunds),
                  oldest first                                                   id
    order_items   LineItem objects plus "orderId" (the order's GID)              id
    returns       Refund objects plus "orderId", refundLineItems as a list       id
    transactions  ShopifyPaymentsBalanceTransaction objects (CHARGE, REFUND and
                  PAYOUT), by transactionDate                                    id
    payouts       ShopifyPaymentsPayout objects, by issuedAt                     id
    inventory     InventoryLevel objects with quantities (available, committed,
                  incoming, on_hand, reserved), location{id, …} and item{id, sku}  id

History is generated lazily per client on first use. ``payouts(client_id)`` lists every
payout issued inside the generated horizon, past and future (``paid_at`` = issuedAt), in
USD; each amount is exactly the sum of its CHARGE and REFUND transactions' ``net``.
Accounting: calls per endpoint (``GET /admin/api/{version}/orders.json``, ``POST
/admin/api/{version}/graphql.json``, ``POST /admin/oauth/access_token``, ``GET
bulk-results``, ``unknown``); ``throttled`` counts REST 429s and GraphQL THROTTLED answers
(served at HTTP 200 by default) under their endpoint.

``credentials(client_id)`` holds the shop, the app's client id and secret (fake, from the
scenario seed), the shop's current access token, its refresh token and an API version.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.platform import PayoutFact, quiet_after
from sandbox.shopify import views
from sandbox.shopify.app import build_app
from sandbox.shopify.auth import ShopifyAuth
from sandbox.shopify.bulk import BulkOperations
from sandbox.shopify.data import History, Order, generate
from sandbox.shopify.graphql_api import Root
from sandbox.shopify.limits import Policy, ShopLimits
from sandbox.shopify.payments import Payments, build_payments
from sandbox.shopify.stock import Level, build_stock

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from sandbox.scenario import ClientSpec
    from sandbox.world import World

RESOURCES = ("orders", "order_items", "transactions", "payouts", "returns", "inventory")
API_VERSION = "2025-10"


@dataclass
class ClientData:
    spec: ClientSpec
    shop_id: int
    history: History
    payments: Payments
    levels: list[Level]
    horizon_s: float | None = None  # only orders this young are visible (no read_all_orders)
    created: list[int] = field(default_factory=list)
    by_id: dict[int, Order] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.created = [o.created for o in self.history.orders]
        self.by_id = {o.order_id: o for o in self.history.orders}
        self._items = {v.inventory_item_id: v for v in self.history.variants}

    def orders_at(self, t: float) -> list[Order]:
        end = bisect.bisect_right(self.created, t)
        start = (
            0 if self.horizon_s is None else bisect.bisect_left(self.created, t - self.horizon_s)
        )
        return self.history.orders[start:end]

    def order_by_gid(self, gid: str, t: float) -> Order | None:
        number = gid.removeprefix("gid://shopify/Order/")
        order = self.by_id.get(int(number)) if number.isdigit() else None
        if order is None or order.created > t:
            return None
        return order if self.horizon_s is None or order.created >= t - self.horizon_s else None

    def balance_at(self, t: float) -> int:
        return sum(x.net for x in self.payments.visible(t))

    def location_index(self, location: str | int) -> int | None:
        text = str(location).rsplit("/", 1)[-1]
        index = int(text) - 71_000_000_000 if text.isdigit() else -1
        return index if index in (0, 1) else None

    def variant_by_item(self, item: str | int) -> Any:
        text = str(item).rsplit("/", 1)[-1]
        return self._items.get(int(text)) if text.isdigit() else None

    def levels_of_item(self, item_id: int) -> list[Level]:
        return [lv for lv in self.levels if lv.variant.inventory_item_id == item_id]

    def levels_at_location(self, location: int) -> list[Level]:
        return [lv for lv in self.levels if lv.location == location]


class ShopifySandbox:
    name = "shopify"
    resources = RESOURCES

    def __init__(self, world: World) -> None:
        self.world = world
        scenario = world.scenario
        self.policy = Policy.with_overrides(world.limits("shopify"))
        self.limits = ShopLimits(self.policy)
        self.auth = ShopifyAuth(scenario.seed, self.policy.access_token_ttl_s)
        self._shops: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        for spec in scenario.clients:
            if spec.volume.get(self.name, 0) <= 0:
                continue
            shop = spec.account(self.name)
            self._shops[shop] = spec.client_id
            self._tokens[spec.client_id] = self.auth.register(shop, scenario.now)
        self._issued_at = scenario.now
        self.bulk = BulkOperations(
            self.policy, scenario.seed, self._bulk_root, self.limits.bulk_concurrency
        )
        self._data: dict[str, ClientData] = {}
        self._app: ASGIApp | None = None

    # --- lookups -----------------------------------------------------------------------
    def has_shop(self, shop: str) -> bool:
        return shop in self._shops

    def client_of_shop(self, shop: str) -> str:
        return self._shops[shop]

    def shop_of(self, client_id: str) -> str:
        return self.world.scenario.client(client_id).account(self.name)

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
            payments = build_payments(seed, client_id, history)
            shop_id = 60_000_000_000 + spec.seed % 1_000_000_000
            horizon = None if self.policy.read_all_orders else self.policy.orders_horizon_s
            stock = build_stock(history, 90_000_000_000)
            self._data[client_id] = ClientData(spec, shop_id, history, payments, stock, horizon)
        return self._data[client_id]

    def root(self, shop: str, now: float, version: str, roll: Any) -> Root:
        data = self.data(self.client_of_shop(shop))
        return Root(
            data, shop, now, self.policy.max_page_size, roll, bulk_ops=self.bulk, version=version
        )

    def _bulk_root(self, shop: str, now: float) -> Root:
        data = self.data(self.client_of_shop(shop))
        return Root(data, shop, now, self.policy.max_page_size, lambda *_: False, bulk=True)

    def touch(self, client_id: str, now: float, u: float) -> None:
        """The ``updated_during_sync`` fault: one visible order (chosen by ``u``) changes now."""
        orders = self.data(client_id).orders_at(now)
        if orders:
            orders[min(len(orders) - 1, int(u * len(orders)))].touch(int(now))

    def app(self) -> ASGIApp:
        if self._app is None:
            self._app = build_app(self)
        return self._app

    # --- the world's interface ----------------------------------------------------------
    def ground_truth(self, client_id: str, resource: str) -> list[dict[str, Any]]:
        if resource not in RESOURCES:
            raise KeyError(f"Shopify has no resource {resource!r}; expected one of {RESOURCES}")
        data, now = self.data(client_id), self.world.clock.now()
        orders = data.orders_at(now)
        if resource == "orders":
            return [views.order_node(o, now) for o in orders]
        if resource == "order_items":
            return [
                {**views.line_node(o, line, now), "orderId": views.gid("Order", o.order_id)}
                for o in orders
                for line in o.lines
            ]
        if resource == "returns":
            return [
                {**views.refund_node(o, r), "orderId": views.gid("Order", o.order_id)}
                for o in orders
                for r in views.refunds_at(o, now)
            ]
        if resource == "transactions":
            return [views.balance_node(t, now) for t in data.payments.visible(now)]
        if resource == "payouts":
            return [views.payout_node(p, now) for p in data.payments.payouts if p.issued <= now]
        levels = sorted(data.levels, key=lambda lv: lv.level_id)
        return [node for lv in levels if (node := views.level_node(lv, now)) is not None]

    def credentials(self, client_id: str) -> dict[str, str]:
        shop = self.shop_of(client_id)
        access, refresh = self._tokens[client_id]
        creds = {
            "shop": shop,
            "shop_domain": f"{shop}.myshopify.com",
            "client_id": self.auth.client_id,
            "client_secret": self.auth.client_secret,
            "access_token": access,
            "refresh_token": refresh,
            "api_version": API_VERSION,
        }
        # The OAuth answer that issued the token said ``expires_in``; an app stores it.
        if self.auth.ttl_s > 0:
            creds["expires_at"] = repr(float(self._issued_at + self.auth.ttl_s))
        return creds

    def payouts(self, client_id: str) -> list[PayoutFact]:
        return [
            PayoutFact(
                client_id,
                self.name,
                views.gid("ShopifyPaymentsPayout", p.payout_id),
                float(p.issued),
                Decimal(p.net) / 100,
                "USD",
            )
            for p in self.data(client_id).payments.payouts
        ]

    def change_times(self, client_id: str) -> list[int]:
        """Every instant at which something the API shows for the client changes."""
        data = self.data(client_id)
        times = {t for o in data.history.orders for t in o.events()}
        times |= {t.at for t in data.payments.transactions}
        times |= {p.issued + 86_400 for p in data.payments.payouts}
        times |= {t for lv in data.levels for t in lv.times}
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
