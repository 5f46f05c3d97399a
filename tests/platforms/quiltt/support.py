"""Test support: a Quiltt connector wired to the in-process sandbox, and a patient loop.

``drain`` does what the block orchestrator does with a chain, minus permits and storage:
on ``throttled`` it advances the sandbox's ManualClock by the outcome's wait, on
``transient`` / ``auth_expired`` by a second, and asks again; ``permanent`` fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.clock import ManualClock
from sandbox.faults import Faults
from sandbox.scenario import PLATFORMS, load
from sandbox.world import World
from shared.platforms.base import FetchResult, Outcome, PageRequest
from shared.platforms.quiltt.auth import SessionCache
from shared.platforms.quiltt.client import QuilttConnector, build
from shared.settings import PlatformSettings

CLIENT = "c-tiny"
ACCOUNT = "quiltt-c-tiny"
ENDPOINT = "http://sandbox/quiltt/v1/graphql"
SESSIONS = "http://sandbox/quiltt/v1/users/sessions"
ISSUE_CALL = ("quiltt", "POST /v1/users/sessions")


def settings() -> PlatformSettings:
    return PlatformSettings(base_url=ENDPOINT, auth_url=SESSIONS)


def quiet_time(world: World, after: float, span: float) -> float:
    """The first instant >= ``after`` such that no transaction appears or posts within
    ``span`` seconds (the crawl then sees one state of the bank)."""
    data = world.platforms["quiltt"].view(CLIENT).data
    moments = sorted({t.created for t in data.txns} | {t.posted for t in data.txns})
    t = after
    for moment in moments:
        if moment < t:
            continue
        if moment > t + span:
            break
        t = moment + 1
    return t


def world(faults: Faults | None = None, span: float = 4 * 3600, **limits: Any) -> World:
    """The tiny scenario (every platform, so Quiltt's deposits mirror real payouts), the
    clock moved to a quiet stretch."""
    scenario = load("tiny")
    made = World(
        scenario,
        clock=ManualClock(scenario.now),
        faults=faults,
        platforms=PLATFORMS,
        limits={"quiltt": limits} if limits else None,
    )
    made.clock.set(quiet_time(made, scenario.now, span))
    return made


def clock_of(made: World):
    return lambda: datetime.fromtimestamp(made.clock.now(), UTC)


def connector(made: World, cache: SessionCache | None = None, **kw: Any) -> QuilttConnector:
    creds = made.platforms["quiltt"].credentials(CLIENT)
    return build(
        settings(),
        creds,
        ACCOUNT,
        transport=made.transport(),
        clock=clock_of(made),
        cache=cache if cache is not None else SessionCache(),
        **kw,
    )


@dataclass
class Drained:
    pages: list[FetchResult] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    refreshed: int = 0

    def payloads(self) -> list[Any]:
        return [r.payload for r in self.pages]


async def drain(
    conn: QuilttConnector, request: PageRequest | None, clock: ManualClock, max_calls: int = 3000
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
