"""Test support: the eBay sandbox in-process, a connector on it, ground truth as records.

``EbayEnv`` builds a one-platform world on a ``ManualClock`` set to a quiet stretch of the
timeline and ``PlatformSettings`` pointing at the world's transport; the block loop is
``tests.platforms.amazon.support.drive`` (platform-neutral: it honours every outcome by
advancing the sandbox clock). ``truth_records`` wraps the sandbox's ground truth (eBay's
own shapes) in the page envelopes the APIs use and normalizes it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.truth import ebay_records
from sandbox.clock import ManualClock
from sandbox.faults import Faults
from sandbox.scenario import load
from sandbox.world import World
from shared.models import Record
from shared.normalize import normalize
from shared.platforms.base import FetchResult, PageRequest, Window
from shared.platforms.ebay.auth import TokenCache
from shared.platforms.ebay.client import EbayConnector, build
from shared.settings import PlatformSettings
from tests.platforms.amazon.support import RecordingTransport, drive

BASE_URL = "http://sandbox/ebay"
AUTH_URL = "http://sandbox/ebay/identity/v1/oauth2/token"


def sandbox_settings() -> PlatformSettings:
    return PlatformSettings(base_url=BASE_URL, auth_url=AUTH_URL)


class EbayEnv:
    def __init__(
        self,
        scenario: str = "tiny",
        faults: Faults | None = None,
        quiet_for: float | None = 4 * 3600,
        limits: dict[str, Any] | None = None,
    ) -> None:
        self.scenario = load(scenario)
        self.clock = ManualClock(self.scenario.now)
        self.world = World(
            self.scenario,
            clock=self.clock,
            faults=faults,
            limits={"ebay": limits or {}},
            platforms=("ebay",),
        )
        self.sandbox = self.world.platforms["ebay"]
        self.client_id = self.scenario.clients[0].client_id
        self.account = self.scenario.clients[0].account("ebay")
        self.quiet_for = quiet_for
        if quiet_for is not None:
            self.clock.set(self.sandbox.quiet_time(self.client_id, self.scenario.now, quiet_for))
        self.started = self.clock.now()
        self.credentials = self.sandbox.credentials(self.client_id)
        self.cache = TokenCache()
        self.outcomes: Counter = Counter()
        self.transport = RecordingTransport(self.world.transport())
        self.fetched: list[PageRequest] = []

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def connector(self, page_limit: int | None = None) -> EbayConnector:
        return build(
            sandbox_settings(),
            self.credentials,
            self.account,
            transport=self.transport,
            clock=self.now,
            cache=self.cache,
            page_limit=page_limit,
        )

    def history_window(self) -> Window:
        start = datetime.fromtimestamp(self.scenario.clients[0].history_start, UTC)
        return Window(start=start - timedelta(days=30), end=self.now())

    def assert_still_quiet(self) -> None:
        assert self.quiet_for is not None
        elapsed = self.clock.now() - self.started
        assert elapsed < self.quiet_for, f"crawl took {elapsed:.0f} s: outside the quiet stretch"

    def truth(self, resource: str) -> list[dict[str, Any]]:
        return self.world.ground_truth(self.client_id, "ebay", resource)

    async def drive(
        self, connector: EbayConnector, request: PageRequest | None
    ) -> list[FetchResult]:
        return await drive(connector, request, self.clock, self.outcomes, self.fetched)


def records(results: list[FetchResult], resource: str, account: str) -> list[Record]:
    return [
        r
        for result in results
        if result.payload is not None
        for r in normalize("ebay", resource, result.payload, account=account)
    ]


truth_records = ebay_records  # the bench's adapter (bench.truth): ground truth as records
