"""Quiltt data: deterministic history, deposits that mirror payouts, the reconciliation truth.

Marketplace payouts are faked here (a World whose ``payouts`` is given), so these tests do
not depend on the other platforms' sandboxes.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sandbox.clock import ManualClock
from sandbox.platform import PayoutFact
from sandbox.quiltt.data import add_business_days
from sandbox.scenario import DAY, load
from sandbox.world import World


class PayoutWorld(World):
    """A world whose marketplaces' payouts are the given facts."""

    def __init__(self, *args: Any, facts: list[PayoutFact], **kwargs: Any) -> None:
        self.facts = sorted(facts, key=lambda f: (f.paid_at, f.platform, f.payout_id))
        super().__init__(*args, **kwargs)

    def payouts(self, client_id: str) -> list[PayoutFact]:
        return [f for f in self.facts if f.client_id == client_id]


def fake_payouts(
    client_id: str, start: float, end: float, n: int, seed: int = 1
) -> list[PayoutFact]:
    rng = random.Random(seed)
    platforms = ("amazon", "shopify", "ebay", "etsy")
    return [
        PayoutFact(
            client_id,
            platforms[i % 4],
            f"po-{i:04d}",
            rng.uniform(start, end),
            Decimal(rng.randint(1_000, 900_000)) / 100,
            "USD",
        )
        for i in range(n)
    ]


def day_of(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() // DAY)


def test_history_is_deterministic_and_per_client() -> None:
    one = World(load("multi"), platforms=("quiltt",))
    two = World(load("multi"), platforms=("quiltt",))
    a = one.ground_truth("c-00", "quiltt", "bank_transactions")
    assert a == two.ground_truth("c-00", "quiltt", "bank_transactions")
    b = one.ground_truth("c-01", "quiltt", "bank_transactions")
    assert not {t["id"] for t in a} & {t["id"] for t in b}
    assert one.ground_truth("c-00", "quiltt", "accounts") == two.ground_truth(
        "c-00", "quiltt", "accounts"
    )


def test_reference_has_the_expected_volume() -> None:
    scenario = load("reference")
    w = World(scenario, platforms=("quiltt",))
    truth = w.ground_truth("c-ref", "quiltt", "bank_transactions")
    spec = scenario.client("c-ref")
    days = (spec.history_end - spec.history_start) / DAY
    assert 0.8 * days * spec.volume["quiltt"] < len(truth) < 1.3 * days * spec.volume["quiltt"]
    shapes = Counter((t["entryType"], t["status"]) for t in truth)
    assert shapes[("DEBIT", "POSTED")] and shapes[("CREDIT", "POSTED")]
    assert shapes[("DEBIT", "PENDING")]  # recent card spend not posted yet
    assert all(t["id"].startswith("txn_") and isinstance(t["amount"], float) for t in truth)
    assert all(t["amount"] > 0 for t in truth)  # unsigned, with entryType


def test_only_the_past_is_visible_and_the_future_arrives() -> None:
    clock = ManualClock(load("tiny").now)
    w = World(load("tiny"), clock=clock, platforms=("quiltt",))
    before = {t["id"]: t for t in w.ground_truth("c-tiny", "quiltt", "bank_transactions")}
    today = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%d")
    assert all(t["date"] <= today for t in before.values())
    clock.advance(5 * DAY)
    after = {t["id"]: t for t in w.ground_truth("c-tiny", "quiltt", "bank_transactions")}
    assert set(before) < set(after)
    posted = [i for i, t in before.items() if t["status"] == "PENDING"]
    assert posted and all(after[i]["status"] == "POSTED" for i in posted)
    assert all(after[i] == before[i] for i in before if i not in posted)


def test_balances_follow_the_daily_sync() -> None:
    clock = ManualClock(load("tiny").now + 7 * 3600)  # after the 06:00 sync
    w = World(load("tiny"), clock=clock, platforms=("quiltt",))
    accounts = w.ground_truth("c-tiny", "quiltt", "accounts")
    assert [a["name"] for a in accounts] == [
        "Business Checking",
        "Business Savings",
        "Business Credit Card",
    ]
    card = accounts[2]
    assert card["kind"] == "CREDIT" and card["balance"]["limit"] == -15000.0
    assert card["balance"]["available"] == pytest.approx(15000.0 + card["balance"]["current"])
    assert all(a["balance"]["at"] == "2026-11-01T06:00:00Z" for a in accounts)


def test_deposits_mirror_payouts_one_to_three_business_days_later() -> None:
    spec = load("tiny").client("c-tiny")
    facts = fake_payouts("c-tiny", spec.history_start, spec.history_end - 5 * DAY, 120)
    w = PayoutWorld(
        load("tiny"), platforms=("quiltt",), facts=facts, limits={"quiltt": {"mismatch_share": 0.0}}
    )
    rows = w.platforms["quiltt"].reconciliation("c-tiny")
    truth = {t["id"]: t for t in w.ground_truth("c-tiny", "quiltt", "bank_transactions")}
    assert len(rows) == 120 and {r["outcome"] for r in rows} == {"matched"}
    for row in rows:
        (deposit_id,) = row["deposit_ids"]
        deposit = truth[deposit_id]
        assert deposit["amount"] == float(Decimal(row["amount"]))
        assert deposit["entryType"] == "CREDIT" and deposit["status"] == "POSTED"
        paid_day = int(row["paid_at"] // DAY)
        lags = [add_business_days(paid_day, n) for n in (1, 2, 3)]
        assert day_of(deposit["date"]) in lags
        assert (day_of(deposit["date"]) + 3) % 7 < 5  # a weekday


def test_mismatches_are_recorded_in_the_reconciliation_truth() -> None:
    spec = load("tiny").client("c-tiny")
    facts = fake_payouts("c-tiny", spec.history_start, spec.history_end - 5 * DAY, 400, seed=2)
    facts.append(
        PayoutFact("c-tiny", "amazon", "po-zero", spec.history_start + DAY, Decimal("0.00"), "USD")
    )
    facts.append(
        PayoutFact(
            "c-tiny", "amazon", "po-neg", spec.history_start + 2 * DAY, Decimal("-12.34"), "USD"
        )
    )
    facts.append(
        PayoutFact(
            "c-tiny", "ebay", "po-eur", spec.history_start + 3 * DAY, Decimal("99.99"), "EUR"
        )
    )
    facts.append(
        PayoutFact(
            "c-tiny", "etsy", "po-future", spec.history_end + 10 * DAY, Decimal("10.00"), "USD"
        )
    )
    w = PayoutWorld(
        load("tiny"), platforms=("quiltt",), facts=facts, limits={"quiltt": {"mismatch_share": 0.5}}
    )
    quiltt = w.platforms["quiltt"]
    rows = {r["payout_id"]: r for r in quiltt.reconciliation("c-tiny")}
    assert "po-future" not in rows  # not paid yet
    outcomes = Counter(r["outcome"] for r in rows.values())
    assert outcomes["matched"] > 100 and outcomes["amount_mismatch"] > 40
    assert outcomes["missing"] > 20 and outcomes["duplicated"] > 20
    truth = {t["id"]: t for t in w.ground_truth("c-tiny", "quiltt", "bank_transactions")}
    for row in rows.values():
        expected = float(Decimal(row["amount"]))
        amounts = [truth[i]["amount"] for i in row["deposit_ids"]]
        if row["outcome"] == "matched":
            assert amounts == [abs(expected)]
        elif row["outcome"] == "amount_mismatch":
            (amount,) = amounts
            assert 1 <= abs(round(amount * 100) - round(expected * 100)) <= 9
        elif row["outcome"] == "duplicated":
            assert amounts == [expected, expected]
        else:
            assert amounts == []
    assert rows["po-zero"]["outcome"] == "zero_amount"
    if rows["po-neg"]["outcome"] == "matched":
        (debit,) = rows["po-neg"]["deposit_ids"]
        assert truth[debit]["entryType"] == "DEBIT" and truth[debit]["amount"] == 12.34
        assert rows["po-neg"]["deposit_amounts"] == [-12.34]
    accounts = {a["id"]: a for a in w.ground_truth("c-tiny", "quiltt", "accounts")}
    if rows["po-eur"]["deposit_ids"]:
        eur = truth[rows["po-eur"]["deposit_ids"][0]]
        assert eur["currencyCode"] == "EUR"
        assert accounts[eur["account"]["id"]]["currencyCode"] == "EUR"


def test_default_mismatch_share_is_a_few_percent() -> None:
    spec = load("tiny").client("c-tiny")
    facts = fake_payouts("c-tiny", spec.history_start, spec.history_end - 5 * DAY, 1000, seed=3)
    w = PayoutWorld(load("tiny"), platforms=("quiltt",), facts=facts)
    rows = w.platforms["quiltt"].reconciliation("c-tiny")
    wrong = sum(r["outcome"] != "matched" for r in rows)
    assert 10 <= wrong <= 60


def test_deposits_in_transit_are_not_yet_visible() -> None:
    spec = load("tiny").client("c-tiny")
    fact = PayoutFact("c-tiny", "shopify", "po-late", spec.history_end - 3600, Decimal("5"), "USD")
    clock = ManualClock(spec.history_end)
    w = PayoutWorld(
        load("tiny"),
        clock=clock,
        platforms=("quiltt",),
        facts=[fact],
        limits={"quiltt": {"mismatch_share": 0.0}},
    )
    quiltt = w.platforms["quiltt"]
    (row,) = quiltt.reconciliation("c-tiny")
    assert row["outcome"] == "matched" and not row["settled"] and row["deposit_ids"] == []
    clock.advance(6 * DAY)
    (row,) = quiltt.reconciliation("c-tiny")
    assert row["settled"] and len(row["deposit_ids"]) == 1


def test_world_payouts_without_marketplaces_is_empty() -> None:
    w = World(load("tiny"), platforms=("quiltt",))
    assert w.payouts("c-tiny") == []
    assert w.platforms["quiltt"].payouts("c-tiny") == []
    assert w.platforms["quiltt"].reconciliation("c-tiny") == []
    with pytest.raises(KeyError):
        w.ground_truth("c-tiny", "quiltt", "orders")
