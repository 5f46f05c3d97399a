"""``Forked``: a computation on a forked copy of the process, its result awaited later."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bench.forked import Forked, ForkedError


async def test_the_child_computes_on_the_state_at_the_fork():
    state = {"n": 1}
    job = Forked(lambda: (os.getpid(), state["n"], list(range(200_000))))
    state["n"] = 2  # after the fork: the child does not see it
    pid, n, big = await job.result()
    assert pid != os.getpid()  # it ran elsewhere
    assert n == 1 and big == list(range(200_000))  # more than a pipe's buffer
    assert await job.result() == (pid, 1, big)  # the same result again


async def test_the_child_runs_at_a_lower_priority_than_the_parent():
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    job = Forked(lambda: os.getpriority(os.PRIO_PROCESS, 0), nice=5)
    assert await job.result() == min(19, mine + 5)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the parent keeps its own


async def test_the_child_outlives_a_stop_signal_sent_to_the_whole_run():
    job = Forked(lambda: (time.sleep(1.5), "truth")[1])
    time.sleep(0.5)  # the child has set its handlers (its first statements)
    os.kill(job._pid, signal.SIGTERM)
    os.kill(job._pid, signal.SIGINT)
    assert await job.result() == "truth"


async def test_a_failure_in_the_child_is_raised_with_its_traceback():
    def boom():
        raise ValueError("no truth here")

    job = Forked(boom)
    with pytest.raises(ForkedError, match="ValueError: no truth here"):
        await job.result()


async def test_a_child_that_dies_without_a_result_is_an_error():
    job = Forked(lambda: os._exit(3))
    with pytest.raises(ForkedError, match="status"):
        await job.result()


def test_cancel_stops_a_running_child():
    job = Forked(lambda: time.sleep(60))
    pid = job._pid
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # reaped: gone
