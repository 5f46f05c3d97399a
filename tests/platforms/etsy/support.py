"""Test support: an Etsy connector wired to the in-process sandbox, and a patient loop.

``drain`` is what the block orchestrator does with a chain, minus permits and storage:
fetch, and on ``throttled`` advance the sandbox's ManualClock by the wait the outcome
carries, on ``transient`` / ``auth_expired`` by a second, then try the same request again;
``permanent`` fails the test. Never a real sleep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.clock import ManualClock
from sandbox.faults import Faults
from sandbox.scenario import load
from sandbox.world import World
from shared.platforms.base import FetchResult, Outcome, PageRequest
from shared.platforms.etsy.auth import TokenCache
from shared.platforms.etsy.client import EtsyConnector, build
from shared.settings import PlatformSettings

CLIENT = "c-tiny"
ACCOUNT = "etsy-c-tiny"
BASE = "http://sandbox/etsy"
TOKEN_URL = f"{BASE}/v3/public/oauth/token"


def settings() -> PlatformSettings:
    return PlatformSettings(base_url=BASE, auth_url=TOKEN_URL)


def world(faults: Faults | None = None, quiet_s: float = 6 * 3600) -> World:
    """The tiny scenario, Etsy only, the clock moved to a stretch where nothing changes."""
    scenario = load("tiny")
    made = World(scenario, clock=ManualClock(scenario.now), faults=faults, platforms=("etsy",))
    made.clock.set(made.platforms["etsy"].quiet_time(CLIENT, scenario.now, quiet_s))
    return made


def connector(made: World, cache: TokenCache | None = None, **kw: Any) -> EtsyConnector:
    creds = made.platforms["etsy"].credentials(CLIENT)
    return build(
        settings(),
        creds,
        ACCOUNT,
        transport=made.transport(),
        clock=lambda: datetime.fromtimestamp(made.clock.now(), UTC),
        cache=cache if cache is not None else TokenCache(),
        **kw,
    )


@dataclass
class Drained:
    pages: list[FetchResult] = field(default_factory=list)  # ok results, in order
    outcomes: dict[str, int] = field(default_factory=dict)
    refreshed: int = 0

    def payloads(self, step: str = "page") -> list[Any]:
        return [r.payload for r in self.pages if r.request.step == step]


async def drain(
    conn: EtsyConnector, request: PageRequest | None, clock: ManualClock, max_calls: int = 5000
) -> Drained:
    out = Drained()
    calls = 0
    while request is not None:
        calls += 1
        assert calls <= max_calls, f"chain did not finish in {max_calls} calls"
        result = await conn.fetch(request)
        outcome = result.classified.outcome
        out.outcomes[outcome.value] = out.outcomes.get(outcome.value, 0) + 1
        out.refreshed += result.refreshed_token
        if outcome is Outcome.OK:
            out.pages.append(result)
            request = result.next
        elif outcome is Outcome.THROTTLED:
            clock.advance(result.classified.retry_after_s or 1.0)
        elif outcome in (Outcome.TRANSIENT, Outcome.AUTH_EXPIRED):
            clock.advance(1.0)
        else:
            raise AssertionError(f"permanent outcome: {result.classified.reason}")
    return out
