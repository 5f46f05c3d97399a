import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.settings import Settings
from shared.storage.blocks import Block, BlockRejected, BlockState, BlockUpdate
from shared.storage.clients import StorageClients
from shared.storage.ledger import Alert, Connection, ConnectionStatus, Ledger

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def block(block_id: str = "2024-05", *, resource: str = "orders", account: str = "shop") -> Block:
    return Block(
        client="c1",
        platform="etsy",
        account=account,
        resource=resource,
        block_id=block_id,
        window_start=T0 - timedelta(days=31),
        window_end=T0,
        created_at=T0,
        updated_at=T0,
    )


@pytest.fixture
def ledger(settings: Settings, clients: StorageClients) -> Ledger:
    return Ledger(settings, clients=clients)


class RaceReader(Ledger):
    """A ledger whose first read waits until every racer has read, so their writes are
    all decided on the same row and all but one must lose the ETag check."""

    def __init__(self, *args, barrier: asyncio.Barrier, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._barrier: asyncio.Barrier | None = barrier

    async def _get(self, table, partition, row):
        entity = await super()._get(table, partition, row)
        if self._barrier is not None:
            barrier, self._barrier = self._barrier, None
            await barrier.wait()
        return entity


async def test_planning_again_keeps_progress(ledger: Ledger) -> None:
    blocks = [block("2024-05"), block("2024-04"), block("2024-05", resource="payouts")]
    assert await ledger.plan_blocks(blocks) == 3
    await ledger.update_block(blocks[0].key, BlockUpdate(state=BlockState.RUNNING), now=at(1))
    assert await ledger.plan_blocks([*blocks, block("2024-03")]) == 1
    stored = {(b.resource, b.block_id): b for b in await ledger.list_blocks("c1")}
    assert len(stored) == 4
    assert stored["orders", "2024-05"].state == BlockState.RUNNING
    assert stored["orders", "2024-05"].window_end == T0


async def test_blocks_move_forward_only(ledger: Ledger) -> None:
    key = block().key
    await ledger.plan_blocks([block()])
    running = await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING), now=at(1))
    assert (running.state, running.attempts) == (BlockState.RUNNING, 1)
    progress = BlockUpdate(state=BlockState.RUNNING, pages=3, records=250, reported=250)
    await ledger.update_block(key, progress, now=at(2))
    done = await ledger.update_block(key, BlockUpdate(state=BlockState.DONE), now=at(3))
    assert (done.state, done.records, done.updated_at) == (BlockState.DONE, 250, at(3))

    again = await ledger.update_block(key, BlockUpdate(state=BlockState.DONE), now=at(4))
    assert again.updated_at == at(3)  # a retried "done" is a no-op
    with pytest.raises(BlockRejected) as caught:
        await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING), now=at(5))
    assert caught.value.current.state == BlockState.DONE
    assert (await ledger.get_block(key)).state == BlockState.DONE

    with pytest.raises(KeyError):
        await ledger.update_block(block("never").key, BlockUpdate(state=BlockState.RUNNING))


async def test_failed_block_retries_then_parks(ledger: Ledger) -> None:
    key = block().key
    await ledger.plan_blocks([block()])
    for attempt in (1, 2, 3):
        await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING, attempt=attempt))
        failed = BlockUpdate(state=BlockState.FAILED, attempt=attempt, error=f"gap {attempt}")
        await ledger.update_block(key, failed)
    parked = await ledger.update_block(key, BlockUpdate(state=BlockState.PARKED))
    assert (parked.state, parked.attempts, parked.last_error) == (BlockState.PARKED, 3, "gap 3")


async def test_concurrent_writers_never_lose_an_update(settings, clients) -> None:
    """Two hosts decide on the same running block at once: one marks it done, the other
    failed. Exactly one wins; the loser re-reads, sees the winner's state and is refused."""
    first = Ledger(settings, clients=clients)
    await first.plan_blocks([block()])
    key = block().key
    await first.update_block(key, BlockUpdate(state=BlockState.RUNNING, attempt=1))

    barrier = asyncio.Barrier(2)
    racers = [RaceReader(settings, clients=clients, barrier=barrier) for _ in range(2)]
    updates = [
        BlockUpdate(state=BlockState.DONE, attempt=1, records=10),
        BlockUpdate(state=BlockState.FAILED, attempt=1, error="count mismatch"),
    ]
    outcomes = await asyncio.gather(
        *(r.update_block(key, u, now=at(9)) for r, u in zip(racers, updates, strict=True)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, Block)]
    losers = [o for o in outcomes if isinstance(o, BlockRejected)]
    assert len(winners) == 1 and len(losers) == 1
    assert sum(r.conflicts for r in racers) == 1
    stored = await first.get_block(key)
    assert stored == winners[0]
    assert losers[0].current == stored


async def test_racing_progress_updates_are_retried_not_lost(settings, clients) -> None:
    ledger = Ledger(settings, clients=clients)
    await ledger.plan_blocks([block()])
    key = block().key
    await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING))
    barrier = asyncio.Barrier(5)
    racers = [RaceReader(settings, clients=clients, barrier=barrier) for _ in range(5)]
    await asyncio.gather(
        *(
            r.update_block(key, BlockUpdate(state=BlockState.RUNNING, pages=n))
            for n, r in enumerate(racers, 1)
        )
    )
    assert sum(r.conflicts for r in racers) >= 4
    stored = await ledger.get_block(key)
    assert (stored.state, stored.attempts) == (BlockState.RUNNING, 1) and stored.pages in range(
        1, 6
    )


async def test_watermark_only_advances(settings, clients, ledger: Ledger) -> None:
    mark = ("c1", "amazon", "A1", "orders")
    assert await ledger.get_watermark(*mark) is None
    assert (await ledger.advance_watermark(*mark, at(10), now=at(0))).value == at(10)
    assert (await ledger.advance_watermark(*mark, at(5), now=at(1))).value == at(10)
    stored = await ledger.get_watermark(*mark)
    assert (stored.value, stored.updated_at) == (at(10), at(0))

    values = [at(m) for m in range(20, 60)]
    random.Random(7).shuffle(values)
    barrier = asyncio.Barrier(len(values))
    racers = [RaceReader(settings, clients=clients, barrier=barrier) for _ in values]
    await asyncio.gather(
        *(r.advance_watermark(*mark, v) for r, v in zip(racers, values, strict=True))
    )
    assert (await ledger.get_watermark(*mark)).value == at(59)
    assert sum(r.conflicts for r in racers) > 0


async def test_alerts_are_deduplicated(ledger: Ledger) -> None:
    parked = block().model_copy(
        update={"state": BlockState.PARKED, "attempts": 3, "last_error": "missing pages"}
    )
    alert = Alert.block_parked(parked, at(1))
    results = await asyncio.gather(*(ledger.raise_alert(alert) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    later = Alert.block_parked(parked, at(90))
    assert await ledger.raise_alert(later) is False
    other = Alert.block_parked(block("2024-04"), at(2))
    assert await ledger.raise_alert(other) is True

    assert len(await ledger.list_alerts("c1", unsent_only=True)) == 2
    sent = await ledger.mark_alert_sent("c1", alert.dedupe_key, now=at(3))
    assert sent.sent_at == at(3)
    assert (await ledger.mark_alert_sent("c1", alert.dedupe_key, now=at(4))).sent_at == at(3)
    assert [a.dedupe_key for a in await ledger.list_alerts(unsent_only=True)] == [other.dedupe_key]
    assert "missing pages" in sent.body


async def test_connections(ledger: Ledger) -> None:
    conn = Connection(
        client="c1",
        platform="shopify",
        account="acme.myshopify.com",
        credentials_ref="kv:tributary-c1-shopify",
        encrypted_credentials="gAAAAB...opaque",
        created_at=at(0),
        updated_at=at(0),
    )
    assert "opaque" not in repr(conn)
    await ledger.save_connection(conn)
    resaved = await ledger.save_connection(
        conn.model_copy(update={"created_at": at(5), "updated_at": at(5)})
    )
    assert (resaved.created_at, resaved.updated_at) == (at(0), at(5))
    paused = await ledger.set_connection_status(
        "c1", "shopify", "acme.myshopify.com", ConnectionStatus.PAUSED, now=at(6)
    )
    assert paused.status == ConnectionStatus.PAUSED
    other = conn.model_copy(update={"client": "c2", "account": "b"})
    await ledger.save_connection(other)
    assert await ledger.get_connection("c1", "shopify", "acme.myshopify.com") == paused
    active = await ledger.list_connections(status=ConnectionStatus.ACTIVE)
    assert [c.client for c in active] == ["c2"]
    assert len(await ledger.list_connections()) == 2
    assert await ledger.list_connections("c1") == [paused]
    with pytest.raises(KeyError):
        await ledger.set_connection_status("c9", "etsy", "x", ConnectionStatus.REVOKED)
