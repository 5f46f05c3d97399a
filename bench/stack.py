"""The whole product in one process for a bench run: devhost, sandboxes, Azurite, SMTP.

``BenchStack`` builds a ``World`` of a scenario on devhost's virtual clock (moved to a
stretch the sandboxes find quiet, so the ground truth taken at the start holds while the
run loads), points the settings at Azurite under names unique to the run, sets the
strategy's ``limits`` overrides (and ``app_limits``: platform -> ``Settings.<platform>.limits``
overrides; ``sandbox_limits``: platform -> the sandbox's limit overrides, for runs with
scaled quotas), routes every connector through a ``Recorder`` around
the world's in-process transport, and runs the real ``function_app`` in devhost.
Clients connect through the HTTP trigger, as a client would.

Settings are read from the environment (``shared.settings.get_settings``): ``BenchStack``
sets the variables it needs for the duration of ``running()`` and restores them after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import function_app
from bench.recorder import Recorder, owners_of
from bench.strategies import Strategy
from devhost.clock import VirtualClock
from devhost.host import DevHost
from sandbox.faults import Faults
from sandbox.scenario import Scenario, load
from sandbox.world import World
from shared.flows.chains import SETTLE
from shared.flows.clock import use_clock
from shared.flows.connections import close_connectors, use_transport
from shared.settings import get_settings
from shared.storage.clients import close_shared_clients
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
QUIET_FOR_S = {"tiny": 12 * 3600.0, "reference": 3600.0, "multi": 600.0}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (and drop ``AzureWebJobsStorage``), fresh settings
    inside; the previous environment and settings after."""
    saved = {k: os.environ.get(k) for k in [*values, "AzureWebJobsStorage"]}
    os.environ.pop("AzureWebJobsStorage", None)
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


class BenchStack:
    def __init__(
        self,
        scenario: str | Scenario,
        strategy: Strategy,
        *,
        connection_string: str,
        faults: str = "none",
        smtp: tuple[str, int] | None = None,
        platforms: tuple[str, ...] | None = None,
        fault_seed: int = 1,
        sandbox_limits: dict[str, dict[str, Any]] | None = None,
        app_limits: dict[str, dict[str, Any]] | None = None,
        clients: int | None = None,
        mark: Callable[..., None] | None = None,
    ) -> None:
        mark = mark or (lambda *_, **__: None)  # stage marks for bench.progress
        self.scenario = load(scenario) if isinstance(scenario, str) else scenario
        if clients is not None:  # the first N clients only (a smaller multi)
            if clients < 1:
                raise ValueError(f"clients must be at least 1, not {clients}")
            self.scenario = dataclasses.replace(
                self.scenario, clients=self.scenario.clients[:clients]
            )
        self.strategy = strategy
        self.platforms = platforms or _platforms_of(self.scenario)
        self.clock = VirtualClock(self.scenario.now)
        self.world = World(
            self.scenario,
            clock=self.clock,
            faults=Faults(faults, seed=fault_seed),
            limits=sandbox_limits,
            platforms=self.platforms,
        )
        mark("world built", clients=len(self.scenario.clients))
        quiet = QUIET_FOR_S.get(self.scenario.name, 600.0)
        self.clock.advance_to(self.quiet_start(self.scenario.now, quiet))
        self.started_at = self.clock.now()
        mark("quiet start found")
        self.recorder = Recorder(self.clock, owners_of(self.world.credentials()))
        prefix = f"b{uuid.uuid4().hex[:8]}"
        self.env = {
            "TRIBUTARY_STORAGE_CONNECTION": connection_string,
            "TRIBUTARY_TABLE_PREFIX": prefix,
            "TRIBUTARY_RAW_CONTAINER": f"raw-{prefix}",
            "TRIBUTARY_CREDENTIALS_KEY": generate_key(),
        }
        self.env.update(strategy.env())
        if smtp is not None:
            self.env["TRIBUTARY_SMTP_HOST"], self.env["TRIBUTARY_SMTP_PORT"] = smtp[0], str(smtp[1])
        for name in self.platforms:
            for key, value in PLATFORM_ENV[name].items():
                self.env[f"TRIBUTARY_{name.upper()}__{key}"] = value
            limits = {**strategy.limits(name), **(app_limits or {}).get(name, {})}
            if limits:
                self.env[f"TRIBUTARY_{name.upper()}__LIMITS"] = json.dumps(limits)
        self.host: DevHost | None = None

    def quiet_start(self, after: float, quiet_for: float) -> float:
        """The first instant >= ``after`` every client's sandboxes find quiet for
        ``quiet_for`` seconds after it and ``SETTLE`` before it (the onboarding plans up to
        ``SETTLE`` before its start; the ground truth is taken at the start)."""
        return self.world.quiet_start(after, quiet_for, SETTLE.total_seconds())

    def history_start(self, client_id: str) -> date:
        spec = self.scenario.client(client_id)
        return (datetime.fromtimestamp(spec.history_start, UTC) - HISTORY_MARGIN).date()

    def connect_body(self, client_id: str, platform: str) -> dict[str, Any]:
        return {
            "platform": platform,
            "account": self.scenario.client(client_id).account(platform),
            "credentials": self.world.platforms[platform].credentials(client_id),
            "history_start": self.history_start(client_id).isoformat(),
        }

    @contextlib.asynccontextmanager
    async def running(self):
        """Environment, virtual clock and transports in place; a fresh devhost."""
        with (
            environment(self.env),
            self.strategy.installed(),
            use_clock(self.clock.utcnow, self.clock.sleep),
            use_transport(lambda platform: self.recorder.wrap(platform, self.world.transport())),
        ):
            self.settings = get_settings()
            self.host = DevHost(function_app.app, clock=self.clock)
            try:
                yield self
            finally:
                await close_connectors()
                await close_shared_clients(self.settings)  # later runs may share the loop


def _platforms_of(scenario: Scenario) -> tuple[str, ...]:
    names = {p for spec in scenario.clients for p in spec.platforms}
    return tuple(p for p in ("amazon", "shopify", "ebay", "etsy", "quiltt") if p in names)
