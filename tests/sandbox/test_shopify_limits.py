"""Shopify's limit models on the clock: the REST leaky bucket, the GraphQL cost bucket
(THROTTLED at HTTP 200, the restore rate, refunds of unused cost, MAX_COST_EXCEEDED) and
the bulk-operation concurrency per API version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.clock import ManualClock
from sandbox.scenario import load
from sandbox.shopify.limits import CostBucket, LeakyBucket, Policy
from sandbox.world import World

CLIENT = "c-tiny"


def _world(limits: dict[str, Any] | None = None) -> World:
    scenario = load("tiny")
    return World(
        scenario,
        clock=ManualClock(scenario.now),
        platforms=("shopify",),
        limits={"shopify": limits or {}},
    )


class Client:
    def __init__(self, world: World, http: httpx.AsyncClient, version: str = "2025-10") -> None:
        creds = world.platforms["shopify"].credentials(CLIENT)
        self.http, self.world = http, world
        self.base = f"/shopify/{creds['shop']}/admin/api/{version}"
        self.headers = {"X-Shopify-Access-Token": creds["access_token"]}

    async def rest(self) -> httpx.Response:
        return await self.http.get(
            f"{self.base}/orders.json", params={"status": "any", "limit": 1}, headers=self.headers
        )

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        body = {"query": query, "variables": variables or {}}
        return await self.http.post(f"{self.base}/graphql.json", json=body, headers=self.headers)


def _pause(world: World) -> None:
    """Stop the clock's own movement: latency would otherwise leak the bucket."""
    world.clock.sleep = _no_sleep  # type: ignore[method-assign]


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_rest_bucket_serves_40_refuses_the_41st_then_leaks_2_per_second() -> None:
    world = _world()
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        for n in range(1, 41):
            response = await c.rest()
            assert response.status_code == 200
            assert response.headers["X-Shopify-Shop-Api-Call-Limit"] == f"{n}/40"
        refused = await c.rest()
        assert refused.status_code == 429
        assert refused.json() == {
            "errors": "Exceeded 2 calls per second for api client. "
            "Reduce request rates to resume uninterrupted service."
        }
        assert float(refused.headers["Retry-After"]) == pytest.approx(0.5)
        assert refused.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
        world.clock.advance(0.4)
        assert (await c.rest()).status_code == 429  # 0.8 marbles leaked: not yet room for one
        world.clock.advance(0.1)
        again = await c.rest()
        assert (
            again.status_code == 200 and again.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
        )
        world.clock.advance(10)  # 20 marbles leak away
        assert (await c.rest()).headers["X-Shopify-Shop-Api-Call-Limit"] == "21/40"
    assert world.accounting.throttled[("shopify", "GET /admin/api/{version}/orders.json")] == 2


async def test_rest_bucket_size_and_leak_are_overridable() -> None:
    world = _world({"rest_bucket": 80, "rest_leak": 4})
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        statuses = [(await c.rest()).status_code for _ in range(81)]
        assert statuses.count(200) == 80 and statuses[-1] == 429
        world.clock.advance(0.25)
        assert (await c.rest()).headers["X-Shopify-Shop-Api-Call-Limit"] == "80/80"


ORDERS_250 = "{ orders(first: 250) { nodes { id totalPriceSet { shopMoney { amount } } } } }"


async def test_graphql_cost_is_debited_refunded_and_restored() -> None:
    world = _world()
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        body = (await c.gql(ORDERS_250)).json()
        orders = len(body["data"]["orders"]["nodes"])
        cost = body["extensions"]["cost"]
        # connection 2 + 250 x (node 1 + totalPriceSet 1 + shopMoney 1); actual: the nodes returned
        assert cost["requestedQueryCost"] == 2 + 250 * 3
        assert cost["actualQueryCost"] == 2 + orders * 3 and orders < 250
        assert cost["throttleStatus"] == {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 2000 - cost["actualQueryCost"],
            "restoreRate": 100.0,
        }
        shop = (await c.gql("{ shop { id name } }")).json()["extensions"]["cost"]
        assert shop["requestedQueryCost"] == shop["actualQueryCost"] == 1
        world.clock.advance(2.0)
        restored = (await c.gql("{ shop { id } }")).json()["extensions"]["cost"]["throttleStatus"]
        assert restored["currentlyAvailable"] == min(
            2000, 2000 - cost["actualQueryCost"] - 1 - 1 + 200
        )


async def test_graphql_throttled_at_http_200_until_restored() -> None:
    world = _world({"graphql_bucket": 1000})
    _pause(world)
    big = "{ orders(first: 200) { nodes { id lineItems(first: 1) { nodes { id } } } } }"
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        first = (await c.gql(big)).json()
        requested = first["extensions"]["cost"]["requestedQueryCost"]
        assert requested == 2 + 200 * (1 + 2 + 1)
        left = first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        while left >= requested:  # spend until the bucket cannot cover one more
            left = (await c.gql(big)).json()["extensions"]["cost"]["throttleStatus"][
                "currentlyAvailable"
            ]
        throttled = await c.gql(big)
        assert throttled.status_code == 200
        body = throttled.json()
        assert "data" not in body
        assert body["errors"][0]["message"] == "Throttled"
        assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert body["extensions"]["cost"]["actualQueryCost"] is None
        assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == left
        wait = (requested - left) / 100
        world.clock.advance(wait - 0.05)
        assert (await c.gql(big)).json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        world.clock.advance(0.06)
        assert "data" in (await c.gql(big)).json()


async def test_throttled_status_code_is_configurable() -> None:
    world = _world({"graphql_bucket": 10, "throttled_http_status": 429})
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        response = await Client(world, http).gql("{ orders(first: 20) { nodes { id } } }")
    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


async def test_max_cost_exceeded_whatever_the_bucket_holds() -> None:
    world = _world({"graphql_bucket": 20_000, "graphql_restore": 1000})
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        query = """{ orders(first: 250) { nodes { id
            totalPriceSet { shopMoney { amount } presentmentMoney { amount } } } } }"""
        body = (await c.gql(query)).json()
    requested = 2 + 250 * 4
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": 1000}
    assert f"Query cost is {requested}" in error["message"]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == requested and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] == 20_000  # nothing was debited


BULK = """mutation { bulkOperationRunQuery(query: "{ orders { edges { node { id } } } }") {
  bulkOperation { id status } userErrors { code field message } } }"""


@pytest.mark.parametrize(("version", "allowed"), [("2025-10", 1), ("2026-01", 5)])
async def test_bulk_concurrency_per_api_version(version: str, allowed: int) -> None:
    world = _world()
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http, version)
        runs = [
            (await c.gql(BULK)).json()["data"]["bulkOperationRunQuery"] for _ in range(allowed + 1)
        ]
        assert all(
            r["bulkOperation"]["status"] == "CREATED" and not r["userErrors"]
            for r in runs[:allowed]
        )
        refused = runs[-1]
        assert refused["bulkOperation"] is None
        (error,) = refused["userErrors"]
        # as a 2026-04 shop answered the sixth (shopify-draft-proxy's capture): every id
        running = ", ".join(r["bulkOperation"]["id"] for r in runs[:allowed])
        assert error == {
            "code": "OPERATION_IN_PROGRESS",
            "field": None,
            "message": f"A bulk query operation for this app and shop is already in progress: "
            f"{running}.",
        }
        world.clock.advance(60)  # every operation has completed: room again
        again = (await c.gql(BULK)).json()["data"]["bulkOperationRunQuery"]
        assert again["userErrors"] == [] and again["bulkOperation"]["status"] == "CREATED"


async def test_bulk_processing_time_grows_with_volume() -> None:
    world = _world({"bulk_startup_s": 5, "bulk_objects_per_s": 100})
    _pause(world)
    poll = "query($id: ID!) { node(id: $id) { ... on BulkOperation { status objectCount url } } }"
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http, "2026-01")
        run = 'mutation { bulkOperationRunQuery(query: "%s") { bulkOperation { id } } }'
        small = run % "{ locations { edges { node { id } } } }"
        big = run % "{ orders { edges { node { id lineItems { edges { node { id } } } } } } }"
        ids = [
            (await c.gql(q)).json()["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
            for q in (small, big)
        ]

        async def state(op: str) -> dict[str, Any]:
            return (await c.gql(poll, {"id": op})).json()["data"]["node"]

        assert [(await state(i))["status"] for i in ids] == ["CREATED", "CREATED"]
        world.clock.advance(1.0)
        assert (await state(ids[1]))["status"] == "RUNNING"
        world.clock.advance(4.1)
        small_done, big_running = await state(ids[0]), await state(ids[1])
        assert small_done["status"] == "COMPLETED" and small_done["objectCount"] == "2"
        assert big_running["status"] == "RUNNING" and big_running["url"] is None
        objects = len(world.platforms["shopify"].bulk.get("shopify-c-tiny", ids[1]).lines)
        assert 0 < int(big_running["objectCount"]) < objects
        world.clock.advance(objects / 100 - 0.2)
        assert (await state(ids[1]))["status"] == "RUNNING"
        world.clock.advance(0.2)
        done = await state(ids[1])
        assert done["status"] == "COMPLETED" and int(done["objectCount"]) == objects


def test_buckets_are_pure_on_the_clock() -> None:
    bucket = LeakyBucket(3, 1.0)
    assert [bucket.take(0.0)[0] for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.0)[1] == pytest.approx(1.0)
    assert bucket.take(1.0) == (True, 0.0)
    cost = CostBucket(100, 10)
    assert cost.debit(80, 0.0) and not cost.debit(30, 0.0)
    assert cost.debit(30, 1.0)  # 20 + 10 restored
    cost.refund(1000, 1.0)
    assert cost.available(1.0) == 100


def test_unknown_policy_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown Shopify limit fields"):
        Policy.with_overrides({"rest_buckets": 3})
    assert Policy.with_overrides({"rest_leak": "4"}).rest_leak == 4.0


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), min_size=1, max_size=200),
    size=st.integers(min_value=1, max_value=60),
    leak=st.sampled_from([0.5, 2.0, 4.0, 20.0]),
)
def test_rest_bucket_never_admits_beyond_size_plus_leak(
    gaps: list[float], size: int, leak: float
) -> None:
    bucket, now, times = LeakyBucket(size, leak), 0.0, []
    for gap in gaps:
        now += gap
        admitted, wait = bucket.take(now)
        if admitted:
            times.append(now)
        else:
            assert wait > 0 and bucket.take(now + wait + 1e-6)[0]  # the wait is enough
            times.append(now + wait + 1e-6)
            now += wait + 1e-6
    for i, start in enumerate(times):  # any window [start, end]: at most size + leak x span
        for end in times[i:]:
            admitted = sum(1 for t in times if start <= t <= end)
            assert admitted <= size + leak * (end - start) + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=5, allow_nan=False),
            st.integers(1, 1000),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=100,
    )
)
def test_cost_bucket_never_overdraws(steps: list[tuple[float, int, int]]) -> None:
    bucket, now = CostBucket(2000, 100), 0.0
    for gap, requested, actual in steps:
        now += gap
        before = bucket.available(now)
        if bucket.debit(requested, now):
            assert before >= requested
            bucket.refund(max(0, requested - min(actual, requested)), now)
        else:
            assert before < requested
        assert 0 <= bucket.available(now) <= 2000


NODES = (
    "query N($ids: [ID!]!) { nodes(ids: $ids) "
    "{ ... on Order { id totalPriceSet { shopMoney { amount } } } } }"
)


async def test_nodes_cost_one_node_per_id_asked_and_the_nodes_found() -> None:
    world = _world()
    _pause(world)
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as http:
        c = Client(world, http)
        page = (await c.gql("{ orders(first: 3) { nodes { id } } }")).json()
        ids = [o["id"] for o in page["data"]["orders"]["nodes"]]
        unknown = "gid://shopify/Order/1"
        body = (await c.gql(NODES, {"ids": [*ids, unknown]})).json()
        assert [n and n["id"] for n in body["data"]["nodes"]] == [*ids, None]
        cost = body["extensions"]["cost"]
        # per id: the order 1 + totalPriceSet 1 + shopMoney 1; actual: the orders found
        assert cost["requestedQueryCost"] == 4 * 3
        assert cost["actualQueryCost"] == 3 * 3
        many = (await c.gql(NODES, {"ids": [unknown] * 251})).json()
        assert "data" not in many or many["data"] is None
        assert "greater than the maximum allowed of 250" in many["errors"][0]["message"]
