"""Test support: the Amazon sandbox in-process, a connector on it, and a patient block loop.

``AmazonEnv`` builds a one-platform world of a scenario on a ``ManualClock`` (set to a
quiet stretch of the timeline, so the ground truth does not move while a crawl runs) and
``PlatformSettings`` pointing at the world's transport. ``drive`` is what the block loop
does with a chain, minus the ambassador: it honours every outcome — waits ``not_before_s``,
waits ``retry_after_s`` on throttled, backs off on transient — by advancing the sandbox
clock, never by sleeping. ``truth_*`` turn the sandbox's ground truth (Amazon's own
shapes) into canonical records through the same normalizers, for exact comparison.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.truth import amazon_records
from sandbox.clock import ManualClock
from sandbox.faults import Faults
from sandbox.scenario import load
from sandbox.world import World
from shared.models import Record
from shared.normalize import normalize
from shared.platforms.amazon.auth import TokenCache
from shared.platforms.amazon.client import AmazonConnector, build
from shared.platforms.base import FetchResult, Outcome, PageRequest, Window
from shared.settings import PlatformSettings

BASE_URL = "http://sandbox/amazon"
AUTH_URL = "http://sandbox/amazon/auth/o2/token"
MAX_TRANSIENT = 8
POLICY_WAIT_S = 60.0


def sandbox_settings() -> PlatformSettings:
    return PlatformSettings(base_url=BASE_URL, auth_url=AUTH_URL)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests on to ``inner`` and keeps each one (for the spec checks)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


class AmazonEnv:
    def __init__(
        self,
        scenario: str = "tiny",
        faults: Faults | None = None,
        quiet_for: float | None = 4 * 3600,
    ) -> None:
        self.scenario = load(scenario)
        self.clock = ManualClock(self.scenario.now)
        self.world = World(self.scenario, clock=self.clock, faults=faults, platforms=("amazon",))
        self.sandbox = self.world.platforms["amazon"]
        self.client_id = self.scenario.clients[0].client_id
        self.account = self.sandbox.account(self.client_id)
        self.quiet_for = quiet_for
        if quiet_for is not None:
            start = self.sandbox.quiet_time(self.client_id, self.scenario.now, quiet_for)
            self.clock.set(start)
        self.started = self.clock.now()
        self.credentials = self.sandbox.credentials(self.client_id)
        self.cache = TokenCache()
        self.outcomes: Counter = Counter()
        self.transport = RecordingTransport(self.world.transport())
        self.fetched: list[PageRequest] = []  # every request a chain made, retries included

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def connector(self) -> AmazonConnector:
        return build(
            sandbox_settings(),
            self.credentials,
            self.account,
            transport=self.transport,
            clock=self.now,
            cache=self.cache,
        )

    def history_window(self, before_history: timedelta = timedelta(days=30)) -> Window:
        """From before the client's history to the latest end the 2-minute rule allows."""
        start = datetime.fromtimestamp(self.scenario.clients[0].history_start, UTC)
        return Window(start=start - before_history, end=self.now() - timedelta(minutes=3))

    def assert_still_quiet(self) -> None:
        assert self.quiet_for is not None
        elapsed = self.clock.now() - self.started
        assert elapsed < self.quiet_for, f"crawl took {elapsed:.0f} s: outside the quiet stretch"

    def truth(self, resource: str) -> list[dict[str, Any]]:
        return self.world.ground_truth(self.client_id, "amazon", resource)

    def markets_by_sku(self) -> dict[str, str]:
        stock = self.sandbox.data(self.client_id).stock
        return {s.sku.sku: s.sku.marketplace.marketplace_id for s in stock.values()}

    async def drive(
        self, connector: AmazonConnector, request: PageRequest | None
    ) -> list[FetchResult]:
        return await drive(connector, request, self.clock, self.outcomes, self.fetched)


async def drive(
    connector: Any,
    request: PageRequest | None,
    clock: ManualClock,
    outcomes: Counter | None = None,
    fetched: list[PageRequest] | None = None,
    max_calls: int = 5000,
) -> list[FetchResult]:
    """Every ok result of the chain starting at ``request``, honouring each outcome."""
    results: list[FetchResult] = []
    failures = 0
    for _ in range(max_calls):
        if request is None:
            return results
        if request.not_before_s:
            clock.advance(request.not_before_s)
        if fetched is not None:
            fetched.append(request)
        result = await connector.fetch(request)
        outcome = result.classified.outcome
        if outcomes is not None:
            outcomes[outcome] += 1
            outcomes["refreshed"] += result.refreshed_token
        if outcome is Outcome.OK:
            results.append(result)
            request, failures = result.next, 0
        elif outcome is Outcome.THROTTLED:
            # no wait given (eBay's daily quota): the ambassador policy's wait
            clock.advance(result.classified.retry_after_s or POLICY_WAIT_S)
        elif outcome is Outcome.TRANSIENT:
            failures += 1
            assert failures <= MAX_TRANSIENT, result.classified.reason
            clock.advance(2.0**failures)
        else:
            raise AssertionError(f"{outcome}: {result.classified.reason} ({request.route})")
    raise AssertionError("chain did not end")


def records(
    results: list[FetchResult], resource: str, account: str, steps: tuple[str, ...] = ("page",)
) -> list[Record]:
    """The canonical records of a chain's pages (scope from the request's state)."""
    out: list[Record] = []
    for result in results:
        if result.request.step in steps and result.payload is not None:
            scope = result.request.state.get("scope", "")
            out += normalize("amazon", resource, result.payload, account=account, scope=scope)
    return out


def by_key(items: list[Record]) -> dict[str, Record]:
    """Records by natural key: what the loader's upsert keeps (later pages win)."""
    return {r.natural_key: r for r in items}


# --- complete crawls ------------------------------------------------------------------


async def crawl_paged(env: AmazonEnv) -> dict[str, list[Record]]:
    connector = env.connector()
    window, account = env.history_window(), env.account
    out: dict[str, list[Record]] = {}
    try:
        orders = await env.drive(
            connector, connector.first_request("orders", window, now=env.now())
        )
        out["orders"] = records(orders, "orders", account)
        items = []
        for page in orders:
            items += await env.drive(connector, connector.dependent_request(page))
        out["order_items"] = records(items, "order_items", account)
        groups = await env.drive(
            connector, connector.first_request("payouts", window, now=env.now())
        )
        out["payouts"] = records(groups, "payouts", account)
        events = []
        for page in groups:
            events += await env.drive(connector, connector.dependent_request(page))
        out["transactions"] = records(events, "transactions", account)
        inventory = await env.drive(connector, connector.first_request("inventory", None))
        out["inventory"] = records(inventory, "inventory", account)
    finally:
        await connector.aclose()
    env.assert_still_quiet()
    return out


async def crawl_bulk(env: AmazonEnv) -> dict[str, list[Record]]:
    connector = env.connector()
    window, account = env.history_window(), env.account
    steps = ("bulk_download",)
    out: dict[str, list[Record]] = {}
    try:
        report = await env.drive(
            connector, connector.first_request("orders", window, bulk=True, now=env.now())
        )
        out["orders"] = records(report, "orders", account, steps)
        out["order_items"] = records(report, "order_items", account, steps)
        returns = await env.drive(
            connector, connector.first_request("returns", window, now=env.now())
        )
        out["returns"] = records(returns, "returns", account, steps)
    finally:
        await connector.aclose()
    env.assert_still_quiet()
    return out


# --- ground truth as canonical records ------------------------------------------------

truth_records = amazon_records  # the bench's adapter (bench.truth): ground truth as records
