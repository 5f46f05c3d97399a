"""Page chains and the bulk state machine, step by step, as pure functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import Classified, Outcome, PageRequest, Window
from shared.platforms.shopify import bulk, pagination
from shared.platforms.shopify.queries import BULK_CURRENT, BULK_NODE, NESTED_PAGE, query

W = Window(start=datetime(2026, 9, 1, tzinfo=UTC), end=datetime(2026, 9, 8, tzinfo=UTC))
JOB = "gid://shopify/BulkOperation/77"


def page(resource: str, has_next: bool, cursor: str | None, nodes: list[dict] | None = None):
    q = query(resource)
    conn: dict[str, Any] = {
        "edges": [{"cursor": "c", "node": n} for n in nodes or []],
        "pageInfo": {"hasNextPage": has_next, "endCursor": cursor},
    }
    data: dict[str, Any] = {q.top.name: conn}
    for name in reversed(q.root):
        data = {name: data}
    return {"data": data}


def test_graphql_first_request_is_plain_json_with_the_window_filter() -> None:
    r = pagination.graphql_first("orders", W)
    assert (r.route, r.method, r.path, r.step) == (
        "graphql",
        "POST",
        "/admin/api/2025-10/graphql.json",
        "page",
    )
    assert r.body["variables"] == {
        "after": None,
        "query": "created_at:>='2026-09-01T00:00:00Z' created_at:<'2026-09-08T00:00:00Z'",
    }
    assert r.cost == query("orders").cost(query("orders").page_size()) <= 1000
    assert PageRequest.model_validate(json.loads(r.model_dump_json())) == r
    updated = pagination.graphql_first("orders", W, by_update=True)
    assert updated.body["variables"]["query"].startswith("updated_at:>=")
    assert pagination.graphql_first("inventory", None).body["variables"]["query"] is None


@pytest.mark.parametrize("resource", ["orders", "transactions", "payouts", "inventory"])
def test_graphql_next_follows_end_cursor_and_stops(resource: str) -> None:
    r = pagination.graphql_first(resource, W if resource != "inventory" else None)
    nxt = pagination.graphql_next(r, page(resource, True, "abc"))
    assert nxt is not None and nxt.body["variables"]["after"] == "abc" and nxt.page_number == 1
    assert nxt.body["query"] == r.body["query"] and nxt.cost == r.cost
    assert pagination.graphql_next(nxt, page(resource, False, "abd")) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": {}}, "data.orders"),
        ({"data": {"orders": {"edges": []}}}, "data.orders.pageInfo"),
        (page("orders", True, None), "data.orders.pageInfo.endCursor"),
    ],
)
def test_graphql_next_refuses_pages_that_would_loop_or_lie(body: Any, field: str) -> None:
    r = pagination.graphql_first("orders", W)
    with pytest.raises(MalformedPayloadError) as info:
        pagination.graphql_next(r, body)
    assert info.value.field == field


def test_a_cursor_that_does_not_move_is_a_loop() -> None:
    r = pagination.graphql_first("orders", W)
    nxt = pagination.graphql_next(r, page("orders", True, "abc"))
    with pytest.raises(MalformedPayloadError, match="did not move"):
        pagination.graphql_next(nxt, page("orders", True, "abc"))


def test_truncated_nested_connections_are_found() -> None:
    full = {
        "id": "gid://shopify/Order/1",
        "lineItems": {"edges": [], "pageInfo": {"hasNextPage": False}},
    }
    cut = {
        "id": "gid://shopify/Order/2",
        "lineItems": {"edges": [], "pageInfo": {"hasNextPage": True}},
    }
    assert pagination.truncated("order_items", page("order_items", False, None, [full])) is None
    found = pagination.truncated("order_items", page("order_items", False, None, [full, cut]))
    assert found is not None and "Order/2" in found and "lineItems" in found
    assert pagination.truncated("orders", page("orders", False, None, [cut])) is None


def test_rest_first_request_sends_an_inclusive_window_and_status_any() -> None:
    r = pagination.rest_first("order_items", W)
    assert (r.route, r.method, r.path) == ("rest", "GET", "/admin/api/2025-10/orders.json")
    assert r.params == {
        "status": "any",
        "limit": 250,
        "order": "id asc",
        "created_at_min": "2026-09-01T00:00:00Z",
        "created_at_max": "2026-09-07T23:59:59Z",  # [start, end) in whole seconds
    }
    assert "updated_at_min" in pagination.rest_first("orders", W, by_update=True).params
    assert pagination.rest_first("orders", W, limit=20).params["limit"] == 20
    with pytest.raises(ConfigurationError):
        pagination.rest_first("payouts", W)
    with pytest.raises(ConfigurationError):
        pagination.rest_first("orders", W, limit=251)


LINK = (
    "<https://acme.myshopify.com/admin/api/2025-10/orders.json?limit=250&page_info=eyJwcmV2In0>; "
    'rel="previous", <https://acme.myshopify.com/admin/api/2025-10/orders.json?'
    'page_info=eyJuZXh0Ijo%3D&limit=250>; rel="next"'
)


def rest_page(*ids: int) -> dict:
    return {"orders": [{"id": i} for i in ids]}


def test_rest_next_sends_page_info_verbatim_with_limit_only() -> None:
    r = pagination.rest_first("orders", W)
    nxt = pagination.rest_next(r, LINK, rest_page(5, 9))
    assert nxt is not None and nxt.params == {"limit": 250, "page_info": "eyJuZXh0Ijo="}
    assert nxt.page_number == 1 and nxt.path == r.path and nxt.state["max_id"] == 9
    with pytest.raises(MalformedPayloadError, match="did not move"):
        pagination.rest_next(nxt, LINK, rest_page(10))
    with pytest.raises(MalformedPayloadError):
        pagination.rest_next(r, None, {"errors": "x"})


def test_a_rest_chain_ends_with_an_empty_answer_to_since_id() -> None:
    r = pagination.rest_first("orders", W)
    page2 = pagination.rest_next(r, LINK, rest_page(5, 9))
    only_previous = LINK.split(", ")[0]
    confirm = pagination.rest_next(page2, only_previous, rest_page(12, 11))
    assert confirm is not None and confirm.params == {**r.params, "since_id": 12}
    assert pagination.rest_next(confirm, None, rest_page()) is None
    assert pagination.rest_next(r, None, rest_page()) is None  # an empty window


# --- bulk ---------------------------------------------------------------------------------


def created(job: str | None = JOB, errors: list[dict] | None = None) -> dict:
    op = {"id": job, "status": "CREATED"} if job else None
    return {"data": {"bulkOperationRunQuery": {"bulkOperation": op, "userErrors": errors or []}}}


def op(status: str, *, query_text: str | None = None, key: str = "node", **more: Any) -> dict:
    value = {"id": JOB, "status": status, "query": query_text, **more}
    return {"data": {key: value}}


def test_bulk_create_then_poll_with_growing_waits_then_download() -> None:
    r = bulk.bulk_first("orders", W)
    assert (r.route, r.step, r.cost) == ("bulk", "bulk_create", 10)
    assert r.body["variables"]["query"] == bulk.bulk_query("orders", W)
    poll = bulk.after_create(r, created())
    assert isinstance(poll, PageRequest)
    assert (poll.step, poll.state["job_id"], poll.cost, poll.body["query"]) == (
        "bulk_poll",
        JOB,
        1,
        BULK_NODE,
    )
    waits = []
    for _ in range(7):
        poll = bulk.after_poll(poll, op("RUNNING"))
        assert isinstance(poll, PageRequest) and poll.state["job_id"] == JOB
        waits.append(poll.not_before_s)
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    download = bulk.after_poll(poll, op("COMPLETED", objectCount="12", url="https://x/y"))
    assert isinstance(download, PageRequest) and download.step == "bulk_download"
    assert download.state["job_id"] == JOB and download.state["objects"] == 12
    assert "https://x/y" not in download.model_dump_json()  # signed URLs stay out of histories
    url, roots = bulk.download_target(
        download, op("COMPLETED", url="https://x/y", rootObjectCount="4")
    )
    assert (url, roots) == ("https://x/y", 4)
    assert bulk.download_target(download, op("COMPLETED", url=None))[0] is None


def test_a_retried_block_resumes_the_job_in_its_state() -> None:
    poll = bulk.after_create(bulk.bulk_first("returns", W), created())
    replayed = PageRequest.model_validate(json.loads(poll.model_dump_json()))
    again = bulk.after_poll(replayed, op("RUNNING"))
    assert isinstance(again, PageRequest) and again.state["job_id"] == JOB


def test_operation_in_progress_adopts_the_running_job_with_our_query() -> None:
    r = bulk.bulk_first("order_items", W)
    busy = [
        {
            "field": None,
            "message": "A bulk query operation for this app and shop is already in progress: gid://shopify/BulkOperation/77.",
            "code": "OPERATION_IN_PROGRESS",
        }
    ]
    current = bulk.after_create(r, created(None, busy))
    assert isinstance(current, PageRequest)
    assert current.state.get("current") and current.body["query"] == BULK_CURRENT
    ours = bulk.bulk_query("order_items", W)
    adopted = bulk.after_poll(current, op("RUNNING", query_text=ours, key="currentBulkOperation"))
    assert isinstance(adopted, PageRequest) and adopted.state["job_id"] == JOB
    assert not adopted.state.get("current") and adopted.body["query"] == BULK_NODE


def test_another_blocks_job_is_waited_out_then_ours_is_created() -> None:
    r = bulk.bulk_first("orders", W)
    current = bulk.after_create(
        r, created(None, [{"message": "already in progress", "code": "OPERATION_IN_PROGRESS"}])
    )
    other = "{ orders(query: \"created_at:>='2020-01-01T00:00:00Z'\") { edges { node { id } } } }"
    wait = bulk.after_poll(current, op("RUNNING", query_text=other, key="currentBulkOperation"))
    assert isinstance(wait, PageRequest) and wait.state.get("current") and wait.not_before_s > 0
    again = bulk.after_poll(wait, op("COMPLETED", query_text=other, key="currentBulkOperation"))
    assert isinstance(again, PageRequest) and again.step == "bulk_create"
    none = bulk.after_poll(wait, {"data": {"currentBulkOperation": None}})
    assert isinstance(none, PageRequest) and none.step == "bulk_create"


def test_failed_jobs_restart_a_bounded_number_of_times() -> None:
    poll = bulk.after_create(bulk.bulk_first("orders", W), created())
    for restarts in range(1, bulk.MAX_RESTARTS + 1):
        nxt = bulk.after_poll(poll, op("FAILED", errorCode="INTERNAL_SERVER_ERROR"))
        assert isinstance(nxt, PageRequest) and nxt.step == "bulk_create"
        assert nxt.state["restarts"] == restarts
        poll = bulk.after_create(nxt, created())
    refused = bulk.after_poll(poll, op("CANCELED"))
    assert isinstance(refused, Classified) and refused.outcome is Outcome.PERMANENT
    assert "CANCELED" in refused.reason


def test_other_user_errors_refuse_the_chain() -> None:
    r = bulk.bulk_first("orders", W)
    refused = bulk.after_create(
        r, created(None, [{"field": ["query"], "message": "Invalid bulk query", "code": "INVALID"}])
    )
    assert isinstance(refused, Classified) and refused.outcome is Outcome.PERMANENT
    assert "Invalid bulk query" in refused.reason
    with pytest.raises(MalformedPayloadError):
        bulk.after_create(r, {"data": {}})
    with pytest.raises(ConfigurationError):
        bulk.bulk_first("inventory", W)


def test_a_last_page_with_nodes_is_confirmed_by_one_more_request() -> None:
    r = pagination.graphql_first("payouts", W)
    confirm = pagination.graphql_next(r, page("payouts", False, "z1", [{"id": "P1"}]))
    assert confirm is not None and confirm.state["confirm"] is True
    assert confirm.body["variables"]["after"] == "z1"
    # expected empty: it asks for one node, not for a full page's requested cost
    q = query("payouts")
    assert "payouts(first: 1," in confirm.body["query"] and confirm.cost == q.cost(1) < r.cost
    # the lost hasNextPage: the confirming page finds records, the chain goes on
    more = pagination.graphql_next(confirm, page("payouts", True, "z2", [{"id": "P2"}]))
    assert more is not None and more.body["variables"]["after"] == "z2"
    assert more.cost == r.cost  # full pages again after a confirming page that found more
    assert pagination.graphql_next(more, page("payouts", False, None, [])) is None


def test_widened_asks_for_the_same_page_with_larger_nested_connections() -> None:
    r = pagination.graphql_first("order_items", W)
    q = query("order_items")
    sizes, wide = [], r
    while (wider := pagination.widened(wide)) is not None:
        assert wider.body["variables"] == r.body["variables"] and wider.cost <= 1000
        assert f"lineItems(first: {wider.state['nested']})" in wider.body["query"]
        sizes.append(wider.state["nested"])
        wide = wider
    assert sizes == [10, 20, 40, 80, q.max_nested()]  # doubling, then as wide as one allows
    assert q.nested(sizes[-1]).cost(1) <= 1000 < q.nested(sizes[-1] + 1).cost(1)
    back = pagination.graphql_next(wide, page("order_items", True, "c9", [{"id": "O"}]))
    assert back is not None and back.cost == r.cost and back.state["nested"] == NESTED_PAGE
    assert pagination.widened(pagination.graphql_first("payouts", W)) is None


def test_orders_pages_report_the_exact_orders_count() -> None:
    r = pagination.graphql_first("orders", W)
    assert "ordersCount(query: $query) { count precision }" in r.body["query"]
    body = page("orders", False, None)
    body["data"]["ordersCount"] = {"count": 7, "precision": "EXACT"}
    assert pagination.reported_count(r, body) == 7
    body["data"]["ordersCount"] = {"count": 10000, "precision": "AT_LEAST"}
    assert pagination.reported_count(r, body) is None
    assert pagination.reported_count(pagination.graphql_first("order_items", W), body) is None


def test_adopt_reads_a_job_of_the_same_query_that_already_ran_else_creates() -> None:
    ours = bulk.bulk_query("returns", W)
    first = bulk.bulk_first("returns", W, adopt=True)
    assert (first.step, first.cost, first.state["current"]) == ("bulk_poll", 1, True)
    assert first.body["query"] == BULK_CURRENT and first.not_before_s == 0
    done = op("COMPLETED", query_text=ours, key="currentBulkOperation", objectCount="9")
    download = bulk.after_poll(first, done)
    assert isinstance(download, PageRequest) and download.step == "bulk_download"
    assert download.state["job_id"] == JOB and "current" not in download.state
    running = bulk.after_poll(first, op("RUNNING", query_text=ours, key="currentBulkOperation"))
    assert isinstance(running, PageRequest) and running.state["job_id"] == JOB
    for other in (None, op("COMPLETED", query_text="{ x }", key="currentBulkOperation")):
        body = {"data": {"currentBulkOperation": None}} if other is None else other
        create = bulk.after_poll(first, body)
        assert isinstance(create, PageRequest) and create.step == "bulk_create"
        assert create.body["variables"]["query"] == ours
    assert bulk.bulk_first("orders", W).step == "bulk_create"  # the default creates
