"""``PageRequest.calls_ahead`` is a true lower bound: a request that says ``k`` is
followed in its chain by at least ``k - 1`` more requests on the same route, with no
other route in between (the block loop asks the ambassador for at most ``k`` permits at
once, so a bound too high would waste permits and one too low only costs an extra ask).

Checked on complete crawls of the tiny world against the sandbox: every chain a block
makes (orders' items, groups' events, also with groups old enough to be listed by
posted date, inventory, reports)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shared.platforms.amazon import pagination
from shared.platforms.base import PageRequest
from tests.platforms.amazon.support import AmazonEnv, crawl_bulk, crawl_paged

BOUNDED = ("getOrderItems", "listFinancialEventsByGroupId", "getInventorySummaries")


def _runs(chain: Sequence[PageRequest]) -> list[int]:
    """For each request, how many requests on its route follow it without another
    route in between, itself included."""
    out = [1] * len(chain)
    for i in range(len(chain) - 2, -1, -1):
        if chain[i + 1].route == chain[i].route:
            out[i] = out[i + 1] + 1
    return out


def _chains(fetched: list[PageRequest]) -> list[list[PageRequest]]:
    """The crawl's requests cut into chains (a chain starts at page 0), a request made
    again (after a 429) counted once."""
    chains: list[list[PageRequest]] = []
    for request in fetched:
        if chains and chains[-1][-1] == request:
            continue
        if request.page_number == 0 or not chains:
            chains.append([])
        chains[-1].append(request)
    return chains


def assert_bounds_hold(fetched: list[PageRequest]) -> dict[str, int]:
    """Every stated bound holds; returns the largest bound seen per route."""
    largest: dict[str, int] = {}
    for chain in _chains(fetched):
        for request, run in zip(chain, _runs(chain), strict=True):
            if request.calls_ahead is None:
                continue
            assert 1 <= request.calls_ahead <= run, (request.route, request.calls_ahead, run)
            largest[request.route] = max(largest.get(request.route, 0), request.calls_ahead)
    return largest


async def test_the_bounds_hold_on_every_chain_of_a_crawl() -> None:
    env = AmazonEnv()
    await crawl_paged(env)
    await crawl_bulk(env)
    largest = assert_bounds_hold(env.fetched)
    for route in BOUNDED:  # chains over several orders / groups / marketplaces say so
        assert largest.get(route, 0) > 1, (route, largest)
    steps = [r for r in env.fetched if r.step != "page"]
    assert steps and all(r.calls_ahead == 1 for r in steps), "a report step is one call"


async def test_the_bound_stops_at_a_group_listed_by_posted_date() -> None:
    """Two years on, the oldest groups are listed by posted date (listFinancialEvents):
    the by-group bound counts only the by-group calls before such a group."""
    env = AmazonEnv()
    env.clock.advance(690 * 86_400)
    connector = env.connector()
    groups = await env.drive(connector, connector.first_request("payouts", env.history_window()))
    for page in groups:
        await env.drive(connector, connector.dependent_request(page))
    await connector.aclose()
    routes = {r.route for r in env.fetched}
    assert {"listFinancialEvents", "listFinancialEventsByGroupId"} <= routes, routes
    assert assert_bounds_hold(env.fetched).get("listFinancialEventsByGroupId", 0) > 1


def test_the_by_group_bound_counts_the_groups_before_one_listed_by_date() -> None:
    """Pure: groups in the order a page may give them, one too old for ByGroupId among
    them; the bound of each by-group request counts the by-group groups up to it."""
    cut = datetime(2024, 6, 1, tzinfo=UTC)

    def group(name: str, start: datetime) -> pagination.EventGroup:
        return pagination.EventGroup(name, start, start + timedelta(days=14), "USD")

    recent, old = datetime(2025, 3, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    groups = [group("A", recent), group("B", recent), group("C", old), group("D", recent)]
    first = pagination.groups_events_request(groups, by_date_before=cut)
    assert first is not None and first.route == "listFinancialEventsByGroupId"
    assert first.calls_ahead == 2  # A and B, then C by posted date
    empty = {"payload": {"FinancialEvents": {}}}
    second = pagination.next_request(first, empty)
    assert second is not None and second.calls_ahead == 1  # B
    third = pagination.next_request(second, empty)
    assert third is not None and third.route == "listFinancialEvents" and third.calls_ahead is None
    fourth = pagination.next_request(third, empty)
    assert fourth is not None and fourth.state["group_id"] == "D" and fourth.calls_ahead == 1
