"""The Amazon history generator: deterministic, shaped like a seller's business, consistent."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

from sandbox.amazon.data import DAY, flash_sale_size
from sandbox.amazon.finance import event_total
from sandbox.amazon.formats import JP, parse_iso
from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World


def amazon(scenario: str = "tiny", start: float | None = None):
    sc = load(scenario)
    world = World(sc, clock=ManualClock(start or sc.now), platforms=("amazon",))
    return world, world.platforms["amazon"], sc.clients[0].client_id


def test_same_scenario_same_history() -> None:
    _, first, cid = amazon()
    _, second, _ = amazon()
    for resource in first.resources:
        assert first.ground_truth(cid, resource) == second.ground_truth(cid, resource)
    assert first.credentials(cid) == second.credentials(cid)
    assert first.payouts(cid) == second.payouts(cid)


def test_reference_volume_seasonality_and_flash_sale() -> None:
    world, sandbox, cid = amazon("reference")
    data = sandbox.data(cid)
    visible = [o for o in data.history.orders if o.purchased <= world.clock.now()]
    items = sum(len(o.items) for o in visible)
    assert 7_500 <= len(visible) <= 10_500  # 11/day over 730 days plus the flash sale
    assert 1.35 <= items / len(visible) <= 1.65
    assert len(visible) + items > 20_000  # before transactions, returns, payouts, inventory
    per_20_minutes = Counter(o.purchased // 1200 for o in visible)
    assert max(per_20_minutes.values()) >= flash_sale_size(11, 730) == 800
    by_month = Counter(time.gmtime(o.purchased).tm_mon for o in visible)
    assert by_month[12] > 1.3 * by_month[2]
    assert any(o.marketplace is JP for o in visible)


def test_money_is_consistent_and_jpy_has_no_decimals() -> None:
    _, sandbox, cid = amazon()
    orders = sandbox.ground_truth(cid, "orders")
    items = sandbox.ground_truth(cid, "order_items")
    by_order: dict[str, Decimal] = {}
    for item in items:
        if "ItemPrice" in item:
            total = (
                Decimal(item["ItemPrice"]["Amount"])
                + Decimal(item["ItemTax"]["Amount"])
                + Decimal(item["ShippingPrice"]["Amount"])
                - Decimal(item["PromotionDiscount"]["Amount"])
            )
            by_order[item["AmazonOrderId"]] = by_order.get(item["AmazonOrderId"], 0) + total
    for order in orders:
        if "OrderTotal" in order:
            assert Decimal(order["OrderTotal"]["Amount"]) == by_order[order["AmazonOrderId"]]
            if order["OrderTotal"]["CurrencyCode"] == "JPY":
                assert "." not in order["OrderTotal"]["Amount"]


def test_closed_groups_total_their_events() -> None:
    _, sandbox, cid = amazon()
    ledger = sandbox.data(cid).ledger
    for group in ledger.groups:
        assert group.total_at(group.end) == sum(
            (event_total(e.payload) for e in group.events), Decimal(0)
        )
    facts = sandbox.payouts(cid)
    assert facts and all(f.currency == "USD" and f.platform == "amazon" for f in facts)


def test_adjustments_have_no_id_and_some_are_negative() -> None:
    _, sandbox, cid = amazon()
    adjustments = [
        t
        for t in sandbox.ground_truth(cid, "transactions")
        if t["EventList"] == "AdjustmentEventList"
    ]
    assert adjustments
    assert any(a["AdjustmentAmount"]["CurrencyAmount"] < 0 for a in adjustments)
    assert all(
        not any(k.endswith("Id") for k in a if k != "FinancialEventGroupId") for a in adjustments
    )


def test_the_world_grows_as_the_clock_moves() -> None:
    world, sandbox, cid = amazon()
    before = {r: len(sandbox.ground_truth(cid, r)) for r in ("orders", "transactions")}
    world.clock.advance(10 * DAY)
    after = {r: len(sandbox.ground_truth(cid, r)) for r in ("orders", "transactions")}
    assert all(after[r] > before[r] for r in before)


def test_quiet_time_finds_a_still_window() -> None:
    _, sandbox, cid = amazon()
    start = load("tiny").now
    t = sandbox.quiet_time(cid, start, 3600)
    changes = sandbox.change_times(cid)
    assert t >= start and not any(t - 300 <= c <= t + 3600 for c in changes)


def test_order_versions_move_forward() -> None:
    _, sandbox, cid = amazon()
    for order in sandbox.data(cid).history.orders:
        times = [v.at for v in order.versions]
        assert times == sorted(times) and times[0] == order.purchased
        assert order.versions[0].status == "Pending"
    orders = sandbox.ground_truth(cid, "orders")
    assert all(parse_iso(o["LastUpdateDate"]) >= parse_iso(o["PurchaseDate"]) for o in orders)
