"""The Etsy history: deterministic, money that adds up, a live timeline."""

from __future__ import annotations

from collections import Counter

from sandbox.clock import ManualClock
from sandbox.etsy.data import DAY, flash_sale_size, generate
from sandbox.etsy.ledger import build_ledger
from sandbox.scenario import load
from sandbox.world import World

CLIENT = "c-tiny"


def _world(name: str = "tiny") -> World:
    scenario = load(name)
    return World(scenario, clock=ManualClock(scenario.now), platforms=("etsy",))


def test_same_scenario_same_history_other_client_other_history() -> None:
    a, b = _world().platforms["etsy"], _world().platforms["etsy"]
    for resource in a.resources:
        assert a.ground_truth(CLIENT, resource) == b.ground_truth(CLIENT, resource)
    assert a.credentials(CLIENT) == b.credentials(CLIENT)
    spec = load("tiny").client(CLIENT)
    args = (spec.history_start, spec.history_end, 2.0)
    first = generate(7, CLIENT, spec.seed, *args)
    other = generate(7, CLIENT, spec.seed + 1, *args)
    assert [r.receipt_id for r in first.receipts] != [r.receipt_id for r in other.receipts]


def test_receipt_and_payment_money_adds_up() -> None:
    sandbox = _world().platforms["etsy"]
    receipts = {r["receipt_id"]: r for r in sandbox.ground_truth(CLIENT, "orders")}
    items = Counter()
    for line in sandbox.ground_truth(CLIENT, "order_items"):
        items[line["receipt_id"]] += line["price"]["amount"] * line["quantity"]
    for rid, receipt in receipts.items():
        amount = {k: receipt[k]["amount"] for k in receipt if isinstance(receipt[k], dict)}
        assert amount["total_price"] == items[rid]
        assert amount["subtotal"] == amount["total_price"] - amount["discount_amt"]
        assert (
            amount["grandtotal"]
            == amount["subtotal"] + amount["total_shipping_cost"] + amount["total_tax_cost"]
        )
    for payment in sandbox.ground_truth(CLIENT, "payments"):
        receipt = receipts[payment["receipt_id"]]
        assert payment["amount_gross"] == receipt["grandtotal"]
        net = payment["amount_gross"]["amount"] - payment["amount_fees"]["amount"]
        assert payment["amount_net"]["amount"] == net
        assert ("posted_gross" in payment) == receipt["is_shipped"]


def test_ledger_balance_is_the_running_sum_and_payouts_empty_it() -> None:
    ledger = _world().platforms["etsy"].data(CLIENT).ledger
    balance = 0
    for entry in ledger.entries:
        balance += entry.amount
        assert entry.balance == balance
        if entry.is_payout:
            assert balance == 0 and entry.amount < 0
    sequences = [e.sequence for e in ledger.entries]
    assert sequences == sorted(sequences) == list(range(1, len(sequences) + 1))


def test_stock_never_negative() -> None:
    stock = _world().platforms["etsy"].data(CLIENT).stock
    assert all(level >= 0 for s in stock.values() for level in s.levels)


def test_flash_sale_is_800_receipts_in_20_minutes_at_reference_volume() -> None:
    assert flash_sale_size(6, 730) == 800
    history = _world().platforms["etsy"].data(CLIENT).history
    created = sorted(r.created for r in history.receipts)
    n = flash_sale_size(2, 60)
    assert n > 5
    assert min(created[i + n - 1] - created[i] for i in range(len(created) - n + 1)) < 1200


def test_world_is_live_future_activity_appears_as_the_clock_moves() -> None:
    world = _world()
    sandbox = world.platforms["etsy"]
    before = {r: len(sandbox.ground_truth(CLIENT, r)) for r in sandbox.resources}
    world.clock.advance(10 * DAY)
    after = {r: len(sandbox.ground_truth(CLIENT, r)) for r in sandbox.resources}
    for resource in ("orders", "order_items", "transactions", "payouts", "payments"):
        assert after[resource] > before[resource], resource
    receipts = sandbox.ground_truth(CLIENT, "orders")
    assert any(not r["is_shipped"] for r in receipts) and any(r["is_shipped"] for r in receipts)
    assert all(r["update_timestamp"] <= world.clock.now() for r in receipts)


def test_reference_size() -> None:
    spec = load("reference").client("c-ref")
    history = generate(42, "c-ref", spec.seed, spec.history_start, spec.history_end, 6.0)
    ledger = build_ledger(42, "c-ref", history)
    now = spec.history_end
    receipts = [r for r in history.receipts if r.created <= now]
    core = (
        len(receipts)
        + sum(len(r.lines) for r in receipts)
        + sum(1 for e in ledger.entries if e.at <= now)
    )
    assert 20_000 <= core <= 40_000, core
