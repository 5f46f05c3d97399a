"""One simulated world: a scenario's data on every platform, their limits, faults and apps.

In-process use (tests, devhost, bench)::

    world = World(load("tiny"), clock=virtual_clock, faults=Faults("default", seed=1))
    async with httpx.AsyncClient(transport=world.transport(), base_url="http://sandbox") as c:
        await c.get("/amazon/orders/v0/orders", params=...)

Quiltt is built last: its deposits mirror the marketplaces' payouts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Mount, Route

from sandbox.accounting import Accounting
from sandbox.clock import Clock, ManualClock
from sandbox.faults import Faults
from sandbox.platform import PayoutFact, PlatformSandbox, build_platform
from sandbox.responses import JSONResponse
from sandbox.scenario import PLATFORMS, Scenario


class World:
    def __init__(
        self,
        scenario: Scenario,
        clock: Clock | None = None,
        faults: Faults | None = None,
        limits: dict[str, dict[str, Any]] | None = None,
        platforms: tuple[str, ...] = PLATFORMS,
    ) -> None:
        unknown = set(platforms) - set(PLATFORMS)
        if unknown:
            raise ValueError(f"unknown platforms {sorted(unknown)}")
        self.scenario = scenario
        self.clock: Clock = clock or ManualClock(scenario.now)
        self.faults = faults or Faults("none", seed=scenario.seed)
        self.limit_overrides = dict(limits or {})
        self.accounting = Accounting()
        self._truth_cache: dict[tuple[str, str, str], list[dict[str, Any]]] | None = None
        self.platforms: dict[str, PlatformSandbox] = {}
        for name in sorted(platforms, key=lambda p: p == "quiltt"):
            self.platforms[name] = build_platform(name, self)

    def quiet_start(self, after: float, quiet_for: float, settle: float = 0.0) -> float:
        """The first instant >= ``after`` at which every client's sandboxes stay quiet
        (no new records, no changes) for ``quiet_for`` seconds after it and ``settle``
        before it; ``after`` itself if a sandbox cannot tell. Quiltt moves with the
        marketplaces' payouts, so the search runs until every platform agrees. Each
        client's change times are read once per call (the search may go round many times:
        at 50 clients, re-reading them was most of a bench's set-up)."""
        times: dict[tuple[str, str], list[int]] = {}
        start = after
        for _ in range(5000):
            moved = start
            for spec in self.scenario.clients:
                for name, sandbox in self.platforms.items():
                    if hasattr(sandbox, "quiet_time"):
                        key = (spec.client_id, name)
                        if key not in times:
                            times[key] = sandbox.change_times(spec.client_id)
                        t = sandbox.quiet_time(
                            spec.client_id, moved - settle, quiet_for + settle, times=times[key]
                        )
                        moved = max(moved, t + settle)
            if moved == start:
                return start
            start = moved
        raise RuntimeError(f"no quiet stretch of {quiet_for} s common to every client")

    @contextlib.contextmanager
    def as_of(self, epoch_s: float) -> Iterator[None]:
        """Read the ground truth as it was at ``epoch_s`` (a run's planning instant):
        inside the block ``clock.now()`` is that instant. Only for truth reads — the apps
        must not serve requests meanwhile."""
        running = self.clock
        self.clock = ManualClock(min(epoch_s, running.now()))
        try:
            yield
        finally:
            self.clock = running

    @contextlib.contextmanager
    def truth_snapshot(self) -> Iterator[None]:
        """Inside the block ``ground_truth`` answers each (client, platform, resource)
        once and then the same list again: for reading the truth several ways at one
        instant (a bench's truth and census), while no app serves a request and the
        clock stands still (RuntimeError if it moved). Callers must not mutate the lists."""
        at = self.clock.now()
        self._truth_cache = {}
        try:
            yield
        finally:
            self._truth_cache = None
        if self.clock.now() != at:
            raise RuntimeError("the clock moved during a truth snapshot")

    def limits(self, platform: str) -> dict[str, Any]:
        return self.limit_overrides.get(platform, {})

    def payouts(self, client_id: str) -> list[PayoutFact]:
        """Every marketplace payout of the client, in time order (for Quiltt's deposits)."""
        facts = [
            fact
            for name, sandbox in self.platforms.items()
            if name != "quiltt"
            for fact in sandbox.payouts(client_id)
        ]
        return sorted(facts, key=lambda f: (f.paid_at, f.platform, f.payout_id))

    def ground_truth(self, client_id: str, platform: str, resource: str) -> list[dict[str, Any]]:
        cache = self._truth_cache
        if cache is None:
            return self.platforms[platform].ground_truth(client_id, resource)
        key = (client_id, platform, resource)
        if key not in cache:
            cache[key] = self.platforms[platform].ground_truth(client_id, resource)
        return cache[key]

    def credentials(self) -> dict[str, dict[str, dict[str, str]]]:
        """client id -> platform -> credentials, for every client of the scenario."""
        return {
            spec.client_id: {
                name: sandbox.credentials(spec.client_id)
                for name, sandbox in self.platforms.items()
                if name in spec.platforms
            }
            for spec in self.scenario.clients
        }

    def asgi_app(self) -> Starlette:
        """Every platform's app under ``/<platform>``; ``GET /`` and ``/health`` describe the
        world; any other path outside the mounts answers a JSON 404 (405 wrong method)."""

        async def health(_request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "status": "ok",
                    "scenario": self.scenario.name,
                    "now": self.clock.now(),
                    "platforms": {name: f"/{name}" for name in self.platforms},
                    "clients": [spec.client_id for spec in self.scenario.clients],
                }
            )

        async def unknown(request: Request, exc: HTTPException) -> JSONResponse:
            return JSONResponse(
                {
                    "error": "not_found" if exc.status_code == 404 else "method_not_allowed",
                    "path": request.url.path,
                    "platforms": sorted(self.platforms),
                },
                exc.status_code,
            )

        routes = [Route("/", health), Route("/health", health)]
        routes += [Mount(f"/{name}", app=sandbox.app()) for name, sandbox in self.platforms.items()]
        handlers = {404: unknown, 405: unknown}
        return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.asgi_app())
