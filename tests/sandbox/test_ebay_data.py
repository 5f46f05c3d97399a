"""The eBay history: deterministic, internally consistent money, a live timeline."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sandbox.clock import ManualClock
from sandbox.ebay.data import DAY, flash_sale_size, generate
from sandbox.ebay.finance import build_ledger
from sandbox.ebay.formats import parse_iso
from sandbox.scenario import load
from sandbox.world import World

CLIENT = "c-tiny"


def _world(name: str = "tiny") -> World:
    scenario = load(name)
    return World(scenario, clock=ManualClock(scenario.now), platforms=("ebay",))


def test_same_scenario_same_history_other_client_other_history() -> None:
    a, b = _world().platforms["ebay"], _world().platforms["ebay"]
    for resource in a.resources:
        assert a.ground_truth(CLIENT, resource) == b.ground_truth(CLIENT, resource)
    spec = load("tiny").client(CLIENT)
    args = (spec.history_start, spec.history_end, 2.0)
    first = generate(7, CLIENT, spec.seed, *args)
    other = generate(7, CLIENT, spec.seed + 1, *args)
    assert [o.order_id for o in first.orders] != [o.order_id for o in other.orders]


def test_order_money_adds_up_and_sales_match_orders() -> None:
    sandbox = _world().platforms["ebay"]
    orders = {o["orderId"]: o for o in sandbox.ground_truth(CLIENT, "orders")}
    for order in orders.values():
        summary = order["pricingSummary"]
        parts = ("priceSubtotal", "deliveryCost", "tax")
        assert sum(Decimal(summary[p]["value"]) for p in parts) == Decimal(
            summary["total"]["value"]
        )
        lines = sum(Decimal(li["total"]["value"]) for li in order["lineItems"])
        assert lines == Decimal(summary["total"]["value"])
    sales = [
        t for t in sandbox.ground_truth(CLIENT, "transactions") if t["transactionType"] == "SALE"
    ]
    assert {t["orderId"] for t in sales} == set(orders)
    for sale in sales:
        order = orders[sale["orderId"]]
        due = Decimal(order["paymentSummary"]["totalDueSeller"]["value"])
        fee = Decimal(order["totalMarketplaceFee"]["value"])
        assert Decimal(sale["amount"]["value"]) == due - fee
        assert sale["totalFeeAmount"] == order["totalMarketplaceFee"]


def test_every_payout_is_exactly_the_sum_of_its_transactions() -> None:
    sandbox = _world().platforms["ebay"]
    ledger = sandbox.data(CLIENT).ledger
    paid = Counter(t.transaction_id for p in ledger.payouts for t in p.transactions)
    assert paid and max(paid.values()) == 1
    for payout in ledger.payouts:
        assert payout.amount > 0
        signed = sum(
            (t.amount if t.booking == "CREDIT" else -t.amount for t in payout.transactions),
            Decimal(0),
        )
        assert payout.amount == signed
        assert all(t.available <= payout.date for t in payout.transactions)
    facts = sandbox.payouts(CLIENT)
    assert [f.payout_id for f in facts] == [p.payout_id for p in ledger.payouts]
    assert all(f.currency == "USD" and f.platform == "ebay" for f in facts)


def test_stock_never_negative_and_moves_with_sales() -> None:
    sandbox = _world().platforms["ebay"]
    stock = sandbox.data(CLIENT).stock
    assert all(level >= 0 for s in stock.values() for level in s.levels)
    assert any(len(s.times) > 3 for s in stock.values())


def test_flash_sale_is_800_orders_in_20_minutes_at_reference_volume() -> None:
    assert flash_sale_size(7, 730) == 800
    assert flash_sale_size(2, 60) == round(800 * 2 / 7 * 60 / 730)
    history = _world().platforms["ebay"].data(CLIENT).history
    created = sorted(o.created for o in history.orders)
    n = flash_sale_size(2, 60)
    densest = min(created[i + n - 1] - created[i] for i in range(len(created) - n + 1))
    assert densest < 1200


def test_world_is_live_future_activity_appears_as_the_clock_moves() -> None:
    world = _world()
    sandbox = world.platforms["ebay"]
    before = {r: len(sandbox.ground_truth(CLIENT, r)) for r in sandbox.resources}
    world.clock.advance(10 * DAY)
    after = {r: len(sandbox.ground_truth(CLIENT, r)) for r in sandbox.resources}
    for resource in ("orders", "order_items", "transactions", "payouts"):
        assert after[resource] > before[resource], resource
    now = world.clock.now()
    orders = sandbox.ground_truth(CLIENT, "orders")
    assert all(parse_iso(o["lastModifiedDate"]) <= now for o in orders)
    assert any(o["orderFulfillmentStatus"] == "NOT_STARTED" for o in orders)
    assert any(o["orderPaymentStatus"] != "PAID" for o in orders)
    statuses = Counter(t["transactionStatus"] for t in sandbox.ground_truth(CLIENT, "transactions"))
    assert statuses["PAYOUT"] and statuses["FUNDS_PROCESSING"]


def test_reference_is_about_20000_records() -> None:
    spec = load("reference").client("c-ref")
    history = generate(42, "c-ref", spec.seed, spec.history_start, spec.history_end, 7.0)
    ledger = build_ledger(42, "c-ref", history)
    now = spec.history_end
    orders = [o for o in history.orders if o.created <= now]
    records = (
        len(orders)
        + sum(len(o.lines) for o in orders)
        + sum(1 for t in ledger.transactions if t.date <= now)
        + sum(1 for p in ledger.payouts if p.date <= now)
        + len(history.skus)
    )
    assert 18_000 <= records <= 30_000, records
