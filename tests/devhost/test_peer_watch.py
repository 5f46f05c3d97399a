"""PeerWatch: waits_on_peer's answer, walked once per suspension, never stale."""

from __future__ import annotations

import asyncio

from devhost import clock as clock_module
from devhost.clock import PeerWatch, VirtualClock, waits_on_peer


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_watch_answers_as_waits_on_peer_as_a_task_moves_between_waits() -> None:
    clock = VirtualClock(0.0)
    lock, go = asyncio.Lock(), asyncio.Event()
    watch = PeerWatch()

    async def worker() -> None:
        async with lock:  # parked on the lock: a peer holds it
            await clock.sleep(5.0)  # parked on the clock: not a peer wait
        await go.wait()  # parked on an event: a peer wait again

    await lock.acquire()
    task = asyncio.ensure_future(worker())
    await _settle()
    assert watch(task) is waits_on_peer(task) is True
    lock.release()
    await _settle()
    assert watch(task) is waits_on_peer(task) is False  # a stale True would stall time
    clock.advance_to(5.0)
    await _settle()
    assert watch(task) is waits_on_peer(task) is True
    go.set()
    await task
    assert watch(task) is waits_on_peer(task) is False


async def test_a_suspension_is_walked_once(monkeypatch) -> None:
    walks: list[asyncio.Task] = []
    real = clock_module._parked_in_primitive

    def counting(task: asyncio.Task) -> bool:
        walks.append(task)
        return real(task)

    monkeypatch.setattr(clock_module, "_parked_in_primitive", counting)
    gate = asyncio.Event()
    task = asyncio.ensure_future(gate.wait())
    await _settle()
    watch = PeerWatch()
    assert [watch(task) for _ in range(50)] == [True] * 50
    assert walks == [task]
    watch.forget(task)
    assert watch(task) is True and len(walks) == 2
    gate.set()
    await task
