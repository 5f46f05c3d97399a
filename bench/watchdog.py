"""Keep devhost's virtual clock moving when activities wait on each other, not on I/O.

devhost advances virtual time only when every in-flight activity sleeps on the clock;
one that awaits anything else is taken to be doing real I/O, and the host waits for it.
An activity that awaits an ``asyncio.Lock`` held by another activity which sleeps on the
clock (Quiltt's session-token lock while the sandbox serves the token call with its
simulated latency) is neither: the host waits for it, it waits for the lock, the holder
waits for time to move — a deadlock on the first run with all five platforms.

``StallClock`` is a ``VirtualClock`` whose ``blocked`` count can be raised by a
``watchdog``: when nothing has moved for ``STALL_S`` of wall time while sleepers wait,
the watchdog counts the in-flight activities whose innermost await is an ``asyncio``
lock, event or condition (waiting on a peer, not on I/O), adds them to ``blocked`` and
wakes the host. If every in-flight activity is then asleep or waiting on a peer, the
host advances to the next wake-up, exactly as if the waiters slept; an activity in real
I/O still holds the clock. The credit ends at the next advance.
"""

from __future__ import annotations

import asyncio

from devhost.clock import VirtualClock

STALL_S = 0.05
POLL_S = 0.02
LOCKS = ("asyncio/locks.py",)


class StallClock(VirtualClock):
    def __init__(self, start=0.0) -> None:
        super().__init__(start)
        self.credit = 0
        self.stalls = 0

    @property
    def blocked(self) -> int:
        return super().blocked + self.credit

    def advance_to(self, epoch_s: float) -> None:
        self.credit = 0
        super().advance_to(epoch_s)


def waits_on_peer(task: asyncio.Task) -> bool:
    """True if the task's innermost awaited coroutine is an asyncio lock primitive's."""
    coro, innermost = task.get_coro(), None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            innermost = frame.f_code.co_filename
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return innermost is not None and innermost.endswith(LOCKS)


async def watchdog(clock: StallClock, host) -> None:
    """Run beside ``host``'s drive loop until cancelled."""
    loop = asyncio.get_running_loop()
    last, since = None, loop.time()
    while True:
        await asyncio.sleep(POLL_S)
        counters = host.counters
        mark = (clock.now(), counters.activity_calls, counters.episodes, len(host._inflight))
        if mark != last:
            last, since = mark, loop.time()
            continue
        stuck = loop.time() - since >= STALL_S
        if stuck and host._inflight and clock.next_wakeup() is not None and not clock.credit:
            waiting = sum(1 for task in host._inflight if waits_on_peer(task))
            if waiting:
                clock.credit = waiting
                clock.stalls += 1
                clock.parked.set()
            since = loop.time()
