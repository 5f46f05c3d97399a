from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from shared.integrity import (
    IntegrityReport,
    PageFacts,
    check_block,
    deduplicate,
    payout_sums_from,
    time_field,
)
from shared.models import (
    BankTransaction,
    InventoryLevel,
    Money,
    Order,
    OrderItem,
    Payout,
    Return,
    Transaction,
)
from shared.platforms.base import Window

START = datetime(2024, 6, 1, tzinfo=UTC)
END = datetime(2024, 7, 1, tzinfo=UTC)
WINDOW = Window(start=START, end=END)
INSIDE = datetime(2024, 6, 15, 12, tzinfo=UTC)


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def order(key: str, at: datetime = INSIDE, platform: str = "ebay", **extra) -> Order:
    return Order(
        platform=platform, account="a", natural_key=key, order_id=key, created_at=at, **extra
    )


def item(order_id: str, line: str, at: datetime | None = INSIDE) -> OrderItem:
    return OrderItem(
        platform="ebay",
        account="a",
        natural_key=f"{order_id}|{line}",
        order_id=order_id,
        item_id=line,
        quantity=1,
        created_at=at,
    )


def txn(
    key: str,
    amount: str,
    *,
    tid: str | None = None,
    payout: str | None = None,
    kind: str = "charge",
    at: datetime | None = INSIDE,
    currency: str = "USD",
):
    return Transaction(
        platform="ebay",
        account="a",
        natural_key=key,
        transaction_id=tid,
        kind=kind,
        type=kind,
        posted_at=at,
        payout_id=payout,
        amount=Money(amount=Decimal(amount), currency=currency),
    )


def payout(
    key: str,
    amount: str | None,
    *,
    at: datetime | None = INSIDE,
    platform: str = "ebay",
    start: datetime | None = None,
    currency: str = "USD",
):
    money = None if amount is None else Money(amount=Decimal(amount), currency=currency)
    return Payout(
        platform=platform,
        account="a",
        natural_key=key,
        payout_id=key,
        amount=money,
        issued_at=at,
        period_start=start,
    )


def ret(platform: str, at: datetime) -> Return:
    return Return(platform=platform, account="a", natural_key="r", return_id="r", created_at=at)


def pages(*counts: int, reported=None, chains=None, cursors=None) -> list[PageFacts]:
    """Pages holding ``counts`` records, each naming a next page but the last."""
    n = len(counts)
    return [
        PageFacts(
            page_number=i,
            record_count=c,
            has_next=i < n - 1,
            reported_count=None if reported is None else reported[i],
            chain="" if chains is None else chains[i],
            cursor=f"page-{i + 1}" if cursors is None else cursors[i],
        )
        for i, c in enumerate(counts)
    ]


ORDERS = [order("o1"), order("o2"), order("o3")]


def check(resource="orders", facts=None, records=ORDERS, **kwargs) -> IntegrityReport:
    facts = pages(len(records)) if facts is None else facts
    return check_block(resource, WINDOW, facts, records, **kwargs)


def test_a_good_block_passes_with_its_counts():
    report = check(facts=pages(2, 1, reported=[3, 3]))
    assert report == IntegrityReport(
        ok=True,
        problems=[],
        counts={
            "pages": 2,
            "records": 3,
            "duplicates": 0,
            "reported": 3,
            "units": 3,
            "on_end": 0,
            "undated": 0,
            "outside": 0,
        },
        notes=[],
    )


def test_an_empty_window_is_one_empty_page():
    assert check(facts=pages(0, reported=[0]), records=[]).ok


# --- 1. page chain ---------------------------------------------------------------------


def facts(*specs: tuple[int, bool, str | None]) -> list[PageFacts]:
    return [
        PageFacts(page_number=n, record_count=0, has_next=more, cursor=cursor)
        for n, more, cursor in specs
    ]


CHAINS = [
    ("one page", facts((0, False, None)), None),
    ("a linear chain", facts((0, True, "a"), (1, True, "b"), (2, False, None)), None),
    # Several sub-chains in one block: only the last page must end one.
    ("sub-chains", facts((0, False, None), (1, True, "x"), (2, False, None)), None),
    ("no page", [], "no page was loaded"),
    (
        "a gap",
        facts((0, True, "a"), (2, False, None)),
        "pages are not numbered 0..1 in order; missing 1",
    ),
    (
        "a repeat",
        facts((0, True, "a"), (0, True, "b"), (1, False, None)),
        "pages are not numbered 0..2 in order; repeated 0",
    ),
    (
        "not from 0",
        facts(
            (1, False, None),
        ),
        "pages are not numbered 0..0 in order; missing 0",
    ),
    (
        "cut short",
        facts((0, True, "a"), (1, True, "b")),
        "the chain is cut short: last page 1 has a next page",
    ),
    (
        "a loop",
        facts((0, True, "tok"), (1, True, "tok"), (2, False, None)),
        "the chain loops: next request repeated (tok)",
    ),
]


@pytest.mark.parametrize(("name", "chain", "problem"), CHAINS, ids=[c[0] for c in CHAINS])
def test_page_chain(name, chain, problem):
    report = check_block("orders", WINDOW, chain, [])
    assert report.problems == ([] if problem is None else [problem])
    assert report.ok is (problem is None)


def test_pages_must_hold_the_records_checked():
    report = check(facts=pages(1, 1))
    assert report.problems == ["the pages hold 2 records but 3 were checked"]


def test_page_facts_take_the_short_names_too():
    page = PageFacts(number=3, records=7, reported=9, has_next=True, next_cursor="c")
    assert (page.page_number, page.record_count, page.reported_count, page.cursor) == (3, 7, 9, "c")
    assert PageFacts.model_validate(page.model_dump(mode="json")) == page


# --- 2. counts -------------------------------------------------------------------------

TXNS = [  # two eBay transactions with their fee components, one Quiltt-like single
    txn("t1:SALE", "10", tid="t1"),
    txn("t1:fee", "-1", tid="t1", kind="fee"),
    txn("t2:SALE", "5", tid="t2"),
    txn("t2:fee", "-0.5", tid="t2", kind="fee"),
    txn("t3", "7"),
]
COUNTS = [
    ("orders match", "orders", ORDERS, pages(3, reported=[3]), None),
    (
        "orders missing",
        "orders",
        ORDERS,
        pages(3, reported=[4]),
        "the API reports 4 orders but 3 were loaded",
    ),
    (
        "orders extra",
        "orders",
        ORDERS,
        pages(3, reported=[2]),
        "the API reports 2 orders but 3 were loaded",
    ),
    ("the last page's count wins", "orders", ORDERS, pages(1, 2, reported=[3, 3]), None),
    ("no count reported", "orders", ORDERS, pages(3), None),
    ("transactions count by transaction id", "transactions", TXNS, pages(5, reported=[3]), None),
    (
        "transactions short",
        "transactions",
        TXNS,
        pages(5, reported=[4]),
        "the API reports 4 transactions but 3 were loaded",
    ),
    # Two 31-day pieces of an Etsy ledger window, each with its own count.
    ("chains add up", "orders", ORDERS, pages(2, 1, reported=[2, 1], chains=["a", "b"]), None),
    (
        "a chain short",
        "orders",
        ORDERS,
        pages(2, 1, reported=[2, 2], chains=["a", "b"]),
        "the API reports 4 orders but 3 were loaded",
    ),
    # Items come from a listing of orders: its count counts orders, not items.
    (
        "items are not counted",
        "order_items",
        [item("o1", "1"), item("o1", "2")],
        pages(2, reported=[1]),
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "resource", "records", "chain", "problem"), COUNTS, ids=[c[0] for c in COUNTS]
)
def test_counts(name, resource, records, chain, problem):
    report = check_block(resource, WINDOW, chain, records)
    assert report.problems == ([] if problem is None else [problem])


def test_counts_that_cannot_be_told_apart_are_skipped_with_a_note():
    report = check(facts=pages(2, 1, reported=[2, 1]))
    assert report.ok and "reported" not in report.counts
    assert report.notes == ["pages report different counts (1, 2) and name no chain: not compared"]


# --- 3. duplicates ---------------------------------------------------------------------


def test_duplicates_are_noted_and_deduplicated():
    records = [order("o1"), order("o2"), order("o2", status="shipped"), order("o3")]
    report = check(records=records, facts=pages(2, 2, reported=[3, 3]))
    assert report.ok, report.problems
    assert report.counts["duplicates"] == 1 and report.counts["records"] == 3
    assert report.notes == ["1 keys delivered more than once: o2"]


def test_duplicates_can_fail_the_block():
    records = [order("o1"), order("o1")]
    report = check(records=records, strict_duplicates=True)
    assert report.problems == ["1 keys delivered more than once: o1"]


def test_duplicates_hiding_a_missing_record_fail_by_count():
    records = [order("o1"), order("o2"), order("o2")]  # o3 pushed out of sight
    report = check(records=records, facts=pages(2, 1, reported=[3, 3]))
    assert report.problems == ["the API reports 3 orders but 2 were loaded"]


def test_deduplicate_keeps_the_last_delivery_in_first_seen_order():
    first, again = order("o2"), order("o2", status="shipped")
    unique, repeated = deduplicate([first, order("o1"), again])
    assert [r.natural_key for r in unique] == ["o2", "o1"]
    assert unique[0] is again and repeated == {"o2": 2}


# --- 4. window -------------------------------------------------------------------------

WINDOWS = [
    ("at the start", "orders", [order("o", START)], None),
    ("just before the end", "orders", [order("o", END - timedelta(microseconds=1))], None),
    ("on the end is accepted", "orders", [order("o", END)], None),
    (
        "before the start",
        "orders",
        [order("o", START - timedelta(seconds=1))],
        "1 orders lie outside the window [2024-06-01T00:00:00+00:00, 2024-07-01T00:00:00+00:00):"
        " o (created_at 2024-05-31T23:59:59+00:00)",
    ),
    (
        "after the end",
        "orders",
        [order("o", END + timedelta(seconds=1))],
        "1 orders lie outside the window [2024-06-01T00:00:00+00:00, 2024-07-01T00:00:00+00:00):"
        " o (created_at 2024-07-01T00:00:01+00:00)",
    ),
    (
        "a transaction by posting",
        "transactions",
        [txn("t", "1", at=END + timedelta(days=1))],
        "1 transactions lie outside",
    ),
    ("an untimed transaction", "transactions", [txn("t", "1", at=None)], None),
    ("an undated item", "order_items", [item("o", "1", at=None)], None),
    (
        "an item by its order's creation",
        "order_items",
        [item("o", "1", START - timedelta(1))],
        "1 order_items lie outside",
    ),
    (
        # A refund follows its order: listed with the orders of the window, it may be later.
        "a return with its order",
        "returns",
        [ret("shopify", END + timedelta(days=9))],
        None,
    ),
    (
        "an amazon return by its date",
        "returns",
        [ret("amazon", END + timedelta(hours=1))],
        "1 returns lie outside",
    ),
    (
        "a payout by issue",
        "payouts",
        [payout("p", "1", at=START - timedelta(hours=1))],
        "1 payouts lie outside",
    ),
    (
        "an amazon payout by its group's start",
        "payouts",
        [payout("p", "1", platform="amazon", at=END + timedelta(days=3), start=INSIDE)],
        None,
    ),
    (
        "an amazon payout group started before",
        "payouts",
        [payout("p", "1", platform="amazon", at=INSIDE, start=START - timedelta(days=3))],
        "1 payouts lie outside",
    ),
    (
        "inventory is a snapshot",
        "inventory",
        [
            InventoryLevel(
                platform="ebay",
                account="a",
                natural_key="sku",
                updated_at=END + timedelta(days=100),
            )
        ],
        None,
    ),
]


def bank(key: str, day: date) -> BankTransaction:
    return BankTransaction(
        platform="quiltt",
        account="a",
        natural_key=key,
        transaction_id=key,
        booked_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
        amount=usd("1"),
    )


@pytest.mark.parametrize(
    ("name", "resource", "records", "problem"), WINDOWS, ids=[w[0] for w in WINDOWS]
)
def test_window(name, resource, records, problem):
    report = check_block(resource, WINDOW, pages(len(records)), records)
    if problem is None:
        assert report.problems == []
    else:
        assert len(report.problems) == 1 and report.problems[0].startswith(problem)


def test_window_counts():
    records = [order("a", END), order("b"), order("c", START - timedelta(days=1))]
    report = check(records=records)
    assert (report.counts["on_end"], report.counts["outside"], report.counts["undated"]) == (
        1,
        1,
        0,
    )


def test_bank_entries_are_judged_by_date():
    window = Window(start=datetime(2024, 6, 10, 10, 30, tzinfo=UTC), end=END)
    same_day = [bank("b1", date(2024, 6, 10)), bank("b2", date(2024, 6, 30))]
    assert check_block("bank_transactions", window, pages(2), same_day).ok
    day_before = [bank("b0", date(2024, 6, 9))]
    report = check_block("bank_transactions", window, pages(1), day_before)
    assert report.problems[0].startswith("1 bank_transactions lie outside")


def test_a_window_of_changes_judges_orders_by_update():
    changed = order("o", START - timedelta(days=40), updated_at=INSIDE)
    assert check(records=[changed], by_update=True).ok
    assert not check(records=[changed]).ok
    stale = order("o", START - timedelta(days=40), updated_at=START - timedelta(days=1))
    assert not check(records=[stale], by_update=True).ok
    old_item = item("o", "1", at=START - timedelta(days=40))
    assert check_block("order_items", WINDOW, pages(1), [old_item], by_update=True).ok


@pytest.mark.parametrize(
    ("resource", "platform", "by_update", "expected"),
    [
        ("orders", "ebay", False, "created_at"),
        ("orders", "ebay", True, "updated_at"),
        ("payouts", "amazon", False, "period_start"),
        ("payouts", "shopify", False, "issued_at"),
        ("returns", "etsy", True, None),
        ("returns", "ebay", False, None),
        ("returns", "amazon", False, "created_at"),
        ("returns", "ebay", False, None),
        ("returns", "amazon", False, "created_at"),
        ("transactions", "etsy", True, "posted_at"),
        ("inventory", "shopify", False, None),
    ],
)
def test_time_fields(resource, platform, by_update, expected):
    assert time_field(resource, platform, by_update=by_update) == expected


# --- 5. orders and items ---------------------------------------------------------------

ITEMS = [item("o1", "1"), item("o1", "2"), item("o2", "1")]
ORDER_ITEMS = [
    ("orders with items", "orders", ORDERS[:2], {"o1": 2, "o2": 1}, None),
    ("an order without items", "orders", ORDERS[:2], {"o1": 2}, "1 orders have no items: o2"),
    (
        "an order with zero items",
        "orders",
        ORDERS[:2],
        {"o1": 2, "o2": 0},
        "1 orders have no items: o2",
    ),
    ("items of every order", "order_items", ITEMS, {"o1": 2, "o2": 1}, None),
    ("line counts unknown", "order_items", ITEMS, {"o1": 0, "o2": 0}, None),
    (
        "an order lacking its items",
        "order_items",
        ITEMS,
        {"o1": 2, "o2": 1, "o3": 0},
        "1 orders lack items or have others: o3 (0 of at least 1)",
    ),
    (
        "an order lacking one item",
        "order_items",
        ITEMS,
        {"o1": 3, "o2": 1},
        "1 orders lack items or have others: o1 (2 of 3)",
    ),
    (
        "items of an order not in the window",
        "order_items",
        ITEMS,
        {"o1": 2},
        "items of 1 orders not in the window: o2",
    ),
]


@pytest.mark.parametrize(
    ("name", "resource", "records", "known", "problem"),
    ORDER_ITEMS,
    ids=[c[0] for c in ORDER_ITEMS],
)
def test_orders_and_items(name, resource, records, known, problem):
    report = check_block(resource, WINDOW, pages(len(records)), records, items_for_orders=known)
    assert report.problems == ([] if problem is None else [problem])


# --- 6. money --------------------------------------------------------------------------

LEDGER = [
    txn("s1", "100.00", payout="p1"),
    txn("f1", "-12.35", payout="p1", kind="fee"),
    txn("x1", "-87.65", payout="p1", kind="payout"),  # the transfer itself
    txn("s2", "20", payout="p2"),
    txn("s3", "3", payout=None),
]


def test_payout_sums_from_transactions():
    assert payout_sums_from(LEDGER) == {"p1": usd("87.65"), "p2": usd("20")}
    assert payout_sums_from(LEDGER, exclude_kinds=())["p1"] == usd("0.00")


def test_payout_sums_refuse_mixed_currencies():
    with pytest.raises(ValueError, match="two currencies"):
        payout_sums_from([txn("a", "1", payout="p"), txn("b", "1", payout="p", currency="EUR")])


PAYOUTS = [
    ("equal", [payout("p1", "87.65")], None),
    ("equal in other digits", [payout("p1", "87.650")], None),
    (
        "a cent off",
        [payout("p1", "87.66")],
        "1 payouts differ from the sum of their transactions: p1 (87.66 USD against "
        "transactions 87.65 USD)",
    ),
    (
        "another currency",
        [payout("p1", "87.65", currency="EUR")],
        "1 payouts differ from the sum of their transactions: p1 (87.65 EUR against "
        "transactions 87.65 USD)",
    ),
    ("not linked: unchecked", [payout("p9", "1")], None),
    ("no amount yet: unchecked", [payout("p1", None)], None),
]


@pytest.mark.parametrize(("name", "records", "problem"), PAYOUTS, ids=[p[0] for p in PAYOUTS])
def test_payouts_add_up(name, records, problem):
    sums = payout_sums_from(LEDGER)
    report = check_block("payouts", WINDOW, pages(len(records)), records, payout_sums=sums)
    assert report.problems == ([] if problem is None else [problem])


def test_payout_counts():
    records = [payout("p1", "87.65"), payout("p2", "20"), payout("p9", "5")]
    report = check_block("payouts", WINDOW, pages(3), records, payout_sums=payout_sums_from(LEDGER))
    assert (report.counts["payouts_checked"], report.counts["payouts_unchecked"]) == (2, 1)


# --- all together ----------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    records = [order("o1", END + timedelta(days=2)), order("o1"), item("o1", "1")]
    chain = facts((0, True, "t"), (1, True, "t"))
    chain = [p.model_copy(update={"record_count": 1, "reported_count": 5}) for p in chain]
    report = check_block(
        "orders", WINDOW, chain, records, items_for_orders={}, strict_duplicates=True
    )
    assert not report.ok
    assert report.problems[:3] == [
        "the chain is cut short: last page 1 has a next page",
        "the chain loops: next request repeated (t)",
        "the pages hold 2 records but 3 were checked",
    ]
    assert report.problems[3:] == [
        "records of order_items in a orders block",
        "1 keys delivered more than once: o1",
        "the API reports 5 orders but 2 were loaded",
        "1 orders have no items: o1",
    ]
