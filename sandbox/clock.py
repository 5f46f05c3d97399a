"""Clocks the sandboxes evaluate limits on.

A clock gives ``now()`` in epoch seconds (UTC, float) and an async ``sleep``. devhost's
virtual clock satisfies the same protocol structurally, so in-process runs share one
timeline with the orchestrations; the server mode uses ``WallClock``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of this clock's time pass."""
        ...


class WallClock:
    """Real time, optionally sped up: at ``speed=60`` a minute of limit windows passes
    in one real second. ``start`` pins the simulated now at construction."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin_real = time.time()
        self._origin = self._origin_real if start is None else start

    def now(self) -> float:
        return self._origin + (time.time() - self._origin_real) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it at once. For unit tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._now += seconds

    def set(self, epoch_s: float) -> None:
        self._now = epoch_s

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
