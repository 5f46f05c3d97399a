"""Amazon chains in the corners: report lifecycle (FATAL, CANCELLED, a retried block
resuming the same report), empty finance pages that still carry a NextToken, the
listFinancialEvents path, and malformed pages."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.faults import FaultRates, Faults
from shared.errors import MalformedPayloadError
from shared.platforms.amazon import pagination, reports
from shared.platforms.base import Outcome, PageRequest, Window
from tests.platforms.amazon.support import AmazonEnv, drive, records, truth_records

DOWNLOADS = ("bulk_download",)


def report_faults(seed: int) -> Faults:
    # the sandbox fails a report FATAL when its server_error fault hits the report itself
    return Faults(per_platform={"amazon": FaultRates(server_error=0.4)}, seed=seed)


async def test_a_fatal_report_is_created_again_and_then_complete() -> None:
    env = AmazonEnv(faults=report_faults(2))  # seed 2: two FATAL reports, then DONE
    connector = env.connector()
    results = await env.drive(connector, connector.first_request("returns", env.history_window()))
    assert env.world.accounting.faults[("amazon", "report_fatal")] == 2
    assert results[-1].request.state["attempt"] == 3
    got = {r.natural_key for r in records(results, "returns", env.account, DOWNLOADS)}
    assert got == {r.natural_key for r in truth_records(env, "returns")}
    await connector.aclose()


async def test_three_fatal_reports_make_the_chain_permanent() -> None:
    env = AmazonEnv(faults=report_faults(5))  # seed 5: FATAL three times
    connector = env.connector()
    with pytest.raises(AssertionError, match="FATAL 3 times"):
        await env.drive(connector, connector.first_request("returns", env.history_window()))
    assert env.outcomes[Outcome.PERMANENT] == 1
    await connector.aclose()


async def test_a_retried_block_resumes_polling_the_same_report() -> None:
    env = AmazonEnv()
    connector = env.connector()
    created = await connector.fetch(
        connector.first_request("orders", env.history_window(), bulk=True)
    )
    poll = created.next
    assert poll is not None and poll.step == "bulk_poll" and poll.state["report_id"]
    await connector.aclose()
    # the block dies; its last request survives as JSON in the history
    revived = PageRequest.model_validate_json(poll.model_dump_json())
    again = env.connector()
    results = await drive(again, revived, env.clock)
    assert env.world.accounting.calls[("amazon", "createReport")] == 1
    assert {r.request.state["report_id"] for r in results} == {poll.state["report_id"]}
    got = records(results, "orders", env.account, DOWNLOADS)
    assert {o.natural_key for o in got} == {o.natural_key for o in truth_records(env, "orders")}
    await again.aclose()


async def test_a_window_without_rows_ends_cancelled_without_a_document() -> None:
    env = AmazonEnv()
    connector = env.connector()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    window = Window(start=start, end=start + timedelta(days=1))
    results = await env.drive(connector, connector.first_request("returns", window))
    assert results[-1].request.step == "bulk_poll"
    assert results[-1].payload["processingStatus"] == "CANCELLED"
    assert records(results, "returns", env.account, DOWNLOADS) == []
    await connector.aclose()


async def test_empty_finance_pages_with_a_next_token_are_followed() -> None:
    faults = Faults(per_platform={"amazon": FaultRates(empty_finance_page=0.5)}, seed=5)
    env = AmazonEnv(faults=faults)
    connector = env.connector()
    groups = await env.drive(connector, connector.first_request("payouts", env.history_window()))
    events = []
    for page in groups:
        events += await env.drive(connector, connector.dependent_request(page))
    empty_with_token = [
        r
        for r in [*groups, *events]
        if r.payload["payload"].get("NextToken")
        and not r.payload["payload"].get("FinancialEventGroupList")
        and not any(r.payload["payload"].get("FinancialEvents", {}).values())
    ]
    assert empty_with_token, "the fault served empty pages that carry a NextToken"
    got = {r.natural_key for r in records(events, "transactions", env.account)}
    assert got == {r.natural_key for r in truth_records(env, "transactions")}
    got = {r.natural_key for r in records(groups, "payouts", env.account)}
    assert got == {r.natural_key for r in truth_records(env, "payouts")}
    await connector.aclose()


async def test_events_by_posted_date_hold_every_dated_event() -> None:
    """listFinancialEvents has no group: dated events get the same keys as by group;
    undated ones (monthly fees) can only be told apart by group, hence the group path."""
    env = AmazonEnv()
    connector = env.connector()
    results = await env.drive(
        connector, connector.first_request("transactions", env.history_window())
    )
    by_date = records(results, "transactions", env.account)
    truth = truth_records(env, "transactions")
    assert Counter(r.natural_key for r in by_date if r.posted_at) == Counter(
        r.natural_key for r in truth if r.posted_at
    )
    assert any(r.posted_at is None for r in by_date), "undated events are listed too"
    await connector.aclose()


def test_malformed_pages_raise_typed_errors_naming_the_field() -> None:
    window = Window(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
    request = pagination.orders_request(window, ["ATVPDKIKX0DER"])
    with pytest.raises(MalformedPayloadError) as info:
        pagination.next_request(request, {"errors": []})
    assert info.value.field == "payload" and info.value.platform == "amazon"
    with pytest.raises(MalformedPayloadError) as info:
        pagination.next_request(request, {"payload": {"Orders": [], "NextToken": 7}})
    assert info.value.field == "NextToken"


def test_order_items_chain_walks_every_order_and_token() -> None:
    first = pagination.order_items_request(["1-1-1", "2-2-2", "1-1-1"])
    assert first is not None and first.path == "/orders/v0/orders/1-1-1/orderItems"
    paged = pagination.next_request(first, {"payload": {"NextToken": "t", "OrderItems": []}})
    assert paged is not None and paged.path == first.path and paged.params == {"NextToken": "t"}
    second = pagination.next_request(paged, {"payload": {"OrderItems": []}})
    assert second is not None and second.path == "/orders/v0/orders/2-2-2/orderItems"
    assert second.params == {} and second.page_number == 2
    assert pagination.next_request(second, {"payload": {"OrderItems": []}}) is None
    assert pagination.order_items_request([]) is None
    with pytest.raises(Exception, match="malformed order id"):
        pagination.order_items_request(["../../finances"])


async def test_groups_too_old_for_by_group_are_listed_by_posted_date_in_their_currency() -> None:
    """Two years on, listFinancialEventsByGroupId shows nothing for the older groups; the
    chain a groups page implies lists those by posted date over each group's span, keeps
    the group's currency, and scopes undated events by the group: every event of the
    ground truth, same keys and payout ids, none twice."""
    env = AmazonEnv()
    env.clock.advance(690 * 86_400)  # the older groups near or past two years
    window = env.history_window()
    connector = env.connector()
    groups = await env.drive(connector, connector.first_request("payouts", window))
    events = []
    for page in groups:
        events += await env.drive(connector, connector.dependent_request(page))
    routes = Counter(r.request.route for r in events)
    assert routes["listFinancialEvents"] and routes["listFinancialEventsByGroupId"], routes
    by_date = [r.request for r in events if r.request.route == "listFinancialEvents"]
    group_id, _, _, currency = by_date[0].state["group"]  # the oldest group
    assert by_date[0].state["scope"] == f"{group_id}|{currency}"
    hidden = await connector.fetch(pagination.group_events_request([group_id]))
    assert not any(hidden.payload["payload"]["FinancialEvents"].values()), "ByGroupId hides it"

    got = records(events, "transactions", env.account)
    truth = truth_records(env, "transactions")
    assert Counter(r.natural_key for r in got) == Counter(r.natural_key for r in truth)
    assert {r.natural_key: r.payout_id for r in got} == {r.natural_key: r.payout_id for r in truth}
    old_groups = {r.state["group"][0] for r in by_date}
    assert any(r.posted_at is None and r.payout_id in old_groups for r in got), "undated too"
    await connector.aclose()


async def test_orders_and_items_over_one_window_share_one_report() -> None:
    """The all-orders report serves orders and order items: the second chain finds the
    first one's report (getReports) and polls or downloads it instead of queueing an
    identical one behind it. A report of another window is not adopted."""
    env = AmazonEnv()
    connector = env.connector()
    window = env.history_window()
    first = connector.first_request("orders", window, bulk=True, now=env.now())
    assert first.step == "bulk_find"
    found = await connector.fetch(first)  # nothing yet
    assert found.next is not None and found.next.step == "bulk_create"
    created = await connector.fetch(found.next)
    report_id = created.next.state["report_id"]

    items = await env.drive(
        connector, connector.first_request("order_items", window, bulk=True, now=env.now())
    )
    assert [r.request.step for r in items][:2] == ["bulk_find", "bulk_poll"]  # adopted, pending
    assert {r.request.state.get("report_id") for r in items[1:]} == {report_id}
    got = records(items, "order_items", env.account, DOWNLOADS)
    assert {i.natural_key for i in got} == {
        i.natural_key for i in truth_records(env, "order_items")
    }

    orders = await env.drive(connector, created.next)  # the first chain goes on
    again = await env.drive(
        connector, connector.first_request("orders", window, bulk=True, now=env.now())
    )
    assert [r.request.step for r in again] == ["bulk_find", "bulk_download"]  # adopted, done
    for chain in (orders, again):
        got = records(chain, "orders", env.account, DOWNLOADS)
        assert {o.natural_key for o in got} == {o.natural_key for o in truth_records(env, "orders")}

    other = Window(start=window.start, end=window.end - timedelta(days=1))
    await env.drive(connector, connector.first_request("orders", other, bulk=True, now=env.now()))
    assert env.world.accounting.calls[("amazon", "createReport")] == 2
    await connector.aclose()


@pytest.mark.parametrize(
    ("status", "step", "wait"),
    [
        ("IN_QUEUE", "bulk_poll", reports.POLL_S),
        ("IN_PROGRESS", "bulk_poll", reports.POLL_RUNNING_S),
        ("FATAL", "bulk_create", 0.0),
        ("CANCELLED", None, None),
    ],
)
def test_the_step_after_a_poll(status: str, step: str | None, wait: float | None) -> None:
    """Pure: a queued report is polled again later than a running one (which ends soon);
    a FATAL one is created again at once, a CANCELLED one ends the chain."""
    window = Window(start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC))
    create = reports.create_request("orders", window, ["ATVPDKIKX0DER"])
    poll = reports.after_create(create, {"reportId": "123"})
    assert poll.not_before_s == reports.FIRST_POLL_S and poll.calls_ahead == 1
    following = reports.after_poll(poll, {"processingStatus": status, "reportId": "123"})
    if step is None:
        assert following is None
        return
    assert following is not None and following.step == step
    assert following.not_before_s == wait and following.calls_ahead == 1
    if status == "FATAL":
        assert following.state["attempt"] == 2 and following.body == create.body
