"""Quiltt GraphQL: Relay paging capped at 100, cursors, filters, sorting, errors, auth."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.clock import ManualClock
from sandbox.faults import FaultRates, Faults
from sandbox.scenario import DAY, WORLD_NOW, ClientSpec, Scenario, load
from sandbox.world import World
from tests.sandbox.quiltt_support import TRANSACTIONS_QUERY, QuilttCrawler, by_id

PAGE = """query($first: Int, $after: String, $sort: TransactionSort, $filter: TransactionFilter) {
  transactions(first: $first, after: $after, sort: $sort, filter: $filter) {
    count edges { cursor node { id date } } nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


# 90 days at 4 a day: a few hundred transactions, several pages of 100, quick to crawl
SMALL = Scenario(
    "small",
    11,
    WORLD_NOW,
    (ClientSpec("c-ref", 11, WORLD_NOW - 90 * DAY, WORLD_NOW, {"quiltt": 4.0}),),
)


@pytest.fixture
async def setup() -> AsyncIterator[tuple[World, httpx.AsyncClient, QuilttCrawler]]:
    clock = ManualClock(SMALL.now)
    w = World(SMALL, clock=clock, platforms=("quiltt",))
    creds = w.platforms["quiltt"].credentials("c-ref")
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        yield w, http, QuilttCrawler.on(http, creds, clock)


async def test_pages_are_capped_at_100_and_cursors_chain(setup) -> None:
    w, _http, q = setup
    truth = w.ground_truth("c-ref", "quiltt", "bank_transactions")
    page = (await q.graphql(PAGE, {"first": 500}))["transactions"]
    assert page["count"] == len(truth) > 300
    assert len(page["edges"]) == 100 and len(page["nodes"]) == 100
    assert [e["cursor"] for e in page["edges"][:3]] == ["MQ", "Mg", "Mw"]
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": "MQ",
        "endCursor": page["edges"][-1]["cursor"],
    }
    default = (await q.graphql(PAGE, {}))["transactions"]
    assert [n["id"] for n in default["nodes"]] == [n["id"] for n in page["nodes"]]
    nxt = await q.graphql(PAGE, {"first": 10, "after": page["pageInfo"]["endCursor"]})
    nxt = nxt["transactions"]
    assert nxt["pageInfo"]["hasPreviousPage"] and len(nxt["edges"]) == 10
    assert not {n["id"] for n in nxt["nodes"]} & {n["id"] for n in page["nodes"]}
    # DATE_DESC by default: the newest first, and pages continue the order
    dates = [e["node"]["date"] for e in page["edges"] + nxt["edges"]]
    assert dates == sorted(dates, reverse=True)


async def test_full_crawl_in_both_orders_equals_the_truth(setup) -> None:
    w, _http, q = setup
    truth = w.ground_truth("c-ref", "quiltt", "bank_transactions")
    for sort in ("DATE_ASC", "DATE_DESC"):
        got = await q.transactions(sort=sort)
        assert by_id(got) == by_id(truth)
    assert [t["id"] for t in await q.transactions(first=100, sort="DATE_ASC")] == [
        t["id"] for t in truth
    ]


async def test_filters_by_date_range_account_status_and_entry_type(setup) -> None:
    w, _http, q = setup
    truth = w.ground_truth("c-ref", "quiltt", "bank_transactions")
    window = {"date_gte": "2026-09-01", "date_lt": "2026-10-01"}
    september = await q.transactions(filter=window)
    assert by_id(september) == {
        t["id"]: t for t in truth if "2026-09-01" <= t["date"] < "2026-10-01"
    }
    bounds = {"date_gt": "2026-09-01", "date_lte": "2026-09-30"}
    inner = await q.transactions(filter=bounds)
    assert {t["id"] for t in inner} == {t["id"] for t in september if t["date"] != "2026-09-01"}
    card = next(a for a in w.ground_truth("c-ref", "quiltt", "accounts") if a["kind"] == "CREDIT")
    flt = {"accountIds": [card["id"]], "entryType": "DEBIT", "status": ["PENDING"]}
    pending = await q.transactions(filter=flt)
    expected = [
        t
        for t in truth
        if t["account"]["id"] == card["id"]
        and t["entryType"] == "DEBIT"
        and t["status"] == "PENDING"
    ]
    assert pending and by_id(pending) == by_id(expected)
    big = await q.transactions(filter={"amount_gte": 100, "amount_lte": 2000})
    assert big and by_id(big) == {t["id"]: t for t in truth if 100 <= t["amount"] <= 2000}


async def test_account_transactions_and_lookups(setup) -> None:
    w, _http, q = setup
    truth = by_id(w.ground_truth("c-ref", "quiltt", "bank_transactions"))
    query = """query($id: ID!, $txn: ID!) {
      account(id: $id) { id name transactions(first: 5, sort: DATE_ASC) { count nodes { id } } }
      transaction(id: $txn) { id amount account { id balance { current } } }
      missing: transaction(id: "txn_nope") { id } }"""
    accounts = w.ground_truth("c-ref", "quiltt", "accounts")
    savings = next(a for a in accounts if a["type"] == "SAVINGS")
    some = next(t for t in truth.values() if t["account"]["id"] == savings["id"])
    data = await q.graphql(query, {"id": savings["id"], "txn": some["id"]})
    nested = data["account"]["transactions"]
    assert nested["count"] == sum(t["account"]["id"] == savings["id"] for t in truth.values())
    assert all(truth[n["id"]]["account"]["id"] == savings["id"] for n in nested["nodes"])
    assert data["transaction"]["amount"] == some["amount"]
    assert data["transaction"]["account"]["balance"]["current"] == savings["balance"]["current"]
    assert data["missing"] is None
    assert by_id(await q.accounts()) == by_id(accounts)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": -1}, "greater than or equal to 0"),
        ({"after": "not a cursor!"}, "Invalid cursor"),
        ({"filter": {"date_gte": "2026-13-01"}}, "YYYY-MM-DD"),
        ({"sort": "AMOUNT"}, "TransactionSort"),
    ],
)
async def test_bad_arguments_are_graphql_errors(setup, variables, message) -> None:
    _w, http, q = setup
    token = await q.session()
    response = await http.post(
        "/quiltt/v1/graphql",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": PAGE, "variables": variables},
    )
    assert response.status_code == 200
    assert message in response.json()["errors"][0]["message"]


async def test_malformed_requests_get_quiltt_400s_and_syntax_errors_graphql_errors(setup) -> None:
    _w, http, q = setup
    bearer = {"Authorization": f"Bearer {await q.session()}"}
    for body in (b"{not json", b'{"variables": {}}', b'["query"]'):
        bad = await http.post("/quiltt/v1/graphql", headers=bearer, content=body)
        assert bad.status_code == 400
        assert set(bad.json()) == {"message", "instruction"}
    syntax = await http.post("/quiltt/v1/graphql", headers=bearer, json={"query": "{ accounts {"})
    assert syntax.status_code == 200 and "Syntax Error" in syntax.json()["errors"][0]["message"]
    unknown = await http.post("/quiltt/v1/graphql", headers=bearer, json={"query": "{ nope }"})
    assert unknown.status_code == 200 and unknown.json()["errors"]


async def test_auth_refusals(setup) -> None:
    _w, http, q = setup
    creds = q.credentials
    wrong_secret = await http.post(
        "/quiltt/v1/users/sessions",
        headers={"Authorization": "Bearer qltt_wrong"},
        json={"userId": creds["profile_id"]},
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["message"] == "Not Authenticated"
    secret = {"Authorization": f"Bearer {creds['api_secret_key']}"}
    unknown = await http.post(
        "/quiltt/v1/users/sessions", headers=secret, json={"userId": "p_unknown"}
    )
    assert unknown.status_code == 404
    missing = await http.post("/quiltt/v1/users/sessions", headers=secret, json={})
    assert missing.status_code == 422
    garbage = await http.post(
        "/quiltt/v1/graphql",
        json={"query": "{ profile { id } }"},
        headers={"Authorization": "Bearer eyJ.forged.token"},
    )
    assert garbage.status_code == 401
    bad_basic = base64.b64encode(f"{creds['profile_id']}:wrong".encode()).decode()
    refused = await http.post(
        "/quiltt/v1/graphql",
        json={"query": "{ profile { id } }"},
        headers={"Authorization": f"Basic {bad_basic}"},
    )
    assert refused.status_code == 401
    secret_on_graphql = await http.post(
        "/quiltt/v1/graphql", headers=secret, json={"query": "{ profile { id } }"}
    )
    assert secret_on_graphql.status_code == 401  # the API key alone names no Profile


async def test_unknown_routes_and_methods(setup) -> None:
    _w, http, _q = setup
    missing = await http.get("/quiltt/v1/nothing")
    assert missing.status_code == 404 and set(missing.json()) == {"message", "instruction"}
    assert "Ratelimit-Limit" in missing.headers
    wrong = await http.get("/quiltt/v1/graphql")
    assert wrong.status_code == 405


async def test_page_faults_are_detectable_by_count() -> None:
    rates = FaultRates(short_page=1.0)
    clock = ManualClock(load("tiny").now)
    w = World(load("tiny"), clock=clock, faults=Faults(rates, seed=5), platforms=("quiltt",))
    creds = w.platforms["quiltt"].credentials("c-tiny")
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        q = QuilttCrawler.on(http, creds, clock)
        page = (await q.graphql(TRANSACTIONS_QUERY, {"first": 20}))["transactions"]
        assert len(page["edges"]) < 20 and page["pageInfo"]["hasNextPage"]
        assert page["pageInfo"]["endCursor"] == base64.b64encode(b"20").decode().rstrip("=")
    assert w.accounting.faults[("quiltt", "short_page")] == 1

    rates = FaultRates(duplicate=1.0, lost_next_token=1.0)
    w = World(load("tiny"), clock=clock, faults=Faults(rates, seed=5), platforms=("quiltt",))
    async with httpx.AsyncClient(transport=w.transport(), base_url="http://sandbox") as http:
        q = QuilttCrawler.on(http, creds, clock)
        first = (await q.graphql(TRANSACTIONS_QUERY, {"first": 10}))["transactions"]
        assert not first["pageInfo"]["hasNextPage"]  # lost, although count says more
        assert first["count"] > 10
        second = await q.graphql(TRANSACTIONS_QUERY, {"first": 10, "after": "MTA"})
        edges = second["transactions"]["edges"]
        assert edges[0]["node"]["id"] == first["edges"][-1]["node"]["id"]  # duplicated
