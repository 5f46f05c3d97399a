"""The in-repo simulators' payloads normalize, and agree with each other and with money.

The sandboxes serve spec-shaped data with a known ground truth; here their payloads are
wrapped in the page envelopes the APIs use and normalized: every record is read, keys are
the documented natural keys, the order report agrees with the Orders API, and finance
components add up to each closed settlement group's OriginalTotal."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from sandbox.amazon.finance import event_total
from sandbox.amazon.reports import ORDERS_BY_DATE, RETURNS_BY_DATE, ReportJob, render, report_rows
from sandbox.scenario import load
from sandbox.world import World
from shared.normalize import normalize

CLIENT = "c-tiny"


@pytest.fixture(scope="module")
def world() -> World:
    return World(load("tiny"), platforms=("amazon", "quiltt"))


def truth(world: World, platform: str, resource: str) -> list[dict[str, Any]]:
    return world.ground_truth(CLIENT, platform, resource)


def report_text(world: World, report_type: str) -> str:
    amazon = world.platforms["amazon"]
    history = amazon.data(CLIENT).history  # type: ignore[attr-defined]
    now = world.clock.now()
    job = ReportJob(
        report_id="r1",
        account="acct",
        client_id=CLIENT,
        report_type=report_type,
        marketplace_ids=["ATVPDKIKX0DER", "A1VC38T7YXB528"],
        data_start=history.start,
        data_end=now,
        created=now,
        started=now,
        ended=now,
        outcome="DONE",
        document_id="d1",
    )
    return render(report_type, report_rows(job, history, now)).decode()


def test_amazon_orders_api_and_report_agree(world: World) -> None:
    raw = truth(world, "amazon", "orders")
    api = normalize("amazon", "orders", {"payload": {"Orders": raw}}, account="acct")
    assert [o.natural_key for o in api] == [o["AmazonOrderId"] for o in raw]
    from_report = {
        o.natural_key: o for o in normalize("amazon", "orders", report_text(world, ORDERS_BY_DATE))
    }
    assert set(from_report) == {o.natural_key for o in api}
    priced = [o for o in api if o.total is not None]
    assert priced, "the scenario has priced orders"
    for order in api:
        twin = from_report[order.natural_key]
        assert (twin.created_at, twin.status) == (order.created_at, order.status)
        if order.total is not None:
            assert twin.total == order.total  # the report's parts add up to OrderTotal


def test_amazon_items_api_and_report_share_keys(world: World) -> None:
    pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in truth(world, "amazon", "order_items"):
        pages[item["AmazonOrderId"]].append({k: v for k, v in item.items() if k != "AmazonOrderId"})
    api = [
        record
        for order_id, items in pages.items()
        for record in normalize(
            "amazon", "order_items", {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}
        )
    ]
    report = normalize("amazon", "order_items", report_text(world, ORDERS_BY_DATE))
    assert len({i.natural_key for i in api}) == len(api)
    assert {i.natural_key for i in api} == {i.natural_key for i in report}


def test_amazon_finance_components_add_up_to_settlements(world: World) -> None:
    """Pages by group (listFinancialEventsByGroupId), the group id passed as ``scope``:
    every component gets its own key, even the byte-identical monthly subscription fees."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    records = []
    for event in truth(world, "amazon", "transactions"):
        group, body = (
            event["FinancialEventGroupId"],
            {k: v for k, v in event.items() if k not in ("FinancialEventGroupId", "EventList")},
        )
        page = {"payload": {"FinancialEvents": {event["EventList"]: [body]}}}
        components = normalize("amazon", "transactions", page, scope=group)
        assert sum(r.amount.amount for r in components) == event_total(body)
        assert {r.payout_id for r in components} == {group}
        sums[group] += sum(r.amount.amount for r in components)
        records += components
    assert len({r.natural_key for r in records}) == len(records)
    groups = truth(world, "amazon", "payouts")
    payouts = normalize("amazon", "payouts", {"payload": {"FinancialEventGroupList": groups}})
    closed = [p for p in payouts if p.period_end is not None and p.amount is not None]
    assert closed
    for payout in closed:
        assert sums[payout.payout_id] == payout.amount.amount  # type: ignore[union-attr]


def test_amazon_returns_and_inventory(world: World) -> None:
    rows = truth(world, "amazon", "returns")
    returns = normalize("amazon", "returns", report_text(world, RETURNS_BY_DATE))
    assert sorted(r.natural_key for r in returns) == sorted(r["Amazon RMA ID"] for r in rows)
    summaries = truth(world, "amazon", "inventory")
    page = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": "ATVPDKIKX0DER"},
            "inventorySummaries": summaries,
        }
    }
    levels = normalize("amazon", "inventory", page)
    assert [lv.sku for lv in levels] == [s["sellerSku"] for s in summaries]


def test_quiltt_transactions(world: World) -> None:
    nodes = truth(world, "quiltt", "bank_transactions")
    page = {"data": {"transactions": {"edges": [{"node": n} for n in nodes], "pageInfo": {}}}}
    records = normalize("quiltt", "bank_transactions", page, account="p_1")
    assert [r.natural_key for r in records] == [n["id"] for n in nodes]
    for record, node in zip(records, nodes, strict=True):
        sign = 1 if node["entryType"] == "CREDIT" else -1
        assert record.amount.amount == sign * abs(Decimal(str(node["amount"])))
        assert record.booked_on.isoformat() == node["date"]
