"""Backfills load history through the platforms' bulk paths, on the tiny world.

Amazon orders, order items and returns come from reports (createReport -> getReport ->
getReportDocument), Shopify orders and order items from one Bulk Operation per window;
only the recent day goes through the per-record paths (getOrders / getOrderItems, paged
GraphQL). Checked on the sandbox's own accounting and on a log of every request, and
the stored records against the ground truth: exactly, where Amazon's flat file carries
other fields than the Orders API (no OrderItemId, order subtotals), each record equals
the rendering of the path that loaded it (``report_truth``).

The requests per platform are set against ``bench.floor``'s count for the same world
(token calls left out, as the floor does; file downloads from report / bulk URLs are
counted, the floor does not count them); the figures are printed and bounded loosely
here, the benchmark reports them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench.census import take_census
from bench.floor import floor
from sandbox.amazon.reports import ORDERS_BY_DATE, ReportJob, render, report_rows
from shared.ambassador.policies import PlatformPolicy
from shared.flows.chains import BULK_HISTORY, BULK_PATHS
from shared.flows.models import BlockSpec, PlanInput, ResourceRun
from shared.flows.store import FlowStore
from shared.models import Record, record_from_json
from shared.normalize import normalize
from shared.planning import observed_density, plan_blocks
from shared.storage.blocks import BlockKey, BlockState, BlockUpdate
from shared.storage.ledger import Ledger
from tests.flows.harness import Stack
from tests.flows.truth import truth

TOKEN_PATH = re.compile(r"/(oauth2?/token|auth/o2/token|oauth/token|users/sessions|access_token)")
ITEMS_PATH = re.compile(r"/orders/v0/orders/([^/]+)/orderItems$")


class RequestLog(httpx.AsyncBaseTransport):
    """Forwards to the sandbox and notes (method, path, kind) of each call; the kind of a
    GraphQL call is ``bulk_create``, ``bulk_poll`` (a job lookup: polls, and the one
    before a download) or ``query`` (a paged query)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, calls: list) -> None:
        self.inner, self.calls = inner, calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = ""
        if request.url.path.endswith("graphql.json"):
            body = json.loads(request.content or b"{}").get("query", "")
            kind = (
                "bulk_create"
                if "bulkOperationRunQuery" in body
                else "bulk_poll"
                if "BulkOperation" in body
                else "query"
            )
        self.calls.append((request.method, request.url.path, kind))
        return await self.inner.handle_async_request(request)


def report_truth(stack: Stack, resource: str) -> dict[str, Record]:
    """The Amazon ground truth as the all-orders flat file renders it (every order of
    the history, at the world's present), normalized by the app."""
    history = stack.world.platforms["amazon"].data(stack.client_id).history
    markets = sorted({o.marketplace.marketplace_id for o in history.orders})
    now = stack.clock.now()
    job = ReportJob("truth", stack.account("amazon"), stack.client_id, ORDERS_BY_DATE, markets,
                    0.0, now, now, now, now, "DONE", None)  # fmt: skip
    text = render(ORDERS_BY_DATE, report_rows(job, history, now)).decode()
    records = normalize("amazon", resource, text, account=stack.account("amazon"))
    return {r.natural_key: r for r in records}


BULK_RENDERED = {("amazon", "orders"), ("amazon", "order_items")}
"""(platform, resource) whose bulk path renders records with other fields than the
per-record path (same natural keys): a stored record equals one of the two renderings."""


async def assert_stored_truth(stack: Stack, platform: str, resource: str) -> dict[str, Record]:
    """0 missing, 0 extra, 0 duplicate rows, and every record equal to its truth (or,
    for ``BULK_RENDERED``, to the bulk rendering); returns the stored records."""
    want = truth(stack, platform, resource)
    rows = await stack.stored(platform, resource)
    got = {r["natural_key"]: record_from_json(r) for r in rows}
    assert want, f"the tiny world has {platform} {resource}"
    assert len(rows) == len(got), f"{platform} {resource}: duplicate rows"
    missing, extra = set(want) - set(got), set(got) - set(want)
    assert not missing and not extra, (resource, sorted(missing)[:3], sorted(extra)[:3])
    alternative = report_truth(stack, resource) if (platform, resource) in BULK_RENDERED else {}
    differ = [k for k in want if got[k] != want[k] and got[k] != alternative.get(k)]
    assert not differ, (platform, resource, differ[:3])
    return got


async def onboard(stack: Stack, platform: str) -> list[tuple[str, str, str]]:
    return await onboard_all(stack, (platform,))


async def onboard_all(stack: Stack, platforms) -> list[tuple[str, str, str]]:
    """Connect every platform, run the onboardings to the end; the request log."""
    calls: list[tuple[str, str, str]] = []
    inner = stack.transport
    stack.transport = lambda name: RequestLog(inner(name), calls)
    async with stack.running():
        ids = []
        for platform in platforms:
            response = await stack.connect(platform)
            assert response.status_code == 202, response.get_body()
            ids.append(json.loads(response.get_body())["id"])
        for instance in ids:
            status = await stack.host.run_until_done(instance)
            assert status["runtimeStatus"] == "Completed", status
        blocks = await Ledger(stack.settings).list_blocks(stack.client_id)
        assert blocks and all(b.state == BlockState.DONE for b in blocks), [
            (b.block_id, b.state, b.last_error) for b in blocks if b.state != BlockState.DONE
        ]
    return calls


async def plans(stack: Stack, platform: str, resources) -> dict[str, list]:
    store = FlowStore(stack.settings)
    account = stack.account(platform)
    out = {}
    for resource in resources:
        plan = await store.get_plan(stack.client_id, platform, account, resource)
        assert plan, f"{platform} {resource}: no stored plan"
        out[resource] = plan
    return out


def floor_calls(stack: Stack, platform: str) -> int:
    census = take_census(stack.world, (platform,))
    policies = {platform: PlatformPolicy.from_settings(platform, {})}
    return floor(census, policies, bulk=True).calls_per_platform[platform]


def api_calls(calls) -> int:
    return sum(1 for _, path, _ in calls if not TOKEN_PATH.search(path))


def assert_bulk_plan(plan: list, resource: str) -> None:
    """The recent day by the per-record path first, then the history in bulk."""
    assert plan[0].phase == "recent_day" and not plan[0].bulk, resource
    history = plan[1:]
    assert history and all(b.bulk and b.phase == "history" for b in history), resource
    assert history[-1].window.start < plan[0].window.start


async def test_amazon_history_comes_from_reports(monkeypatch, azurite, capsys) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("amazon",))
    calls = await onboard(stack, "amazon")
    ops = Counter(
        op for (platform, op), n in stack.world.accounting.calls.items() for _ in range(n)
    )
    planned = await plans(stack, "amazon", ("orders", "order_items", "returns"))
    for resource, plan in planned.items():
        assert_bulk_plan(plan, resource)
    # one report per history window, orders and items over the same window sharing the
    # all-orders report (getReports finds the first one's), + the recent day's returns
    windows = {
        (r if r == "returns" else "orders", b.window.start, b.window.end)
        for r, plan in planned.items()
        for b in plan[1:]
    }
    blocks = sum(len(plan) - 1 for plan in planned.values())
    assert len(windows) < blocks  # orders and items over the same windows
    # shared when one block finds the other's report; two looking at once both create
    jobs = ops["createReport"]
    assert len(windows) + 1 <= jobs <= blocks + 1, ops  # no FATAL report on a clean run
    assert ops["getReportDocument"] == ops["downloadReportDocument"] <= jobs
    assert 1 <= ops["getReport"] <= 8 * jobs

    # getOrderItems only for orders of the recent day (the per-record path)
    recent = planned["order_items"][0].window
    orders = truth(stack, "amazon", "orders")
    asked = {ITEMS_PATH.search(path).group(1) for _, path, _ in calls if ITEMS_PATH.search(path)}
    assert ops["getOrderItems"] == len(asked) < len(orders)
    assert all(recent.start <= orders[oid].created_at <= recent.end for oid in asked)

    got = {r: await assert_stored_truth(stack, "amazon", r) for r in ("orders", "order_items")}
    rendered = report_truth(stack, "orders")
    for key, order in got["orders"].items():  # history from the report, the day from getOrders
        if order.created_at < recent.start:
            assert order == rendered[key], key
        elif order.created_at > recent.start:
            assert order == orders[key], key
    for resource in ("returns", "payouts", "transactions", "inventory"):
        await assert_stored_truth(stack, "amazon", resource)

    used, minimal = api_calls(calls), floor_calls(stack, "amazon")
    with capsys.disabled():
        print(f"\namazon tiny: {used} requests (floor {minimal}); {dict(sorted(ops.items()))}")
    assert minimal <= used <= 3 * minimal


async def test_shopify_history_comes_from_a_bulk_operation(monkeypatch, azurite, capsys) -> None:
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("shopify",))
    calls = await onboard(stack, "shopify")
    kinds = Counter(kind for _, _, kind in calls if kind)
    downloads = sum(1 for _, path, _ in calls if "/bulk-results/" in path)
    planned = await plans(stack, "shopify", ("orders", "order_items", "returns"))
    for resource, plan in planned.items():
        assert_bulk_plan(plan, resource)
    windows = {b.window for plan in planned.values() for b in plan[1:]}
    blocks = sum(len(plan) - 1 for plan in planned.values())
    assert 1 <= kinds["bulk_create"] <= 2 * len(windows) + 2, kinds
    assert 1 <= downloads <= blocks, downloads  # one file per bulk block at most
    assert kinds["bulk_poll"] >= kinds["bulk_create"]

    for resource in ("orders", "order_items", "returns", "transactions", "payouts", "inventory"):
        await assert_stored_truth(stack, "shopify", resource)

    used, minimal = api_calls(calls), floor_calls(stack, "shopify")
    with capsys.disabled():
        print(f"\nshopify tiny: {used} requests (floor {minimal}); {dict(kinds)}")
    assert used >= 1


@pytest.mark.parametrize("platform", ["amazon", "shopify"])
async def test_many_bulk_windows_meet_without_gap_or_overlap(
    monkeypatch, azurite, platform
) -> None:
    """Small jobs (``BulkPath.records``) at the density of the recent day cut the history
    into several report / bulk-operation windows: the records still equal the truth."""
    for key in [k for k in BULK_PATHS if k[0] == platform and k[1] != "returns"]:
        monkeypatch.setitem(BULK_PATHS, key, replace(BULK_PATHS[key], records=50))
    stack = Stack(monkeypatch, azurite.connection_string, platforms=(platform,))
    calls = await onboard(stack, platform)
    planned = await plans(stack, platform, ("orders", "order_items"))
    jobs = sum(len(plan) - 1 for plan in planned.values())
    assert len(planned["orders"]) - 1 >= 3 and all(b.bulk for b in planned["orders"][1:])
    if platform == "amazon":
        ops = stack.world.accounting.calls
        windows = {(b.window.start, b.window.end) for plan in planned.values() for b in plan[1:]}
        # an orders and an items block over the same window share the report when one
        # finds the other's (getReports); two that look at the same moment both create
        # one: never more reports than blocks (+ the two returns blocks)
        assert len(windows) + 2 <= ops[("amazon", "createReport")] <= jobs + 2
    else:  # each block asks for its job (a busy shop answers OPERATION_IN_PROGRESS)
        assert sum(1 for _, _, kind in calls if kind == "bulk_create") >= jobs
    for resource in ("orders", "order_items"):
        await assert_stored_truth(stack, platform, resource)


def test_the_bulk_paths_are_the_ones_the_floor_assumes() -> None:
    assert {("amazon", r) for r in ("orders", "order_items", "returns")} <= BULK_HISTORY
    assert {("shopify", r) for r in ("orders", "order_items", "returns")} <= BULK_HISTORY
    assert not any(p in ("ebay", "quiltt") for p, _ in BULK_HISTORY)


# --- the two planning stages, on the activity itself (Azurite) ---------------------------


def activity(name: str):
    import function_app
    from devhost.indexing import index_app

    return index_app(function_app.app).activities[name].handler


def resource_run(stack: Stack, now: datetime, resource: str = "orders") -> ResourceRun:
    return ResourceRun(
        client=stack.client_id,
        platform="amazon",
        account=stack.account("amazon"),
        resource=resource,
        tier="backfill",
        run_id="r1",
        now=now,
        history_start=HISTORY_START,
    )


HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC)


async def stage(run: ResourceRun, name: str, loaded=()) -> dict:
    task = PlanInput(run=run, stage=name, loaded=list(loaded))
    return await activity("plan_resource")(task.model_dump(mode="json"))


async def finish(stack: Stack, spec: BlockSpec, state: BlockState, records: int = 0) -> None:
    ledger = Ledger(stack.settings)
    key = BlockKey(spec.client, spec.platform, spec.account, spec.resource, spec.block_id)
    now = stack.now()
    await ledger.update_block(key, BlockUpdate(state=BlockState.RUNNING, attempt=1), now=now)
    update = BlockUpdate(state=state, attempt=1, records=records, error="x" if records else None)
    await ledger.update_block(key, update, now=now)


async def test_the_rest_is_planned_with_the_density_of_the_recent_day(monkeypatch, azurite):
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("amazon",))
    now = stack.now()
    first = await stage(resource_run(stack, now), "recent")
    assert first["final"] is False and len(first["blocks"]) == 1
    recent = BlockSpec.model_validate(first["blocks"][0])
    assert recent.phase == "recent_day" and not recent.bulk and recent.advances_watermark
    store = FlowStore(stack.settings)
    assert await store.get_plan(stack.client_id, "amazon", recent.account, "orders") is None

    later = resource_run(stack, now + timedelta(hours=3))  # a run resumed between the stages
    assert await stage(later, "recent") == first

    busy = 30_000  # orders in the recent day: the history is cut into many report jobs
    await finish(stack, recent, BlockState.DONE, busy)
    rest = await stage(later, "rest", [recent.block_id])
    expected = plan_blocks(
        "orders",
        HISTORY_START,
        now,  # the provisional plan's now, not the resumed run's
        density=observed_density(busy, recent.window),
        bulk=True,
    )
    assert rest["final"] is True and rest["done"] == 1 and rest["total"] == len(expected)
    assert len(expected) > 10 and expected[0].block_id == recent.block_id
    assert [b["block_id"] for b in rest["blocks"]] == [b.block_id for b in expected[1:]]
    assert all(b["bulk"] and not b["advances_watermark"] for b in rest["blocks"])
    stored = await store.get_plan(stack.client_id, "amazon", recent.account, "orders")
    assert stored == expected
    rows = await Ledger(stack.settings).list_blocks(stack.client_id, "amazon", recent.account)
    assert {r.block_id for r in rows} == {b.block_id for b in expected}

    again = await stage(resource_run(stack, now + timedelta(days=2)), "recent")
    assert again == rest  # stored once: every later run loads the same blocks


async def test_a_parked_recent_day_is_left_to_the_next_run(monkeypatch, azurite):
    stack = Stack(monkeypatch, azurite.connection_string, platforms=("amazon",))
    run = resource_run(stack, stack.now(), "payouts")
    recent = BlockSpec.model_validate((await stage(run, "recent"))["blocks"][0])
    await finish(stack, recent, BlockState.PARKED)
    rest = await stage(run, "rest", [recent.block_id])
    expected = plan_blocks("payouts", HISTORY_START, run.now)  # nothing measured: default
    assert [b["block_id"] for b in rest["blocks"]] == [b.block_id for b in expected[1:]]
    assert rest["done"] == 0 and rest["total"] == len(expected)

    retry = await stage(run, "recent")  # the next run: the parked block gets a successor
    assert retry["final"] is True
    assert retry["blocks"][0]["block_id"] == f"{recent.block_id}~2"
