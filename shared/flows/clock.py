"""The time triggers and connectors read: the wall clock, unless a host injects its own.

Orchestrators never use this (they use ``context.current_utc_datetime``). HTTP/timer
triggers and connectors (token expiry) do; devhost runs them on its virtual clock by
``use_clock(lambda: virtual.utcnow())`` so a simulated day is a day for them too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

_source: list[Callable[[], datetime]] = [lambda: datetime.now(UTC)]


def utcnow() -> datetime:
    """Now, aware UTC, from the current source."""
    return _source[0]()


@contextlib.contextmanager
def use_clock(source: Callable[[], datetime]) -> Iterator[None]:
    previous = _source[0]
    _source[0] = source
    try:
        yield
    finally:
        _source[0] = previous
