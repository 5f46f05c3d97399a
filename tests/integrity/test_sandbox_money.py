"""The money check on real-shaped data: the sandboxes' ground truth, normalized.

Amazon settlement groups, Shopify Payments payouts and eBay payouts each equal the sum
of the transactions linked to them (``payout_sums_from``: the payout's own transfer
entries left out). A cent taken from one transaction must fail exactly that payout.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.integrity import PageFacts, check_block, payout_sums_from
from shared.models import Money, Payout, Record, Transaction
from shared.platforms.base import Window


def amazon() -> tuple[list[Record], list[Record]]:
    from tests.platforms.amazon.support import AmazonEnv, truth_records

    env = AmazonEnv()
    return truth_records(env, "payouts"), truth_records(env, "transactions")


def shopify() -> tuple[list[Record], list[Record]]:
    from tests.platforms.shopify.support import make_world, truth

    world = make_world()
    return list(truth(world, "payouts").values()), list(truth(world, "transactions").values())


def ebay() -> tuple[list[Record], list[Record]]:
    from tests.platforms.ebay.support import EbayEnv, truth_records

    env = EbayEnv()
    return truth_records(env, "payouts"), truth_records(env, "transactions")


def one_page(records: list[Record]) -> list[PageFacts]:
    return [PageFacts(page_number=0, record_count=len(records))]


def everything(payouts: list[Record]) -> Window:
    stamps = [p.period_start or p.issued_at for p in payouts if isinstance(p, Payout)]
    return Window(start=min(stamps), end=max(stamps))  # the last one sits on the end


@pytest.mark.parametrize("load", [amazon, shopify, ebay], ids=lambda f: f.__name__)
def test_payouts_equal_their_transactions(load):
    payouts, transactions = load()
    sums = payout_sums_from(t for t in transactions if isinstance(t, Transaction))
    report = check_block(
        "payouts", everything(payouts), one_page(payouts), payouts, payout_sums=sums
    )
    assert report.ok, report.problems
    assert report.counts["payouts_checked"] == len(payouts) >= 5

    victim = next(t for t in transactions if t.payout_id and t.kind != "payout")
    changed = Money(amount=victim.amount.amount - Decimal("0.01"), currency=victim.amount.currency)
    tampered = [
        t.model_copy(update={"amount": changed}) if t is victim else t for t in transactions
    ]
    report = check_block(
        "payouts",
        everything(payouts),
        one_page(payouts),
        payouts,
        payout_sums=payout_sums_from(tampered),
    )
    assert len(report.problems) == 1
    assert report.problems[0].startswith(
        f"1 payouts differ from the sum of their transactions: {victim.payout_id} ("
    )
