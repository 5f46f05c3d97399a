"""The whole product in one process: devhost on a virtual clock, sandboxes, Azurite.

``Stack`` builds a ``World`` of a scenario whose clock *is* devhost's virtual clock
(started in a quiet stretch of the timeline, so the ground truth holds still while a
run loads), points the settings at the session's Azurite with names unique to the test,
routes every connector through the world's in-process transport, and runs the real
``function_app`` in devhost. ``connect`` goes through the HTTP trigger like a client
would; ``truth`` gives the ground truth as canonical records (the connectors' test
support normalizes the sandbox's own shapes with the app's normalizers).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import function_app
from devhost.clock import VirtualClock
from devhost.host import DevHost
from sandbox.faults import Faults
from sandbox.scenario import load
from sandbox.world import World
from shared.flows.chains import SETTLE
from shared.flows.clock import use_clock
from shared.flows.connections import close_connectors, use_transport
from shared.settings import get_settings
from shared.storage.records import RecordStore
from shared.vault import generate_key

HISTORY_MARGIN = timedelta(days=31)  # finance groups open before the first order
BASE = "http://sandbox"
PLATFORM_ENV = {
    "amazon": {"BASE_URL": f"{BASE}/amazon", "AUTH_URL": f"{BASE}/amazon/auth/o2/token"},
    "shopify": {"BASE_URL": f"{BASE}/shopify"},
    "ebay": {"BASE_URL": f"{BASE}/ebay", "AUTH_URL": f"{BASE}/ebay/identity/v1/oauth2/token"},
    "etsy": {"BASE_URL": f"{BASE}/etsy", "AUTH_URL": f"{BASE}/etsy/v3/public/oauth/token"},
    "quiltt": {
        "BASE_URL": f"{BASE}/quiltt/v1/graphql",
        "AUTH_URL": f"{BASE}/quiltt/v1/users/sessions",
    },
}
ACTIVITY_SLOTS = 8
"""Activities in flight at once, as on a busy worker. Concurrent token refreshes of one
Etsy/Shopify account are serialised and rotated refresh tokens written back to the
sealed connection (``shared.platforms.tokens``, ``shared.flows.connections``); devhost
copes with concurrent activities waiting on a peer's lock."""
ALL = ("amazon", "shopify", "ebay", "etsy", "quiltt")


class Stack:
    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        connection_string: str,
        *,
        scenario: str = "tiny",
        platforms: tuple[str, ...] = ("amazon",),
        faults: Faults | None = None,
        quiet_for: float = 12 * 3600,
        prefix: str | None = None,
    ) -> None:
        self.scenario = load(scenario)
        self.spec = self.scenario.clients[0]
        self.client_id = self.spec.client_id
        self.platforms = platforms
        self.clock = VirtualClock(self.scenario.now)
        self.world = World(self.scenario, clock=self.clock, faults=faults, platforms=platforms)
        # quiet from the run's planning instant (SETTLE before its start) on
        settle = SETTLE.total_seconds()
        self.clock.advance_to(self.quiet_start(self.scenario.now, quiet_for + settle) + settle)
        self.prefix = prefix or f"f{uuid.uuid4().hex[:8]}"
        env = {
            "TRIBUTARY_STORAGE_CONNECTION": connection_string,
            "TRIBUTARY_TABLE_PREFIX": self.prefix,
            "TRIBUTARY_RAW_CONTAINER": f"raw-{self.prefix}",
            "TRIBUTARY_CREDENTIALS_KEY": generate_key(),
        }
        for name in platforms:
            for key, value in PLATFORM_ENV.get(name, {}).items():
                env[f"TRIBUTARY_{name.upper()}__{key}"] = value
        monkeypatch.delenv("AzureWebJobsStorage", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        self.settings = get_settings()
        self.transport = lambda _platform: self.world.transport()
        self.host = self.new_host()

    def quiet_start(self, after: float, quiet_for: float) -> float:
        """The first instant >= ``after`` that every sandbox finds quiet for ``quiet_for``
        seconds (``World.quiet_start``)."""
        return self.world.quiet_start(after, quiet_for)

    def new_host(self) -> DevHost:
        """A fresh devhost (empty instance and entity state) on the same clock and storage:
        what a restarted process sees."""
        self.host = DevHost(
            function_app.app, clock=self.clock, max_concurrent_activities=ACTIVITY_SLOTS
        )
        return self.host

    def now(self) -> datetime:
        return self.clock.utcnow()

    @contextlib.asynccontextmanager
    async def running(self):
        with use_clock(self.clock.utcnow, self.clock.sleep), use_transport(self.transport):
            try:
                yield self
            finally:
                await close_connectors()

    def account(self, platform: str) -> str:
        return self.spec.account(platform)

    def history_start(self) -> date:
        start = datetime.fromtimestamp(self.spec.history_start, UTC) - HISTORY_MARGIN
        return start.date()

    def connect_body(self, platform: str, **overrides: Any) -> dict[str, Any]:
        body = {
            "platform": platform,
            "account": self.account(platform),
            "credentials": self.world.platforms[platform].credentials(self.client_id),
            "history_start": self.history_start().isoformat(),
        }
        return {**body, **overrides}

    async def connect(self, platform: str, **overrides: Any):
        return await self.host.http(
            "POST",
            f"/api/clients/{self.client_id}/connect",
            body=self.connect_body(platform, **overrides),
        )

    async def stored(self, platform: str, resource: str) -> list[dict[str, Any]]:
        return await RecordStore(self.settings).read(self.client_id, platform, resource)
