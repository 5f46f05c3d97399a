"""devhost's clocks: virtual (discrete-event) and wall.

Both give ``now()`` in epoch seconds (UTC) and an async ``sleep`` — the same protocol the
sandboxes evaluate limits on, so one clock object can drive both.

The virtual clock never moves by itself: the host advances it to the next due item when
nothing else can run. ``sleep`` parks the caller until virtual time reaches its deadline;
``blocked`` counts parked callers so the host can tell "everyone waits on time" (advance)
from "someone does real I/O" (wait for it).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime
from typing import Any


def to_datetime(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


_PEER_PRIMITIVES = ("asyncio/locks.py", "asyncio/queues.py")


def waits_on_peer(task: asyncio.Task) -> bool:
    """True if ``task`` is parked on an asyncio lock, event, condition, semaphore or
    queue that has not been released yet: it waits for another task, not for I/O.

    The virtual clock must count such tasks as idle, or a task that waits for a lock
    held by one sleeping on the clock (a shared token refresh while the sandbox serves
    the token call with its simulated latency) would stall time forever."""
    waiter = getattr(task, "_fut_waiter", None)  # the future the task is parked on
    if waiter is None or waiter.done():  # runnable: the cheap half of the test first
        return False
    return _parked_in_primitive(task)


def _parked_in_primitive(task: asyncio.Task) -> bool:
    """The innermost frame of ``task``'s await chain is an asyncio lock or queue."""
    coro: Any = task.get_coro()
    innermost = None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            innermost = frame.f_code.co_filename
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return innermost is not None and innermost.replace("\\", "/").endswith(_PEER_PRIMITIVES)


class PeerWatch:
    """``waits_on_peer`` for the host's in-flight tasks, walked once per suspension.

    A task suspended on a future stays suspended, with the same await chain, until
    that future is done: so while ``task._fut_waiter`` is the same pending future, the
    answer of the last walk still holds. The host asks about every in-flight activity
    on every turn of its loop; walking each one's await chain (thirty frames deep in
    the storage SDK's pipeline) every time was a tenth of a 10-client bench run. The
    watch keeps the future it saw (so its identity cannot be reused) until ``forget``."""

    def __init__(self) -> None:
        self._seen: dict[asyncio.Task, tuple[asyncio.Future, bool]] = {}

    def __call__(self, task: asyncio.Task) -> bool:
        waiter = getattr(task, "_fut_waiter", None)
        if waiter is None or waiter.done():
            return False
        seen = self._seen.get(task)
        if seen is not None and seen[0] is waiter:
            return seen[1]
        verdict = _parked_in_primitive(task)
        self._seen[task] = (waiter, verdict)
        return verdict

    def forget(self, task: asyncio.Task) -> None:
        self._seen.pop(task, None)


class VirtualClock:
    virtual = True

    def __init__(self, start: float | datetime = 0.0) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self.parked = asyncio.Event()

    def now(self) -> float:
        return self._now

    def utcnow(self) -> datetime:
        return to_datetime(self._now)

    @property
    def blocked(self) -> int:
        return sum(1 for *_, fut in self._sleepers if not fut.done())

    def next_wakeup(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        self.parked.set()
        await fut

    def advance_to(self, epoch_s: float) -> None:
        """Move time forward to ``epoch_s`` and wake every sleeper due by then."""
        if epoch_s < self._now:
            raise ValueError("virtual time does not run backwards")
        self._now = epoch_s
        while self._sleepers and self._sleepers[0][0] <= epoch_s:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


class WallClock:
    """Real time (optionally sped up); ``sleep`` really sleeps."""

    virtual = False

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = time.time()
        self.parked = asyncio.Event()
        self.blocked = 0

    def now(self) -> float:
        return self._origin + (time.time() - self._origin) * self.speed

    def utcnow(self) -> datetime:
        return to_datetime(self.now())

    def next_wakeup(self) -> float | None:
        return None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def advance_to(self, epoch_s: float) -> None:  # pragma: no cover - wall time moves itself
        raise RuntimeError("the wall clock cannot be advanced")
