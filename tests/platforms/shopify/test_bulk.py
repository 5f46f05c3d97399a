"""Bulk Operations against the sandbox: a retried block resumes its job; a shop's one
running bulk query is adopted when it is ours and waited out when it is not."""

from __future__ import annotations

from datetime import timedelta

from shared.platforms.base import Outcome, PageRequest, Window
from tests.platforms.shopify.support import (
    Stats,
    account,
    connector,
    drive,
    make_world,
    records,
    release,
    truth,
    windows,
)


def jobs(world) -> int:
    return len(world.platforms["shopify"].bulk._ops)  # type: ignore[attr-defined]


async def test_a_retried_block_resumes_polling_the_same_job() -> None:
    world = make_world()
    window = windows(world, parts=1)[0]
    conn = connector(world)
    created = await conn.fetch(conn.first_request("orders", window, bulk=True))
    assert created.classified.outcome is Outcome.OK and created.next is not None
    saved = created.next.model_dump_json()  # what the orchestration history holds
    await release(world, conn)  # the worker dies here
    assert jobs(world) == 1

    conn = connector(world)  # the retried block, on another worker
    try:
        resumed = PageRequest.model_validate_json(saved)
        assert resumed.step == "bulk_poll" and resumed.state["job_id"]
        payloads = await drive(conn, world.clock, resumed, Stats())
    finally:
        await release(world, conn)
    assert jobs(world) == 1  # no second job was started
    got = records("orders", payloads, account(world))
    assert got == truth(world, "orders")


async def test_a_running_job_with_our_query_is_adopted() -> None:
    world = make_world()
    window = windows(world, parts=1)[0]
    conn = connector(world)
    try:
        await conn.fetch(conn.first_request("orders", window, bulk=True))  # block A's job
        # block B (items of the same window: the same bulk query) starts meanwhile
        b = await conn.fetch(conn.first_request("order_items", window, bulk=True))
        assert b.classified.outcome is Outcome.OK and b.next is not None
        assert b.next.state.get("current")  # OPERATION_IN_PROGRESS: look at the running one
        payloads = await drive(conn, world.clock, b.next, Stats())
    finally:
        await release(world, conn)
    assert jobs(world) == 1
    got = records("order_items", payloads, account(world))
    assert got == truth(world, "order_items")


async def test_another_blocks_job_is_waited_out_then_ours_runs() -> None:
    world = make_world()
    whole = windows(world, parts=1)[0]
    recent = Window(start=whole.end - timedelta(days=7), end=whole.end)
    conn = connector(world)
    try:
        await conn.fetch(conn.first_request("orders", whole, bulk=True))  # someone else's
        stats = Stats()
        first = conn.first_request("orders", recent, bulk=True)
        payloads = await drive(conn, world.clock, first, stats)
    finally:
        await release(world, conn)
    assert jobs(world) == 2 and stats.requests >= 4  # create, current poll(s), create, …
    got = records("orders", payloads, account(world))
    want = {k: r for k, r in truth(world, "orders").items() if r.created_at >= recent.start}
    assert want and got == want  # exactly the window's orders, from our own job


async def test_a_returns_block_reads_the_file_the_orders_block_made() -> None:
    """The orders block's job (same query: the orders file) is done; the returns block of
    the window adopts it (currentBulkOperation) and asks only for the refunds' details."""
    world = make_world()
    window = windows(world, parts=1)[0]
    conn = connector(world)
    try:
        await drive(conn, world.clock, conn.first_request("orders", window, bulk=True), Stats())
        stats = Stats()
        first = conn.first_request("returns", window, bulk=True)
        assert first.step == "bulk_poll" and first.state["current"]
        payloads = await drive(conn, world.clock, first, stats)
    finally:
        await release(world, conn)
    assert jobs(world) == 1  # no second job
    assert records("returns", payloads, account(world)) == truth(world, "returns")


async def test_an_expired_file_runs_the_job_again() -> None:
    world = make_world()
    window = windows(world, parts=1)[0]
    conn = connector(world)
    try:
        await drive(conn, world.clock, conn.first_request("orders", window, bulk=True), Stats())
        world.clock.advance(8 * 86_400)  # the file's signed URL expires after 7 days
        payloads = await drive(
            conn, world.clock, conn.first_request("returns", window, bulk=True), Stats()
        )
    finally:
        await release(world, conn)
    assert jobs(world) == 2  # the adopted job's file was gone: a new job
    assert records("returns", payloads, account(world)) == truth(world, "returns")
