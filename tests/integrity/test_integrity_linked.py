"""The flows' link checks (``shared.flows.verdicts.linked``) on Azurite: records in Table
storage, blocks in the ledger. Each end of a link checks only what the other end has
finished, so a half-loaded other side is never judged, and the end verified last finds
what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.flows.models import BlockSpec
from shared.flows.verdicts import linked
from shared.models import Money, Order, OrderItem, Payout, Record, Transaction
from shared.platforms.base import Window
from shared.storage.blocks import Block, BlockKey, BlockState, BlockUpdate
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore

CLIENT, ACCOUNT = "c1", "acct-1"
JUNE = Window(start=datetime(2026, 6, 1, tzinfo=UTC), end=datetime(2026, 7, 1, tzinfo=UTC))
IN_JUNE = datetime(2026, 6, 15, 12, tzinfo=UTC)
IN_JULY = datetime(2026, 7, 2, tzinfo=UTC)
LATER = datetime(2026, 8, 2, tzinfo=UTC)
DAY = timedelta(days=1)
AFTER_ITEMS = " (their order_items blocks are done without them)"


def spec(platform: str, resource: str, window: Window = JUNE, block_id: str = "") -> BlockSpec:
    return BlockSpec(
        client=CLIENT,
        platform=platform,
        account=ACCOUNT,
        resource=resource,
        block_id=block_id or f"{resource}.june",
        window=window,
    )


def order(key: str, platform: str = "ebay", at: datetime = IN_JUNE, **extra) -> Order:
    return Order(
        platform=platform, account=ACCOUNT, natural_key=key, order_id=key, created_at=at, **extra
    )


def item(order_id: str, line: str = "1", platform: str = "ebay", at=IN_JUNE) -> OrderItem:
    return OrderItem(
        platform=platform,
        account=ACCOUNT,
        natural_key=f"{order_id}|{line}",
        order_id=order_id,
        quantity=1,
        created_at=at,
    )


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def txn(key: str, amount: str, payout: str | None, at: datetime | None, platform="ebay"):
    return Transaction(
        platform=platform,
        account=ACCOUNT,
        natural_key=key,
        transaction_id=key,
        kind="charge",
        type="SALE",
        posted_at=at,
        amount=usd(amount),
        payout_id=payout,
    )


class World:
    """The records and ledger one account's blocks left behind."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.store, self.ledger = RecordStore(settings), Ledger(settings)

    async def put(self, *records: Record) -> None:
        await self.store.upsert(CLIENT, records)

    async def block(
        self, s: BlockSpec, state: BlockState, created: datetime = IN_JULY + timedelta(days=60)
    ) -> None:
        row = Block(
            client=CLIENT,
            platform=s.platform,
            account=ACCOUNT,
            resource=s.resource,
            block_id=s.block_id,
            window_start=s.window.start,
            window_end=s.window.end,
            created_at=created,
            updated_at=created,
        )
        await self.ledger.plan_blocks([row])
        key = BlockKey(CLIENT, s.platform, ACCOUNT, s.resource, s.block_id)
        if state != BlockState.PLANNED:
            await self.ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING), now=created)
        if state == BlockState.DONE:
            await self.ledger.update_block(key, BlockUpdate(state=BlockState.DONE), now=created)

    async def linked(self, s: BlockSpec, records: list[Record]):
        return await linked(self.settings, s, records)


async def test_an_orders_block_waits_for_the_items_block_then_needs_every_item(settings):
    world = World(settings)
    orders = [order("o1"), order("o2"), order("o3", status="CANCELLED")]
    await world.put(*orders, item("o1"))
    items_block = spec("ebay", "order_items")
    await world.block(items_block, BlockState.RUNNING)

    waiting = await world.linked(spec("ebay", "orders"), orders)
    assert waiting.problems == []
    assert waiting.counts == {
        "items_judged": 0,
        "items_waiting": 3,
        "orders_without_items": 0,
        "orphans": 0,  # the stored item's order is stored
    }

    await world.ledger.update_block(
        BlockKey(CLIENT, "ebay", ACCOUNT, "order_items", items_block.block_id),
        BlockUpdate(state=BlockState.DONE),
        now=IN_JULY,
    )
    judged = await world.linked(spec("ebay", "orders"), orders)
    assert judged.problems == ["2 of 3 orders have no items stored: o2, o3" + AFTER_ITEMS]

    await world.put(item("o2"), item("o3", "a"), item("o3", "b"))
    assert (await world.linked(spec("ebay", "orders"), orders)).problems == []


async def test_a_busy_month_is_read_whole_rather_than_sought(settings, monkeypatch):
    import shared.flows.verdicts as verdicts

    world = World(settings)
    orders = [order(f"o{n:03d}") for n in range(verdicts.SCAN_FROM + 10)]
    await world.put(*orders, *(item(o.order_id) for o in orders[1:]))
    await world.block(spec("ebay", "order_items"), BlockState.DONE)
    sought = []
    real = verdicts._Context.seek_items

    async def seek(self, o):
        sought.append(o.order_id)
        return await real(self, o)

    monkeypatch.setattr(verdicts._Context, "seek_items", seek)
    result = await world.linked(spec("ebay", "orders"), orders)
    assert result.problems == [
        f"1 of {len(orders)} orders have no items stored: o000" + AFTER_ITEMS
    ]
    assert sought == ["o000"]  # only the order the month's items lack


async def test_orders_outside_every_done_items_window_wait(settings):
    world = World(settings)
    await world.block(spec("ebay", "order_items"), BlockState.DONE)
    july = order("o-july", at=IN_JULY)
    result = await world.linked(
        spec("ebay", "orders", Window(start=JUNE.start, end=IN_JULY + timedelta(days=1))), [july]
    )
    assert result.problems == [] and result.counts["items_waiting"] == 1


async def test_an_items_block_judges_the_orders_stored_for_its_window(settings):
    world = World(settings)
    mine, earlier = item("o1"), item("o2")
    await world.put(order("o1"), order("o2"), order("o-july", at=IN_JULY), earlier, mine)
    other = order("o9").model_copy(update={"account": "someone-else"})
    await world.put(other)  # another account's order is none of this block's business
    block = spec("ebay", "order_items")
    result = await world.linked(block, [mine])  # o2's item came with an earlier block
    assert result.problems == []
    assert result.counts == {"items_judged": 2, "items_waiting": 0, "orders_without_items": 0}

    await world.put(order("o3"))  # the orders block stored one more, without items
    result = await world.linked(block, [mine])
    assert result.problems == ["1 of 3 orders have no items stored: o3"]


async def test_items_of_unstored_orders_fail_once_the_orders_blocks_are_done(settings):
    world = World(settings)
    await world.put(order("o1"), order("o-july", at=IN_JULY))
    items = [item("o1"), item("o-ghost"), item("o-july")]  # o-july: a month the window ends in
    block = spec("ebay", "order_items", Window(start=JUNE.start, end=IN_JULY))
    halves = [
        spec("ebay", "orders", Window(start=JUNE.start, end=IN_JUNE), "orders.a"),
        spec("ebay", "orders", Window(start=IN_JUNE, end=IN_JULY), "orders.b"),
    ]
    await world.block(halves[0], BlockState.DONE)
    await world.block(halves[1], BlockState.RUNNING)
    assert (await world.linked(block, items)).problems == []  # the orders may still come

    await world.ledger.update_block(
        BlockKey(CLIENT, "ebay", ACCOUNT, "orders", "orders.b"),
        BlockUpdate(state=BlockState.DONE),
        now=IN_JULY,
    )
    result = await world.linked(block, items)
    assert result.problems == ["items of 1 orders that are not stored: o-ghost"]
    # a daily block's items belong to orders changed in its window, created any time:
    # judged where done orders blocks listed by creation hold their dates
    daily = block.model_copy(update={"tier": "daily", "window": Window(start=IN_JULY, end=LATER)})
    assert (await world.linked(daily, items)).problems == [
        "items of 1 orders that are not stored: o-ghost"
    ]
    undated = [item("o-ghost", at=None), item("o-late", at=LATER)]  # no listing holds them
    assert (await world.linked(daily, undated)).counts["orphans"] == 0


async def test_amazon_items_are_found_in_the_undated_partition(settings):
    world = World(settings)
    shipped = order("111-1", "amazon", status="Shipped")
    cancelled = order("111-2", "amazon", status="Canceled")
    lonely = order("111-3", "amazon", status="Unshipped")
    undated = item("111-1", "SKU-A", "amazon", at=None)
    await world.put(shipped, cancelled, lonely, undated, item("111-10", "SKU-B", "amazon", None))
    await world.block(spec("amazon", "order_items"), BlockState.DONE)
    result = await world.linked(spec("amazon", "orders"), [shipped, cancelled, lonely])
    # 111-10's item is not 111-1's (a prefix of ids); a Canceled order needs none
    assert result.problems == ["1 of 2 orders have no items stored: 111-3" + AFTER_ITEMS]


PAID_AT = datetime(2026, 6, 20, 9, tzinfo=UTC)


def ebay_payout(amount: str = "30.00", status: str = "SUCCEEDED") -> Payout:
    return Payout(
        platform="ebay",
        account=ACCOUNT,
        natural_key="P1",
        payout_id="P1",
        status=status,
        amount=usd(amount),
        issued_at=PAID_AT,
    )


async def test_a_settled_payout_is_compared_once_listings_after_it_cover_a_month(settings):
    world = World(settings)
    may = txn("t-may", "10.00", "P1", datetime(2026, 5, 25, tzinfo=UTC))  # 26 days before
    june = txn("t-june", "20.00", "P1", datetime(2026, 6, 18, tzinfo=UTC))
    stranger = txn("t-other", "99.00", "P2", datetime(2026, 6, 18, tzinfo=UTC))
    await world.put(ebay_payout(), may, june, stranger)
    payouts = spec("ebay", "payouts")
    may_block = spec(
        "ebay",
        "transactions",
        Window(start=datetime(2026, 5, 1, tzinfo=UTC), end=JUNE.start),
        "t.may",
    )
    june_block = spec("ebay", "transactions", JUNE, "t.june")

    await world.block(june_block, BlockState.DONE)
    await world.block(may_block, BlockState.DONE, created=PAID_AT - timedelta(hours=1))
    result = await world.linked(payouts, [ebay_payout()])
    assert result.problems == []  # May was listed before the payout: links not final
    assert result.counts == {"payouts_settled_waiting": 1, "payouts_checked": 0}

    late_may = spec("ebay", "transactions", may_block.window, "t.may~2")
    await world.block(late_may, BlockState.DONE)
    assert (await world.linked(payouts, [ebay_payout()])).counts["payouts_checked"] == 1
    result = await world.linked(payouts, [ebay_payout("30.01")])
    assert result.problems == [
        "1 payouts differ from the sum of their transactions: "
        "P1 (30.01 USD against transactions 30.00 USD)"
    ]
    initiated = await world.linked(payouts, [ebay_payout("30.01", status="INITIATED")])
    assert initiated.problems == [] and initiated.counts["payouts_checked"] == 0


async def test_a_transactions_block_completes_the_payouts_it_covers(settings):
    world = World(settings)
    june = txn("t-june", "20.00", "P1", datetime(2026, 6, 18, tzinfo=UTC))
    await world.put(ebay_payout("25.00"), june)
    wide = spec(
        "ebay", "transactions", Window(start=datetime(2026, 5, 1, tzinfo=UTC), end=JUNE.end)
    )
    await world.block(wide, BlockState.RUNNING)  # being verified: counts as done
    result = await world.linked(wide, [june])
    assert result.problems == [
        "1 payouts differ from the sum of their transactions: "
        "P1 (25.00 USD against transactions 20.00 USD)"
    ]
    # a block whose transactions name no payout but whose window meets one's span
    june_block = spec("ebay", "transactions", JUNE, "t.june")
    late_may = Window(start=datetime(2026, 5, 20, tzinfo=UTC), end=JUNE.start)
    may_only = spec("ebay", "transactions", late_may, "t.late-may")
    await world.block(june_block, BlockState.DONE)
    await world.block(may_only, BlockState.RUNNING)
    result = await world.linked(may_only, [])
    assert result.counts["payouts_checked"] == 1 and len(result.problems) == 1


async def test_amazon_groups_add_up_with_their_undated_fees(settings):
    world = World(settings)
    start, end = datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 17, tzinfo=UTC)
    group = Payout(
        platform="amazon",
        account=ACCOUNT,
        natural_key="G1",
        payout_id="G1",
        status="Processing",
        amount=usd("80.01"),
        period_start=start,
        period_end=end,
    )
    sale = txn("e1", "120.00", "G1", datetime(2026, 6, 10, tzinfo=UTC), "amazon")
    fee = txn("e2", "-39.99", "G1", None, "amazon")  # a service fee: no date
    await world.put(group, sale, fee)
    await world.block(spec("amazon", "transactions", Window(start=start, end=end)), BlockState.DONE)
    result = await world.linked(spec("amazon", "payouts"), [group])
    assert result.problems == [] and result.counts["payouts_checked"] == 1

    open_group = group.model_copy(update={"period_end": None, "amount": usd("1")})
    result = await world.linked(spec("amazon", "payouts"), [open_group])
    assert result.problems == [] and result.counts["payouts_checked"] == 0


async def test_amazon_groups_listed_after_two_years_are_compared_too(settings):
    """A group too old for listFinancialEventsByGroupId is listed by posted date over
    its span (shared.platforms.amazon.pagination): a listing made after two years sees
    the group's events like any other, so a sum that differs is a problem."""
    world = World(settings)
    start, end = datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 17, tzinfo=UTC)
    group = Payout(
        platform="amazon",
        account=ACCOUNT,
        natural_key="G0",
        payout_id="G0",
        amount=usd("80.01"),
        period_start=start,
        period_end=end,
    )
    await world.put(group)  # no events stored for it
    window = Window(start=start, end=end)
    await world.block(spec("amazon", "transactions", window), BlockState.DONE, start + 731 * DAY)
    result = await world.linked(spec("amazon", "payouts"), [group])
    assert result.problems == [
        "1 payouts differ from the sum of their transactions: "
        "G0 (80.01 USD against transactions 0 USD)"
    ]


async def test_demo_blocks_are_not_linked(settings):
    world = World(settings)
    await world.block(spec("ebay", "order_items"), BlockState.DONE)
    demo = spec("ebay", "orders").model_copy(update={"tier": "demo"})
    assert (await world.linked(demo, [order("o1")])).problems == []


async def test_an_orders_block_finds_stored_items_dated_in_its_window_without_their_order(
    settings,
):
    """From the orders end, whatever the items blocks' state: an item is dated by its
    order's creation, so its order belongs to the window whose listing it dates."""
    world = World(settings)
    listed = [order("o1")]
    await world.put(*listed, item("o1"), item("o-lost"), item("o-next", at=JUNE.end))
    await world.block(spec("ebay", "order_items"), BlockState.RUNNING)
    result = await world.linked(spec("ebay", "orders"), listed)
    assert result.problems == [
        "items of 1 orders that are not stored: o-lost (dated in this window)"
    ]
    assert result.counts["orphans"] == 1 and result.suspects == []
    daily = spec("ebay", "orders").model_copy(update={"tier": "daily"})  # listed by update
    assert (await world.linked(daily, listed)).problems == []
