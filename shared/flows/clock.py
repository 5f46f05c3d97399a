"""The time triggers and activities read: the wall clock, unless a host injects its own.

Orchestrators never use this (they use ``context.current_utc_datetime``). HTTP/timer
triggers, connectors (token expiry) and the fetch activity (a permit's time) do; devhost
runs them on its virtual clock by ``use_clock(virtual.utcnow, virtual.sleep)`` so a
simulated day is a day for them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

Sleep = Callable[[float], Awaitable[None]]
_source: list[Callable[[], datetime]] = [lambda: datetime.now(UTC)]
_sleep: list[Sleep] = [asyncio.sleep]


def utcnow() -> datetime:
    """Now, aware UTC, from the current source."""
    return _source[0]()


async def sleep(seconds: float) -> None:
    """Wait ``seconds`` on the current clock."""
    await _sleep[0](seconds)


@contextlib.contextmanager
def use_clock(source: Callable[[], datetime], sleeper: Sleep | None = None) -> Iterator[None]:
    previous = _source[0], _sleep[0]
    _source[0] = source
    _sleep[0] = sleeper or asyncio.sleep
    try:
        yield
    finally:
        _source[0], _sleep[0] = previous
