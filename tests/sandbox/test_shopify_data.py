"""The Shopify sandbox's generated history: reproducible, seasonal with bursts and a flash
sale, money that adds up, payouts equal to their balance transactions, inventory that
balances, and Quiltt deposits that mirror the payouts."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.world import World

CLIENT = "c-tiny"


def _world(name: str = "tiny", platforms: tuple[str, ...] = ("shopify",)) -> World:
    scenario = load(name)
    return World(scenario, clock=ManualClock(scenario.now), platforms=platforms)


def _amount(money: dict[str, str]) -> Decimal:
    return Decimal(money["amount"])


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@cache
def _reference_orders() -> tuple[float, ...]:
    world = _world("reference")
    history = world.platforms["shopify"].data("c-ref").history
    return tuple(float(o.created) for o in history.orders)


def test_same_scenario_same_history_and_clients_differ() -> None:
    a, b = _world(), _world()
    for resource in a.platforms["shopify"].resources:
        assert a.ground_truth(CLIENT, "shopify", resource) == b.ground_truth(
            CLIENT, "shopify", resource
        )
    multi = _world("multi")
    first, second = (multi.ground_truth(c, "shopify", "orders") for c in ("c-00", "c-01"))
    assert [o["createdAt"] for o in first] != [o["createdAt"] for o in second]


def test_money_adds_up_on_orders_and_lines() -> None:
    world = _world()
    items = defaultdict(list)
    for line in world.ground_truth(CLIENT, "shopify", "order_items"):
        items[line["orderId"]].append(line)
    refunds = defaultdict(list)
    for refund in world.ground_truth(CLIENT, "shopify", "returns"):
        refunds[refund["orderId"]].append(refund)
    for order in world.ground_truth(CLIENT, "shopify", "orders"):

        def shop(name: str, order=order) -> Decimal:
            return _amount(order[name]["shopMoney"])

        assert shop("totalPriceSet") == shop("subtotalPriceSet") + shop(
            "totalShippingPriceSet"
        ) + shop("totalTaxSet")
        lines = items[order["id"]]
        assert lines, "every order has its items"
        assert shop("subtotalPriceSet") == sum(
            _amount(li["discountedTotalSet"]["shopMoney"]) for li in lines
        )
        tax = sum(_amount(t["priceSet"]["shopMoney"]) for li in lines for t in li["taxLines"])
        assert shop("totalTaxSet") == tax
        back = sum(_amount(r["totalRefundedSet"]["shopMoney"]) for r in refunds[order["id"]])
        assert shop("totalRefundedSet") == back <= shop("totalPriceSet")
        if order["cancelledAt"]:
            assert order["displayFinancialStatus"] == "REFUNDED" and back == shop("totalPriceSet")
        elif back:
            assert order["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
        if order["presentmentCurrencyCode"] == "CAD":
            assert order["totalPriceSet"]["presentmentMoney"]["currencyCode"] == "CAD"
            assert _amount(order["totalPriceSet"]["presentmentMoney"]) > shop("totalPriceSet")


def test_payouts_equal_the_sum_of_their_balance_transactions() -> None:
    world = _world("multi")
    client = "c-03"
    issued = [f.paid_at for f in world.payouts(client) if f.paid_at < world.clock.now()]
    world.clock.set(issued[-1] + 3600)  # the latest payout is still SCHEDULED
    transactions = world.ground_truth(client, "shopify", "transactions")
    payouts = world.ground_truth(client, "shopify", "payouts")
    assert len(payouts) > 100
    held: dict[str, Decimal] = defaultdict(Decimal)
    own: dict[str, Decimal] = {}
    for txn in transactions:
        assert _amount(txn["net"]) == _amount(txn["amount"]) - _amount(txn["fee"])
        payout = txn["associatedPayout"]["id"]
        if txn["type"] == "PAYOUT":
            own[payout] = _amount(txn["amount"])
        elif payout is not None:
            held[payout] += _amount(txn["net"])
        else:
            assert txn["associatedPayout"]["status"] == "PENDING"
    for payout in payouts:
        net = _amount(payout["net"])
        assert net > 0 and net == held[payout["id"]] == -own[payout["id"]]
        gross = _amount(payout["summary"]["chargesGross"]) + _amount(
            payout["summary"]["refundsFeeGross"]
        )
        fees = _amount(payout["summary"]["chargesFee"]) + _amount(payout["summary"]["refundsFee"])
        assert gross - fees == net
    assert {p["status"] for p in payouts} == {"PAID", "SCHEDULED"}
    facts = {f.payout_id: f for f in world.payouts(client)}
    for payout in payouts:
        fact = facts[payout["id"]]
        assert fact.amount == _amount(payout["net"]) and fact.currency == "USD"
        assert fact.paid_at == _epoch(payout["issuedAt"]) and fact.platform == "shopify"
    assert max(f.paid_at for f in facts.values()) > world.clock.now()  # future payouts too


def test_inventory_levels_balance() -> None:
    world = _world()
    levels = world.ground_truth(CLIENT, "shopify", "inventory")
    data = world.platforms["shopify"].data(CLIENT)
    assert len(levels) == 2 * sum(
        1 for v in data.history.variants if v.created <= world.clock.now()
    )
    for level in levels:
        q = {x["name"]: x["quantity"] for x in level["quantities"]}
        assert q["on_hand"] == q["available"] + q["committed"] and q["committed"] >= 0
        assert level["id"].endswith(f"?inventory_item_id={level['item']['id'].rsplit('/', 1)[1]}")
    assert len({lv["location"]["id"] for lv in levels}) == 2


def test_reference_has_a_flash_sale_seasonality_and_its_share_of_records() -> None:
    created = _reference_orders()
    assert 7_000 < len(created) < 9_000
    window = max(bisect.bisect_left(created, t + 1200) - i for i, t in enumerate(created))
    assert window >= 800  # 800 orders within 20 minutes
    per_day = Counter(datetime.fromtimestamp(t, UTC).strftime("%m-%d") for t in created)
    black_friday = sum(per_day[d] for d in ("11-24", "11-25", "11-26", "11-27", "11-28"))
    summer = sum(per_day[d] for d in ("07-10", "07-11", "07-12", "07-13", "07-14"))
    assert black_friday > 2 * summer
    world = _world("reference")
    total = sum(
        len(world.ground_truth("c-ref", "shopify", r)) for r in world.platforms["shopify"].resources
    )
    assert 20_000 < total < 35_000  # about a fifth of the ~100,000 of five platforms


def test_quiltt_deposits_mirror_shopify_payouts() -> None:
    world = _world(platforms=("shopify", "quiltt"))
    rows = [
        r for r in world.platforms["quiltt"].reconciliation(CLIENT) if r["platform"] == "shopify"
    ]
    payouts = {p["id"]: p for p in world.ground_truth(CLIENT, "shopify", "payouts")}
    assert rows and {r["payout_id"] for r in rows} == set(payouts)
    matched = [r for r in rows if r["outcome"] == "matched" and r["settled"]]
    assert matched
    for row in matched:
        assert Decimal(row["amount"]) == _amount(payouts[row["payout_id"]]["net"])
        assert [Decimal(str(a)) for a in row["deposit_amounts"]] == [Decimal(row["amount"])]
    descriptions = {
        t["description"] for t in world.ground_truth(CLIENT, "quiltt", "bank_transactions")
    }
    assert any("SHOPIFY" in d for d in descriptions)
