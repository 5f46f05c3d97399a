"""Idempotent storage calls retried in place when storage fails for a moment.

A loaded page is written under keys that depend on the page only (``RawPageStore.put``
overwrites blob ``page``; ``RecordStore.upsert`` replaces rows by natural key), so a
write that failed halfway can simply be made again. Doing that here, inside the
activity, with a short backoff on the wall clock (storage is real time, even when a
host runs the platforms on a virtual clock), keeps a dropped connection from failing
the fetch run: the orchestrator would run the run again whole, a large report's
download included.

Retried: ``RetryableError`` (what ``shared.storage.clients.storage_errors`` makes of a
network fault, a timeout, a 5xx or throttling) and the SDK's and the OS's own network
errors if they arrive unwrapped. Anything else (a bad key, a rejected transaction, a
bug) is raised at once. After ``PAUSES_S`` is used up the last failure is raised: the
activity fails and the orchestrator's slower loop takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.errors import RetryableError

T = TypeVar("T")
PAUSES_S: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Wall seconds slept before each retry: six attempts in all, about 4 s of waiting."""
RETRIED: tuple[type[BaseException], ...] = (
    RetryableError,
    ServiceRequestError,
    ServiceResponseError,
    ConnectionError,
    TimeoutError,
)


async def retried(
    operation: Callable[[], Awaitable[T]],
    *,
    pauses: Sequence[float] = PAUSES_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``await operation()``, made again after each pause in ``pauses`` while it fails
    with one of ``RETRIED``; ``operation`` must be safe to repeat. Returns its result or
    raises its last error (any other error at once)."""
    for pause in pauses:
        try:
            return await operation()
        except RETRIED:
            await sleep(pause)
    return await operation()
