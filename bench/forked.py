"""Compute something in a forked copy of this process while the run goes on.

``Forked(fn)`` forks at once; the child calls ``fn()`` on its copy of the process (the
world as it stands at the fork: its clock does not move there), sends the pickled result
down a pipe and exits with ``os._exit`` (no cleanup of the parent's Azurite, sockets or
event loop). ``await job.result()`` returns it, or raises ``ForkedError`` with the
child's traceback (or its exit status if it died without a word). The pipe is drained
by a thread from the start, so the child never waits on a full pipe.

Why: a bench's ground truth of 50 clients (every record normalized, ~100 s CPU) is
taken at the run's start but read only after it; in a child it runs on the other core
while the run goes (at a lower priority, ``nice``: where the cores are shared, the
run's own work comes first; the result is needed only at the end). Where ``os.fork``
does not exist ``fn`` runs in place, at once.

The child ignores SIGTERM and SIGINT: a stop signal sent to every process of the run
(a kill by name, a terminal's Ctrl-C) cuts the run, which then still needs the result;
``cancel()`` kills the child outright.

``fn`` must only read what the fork copied and must not touch the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any


class ForkedError(RuntimeError):
    """The child failed: its traceback, or how it ended."""


def _drain(fd: int, into: bytearray) -> None:
    with contextlib.closing(os.fdopen(fd, "rb", buffering=0)) as pipe:
        while chunk := pipe.read(1 << 20):
            into += chunk


class Forked:
    def __init__(self, fn: Callable[[], Any], *, nice: int = 0) -> None:
        """Fork and run ``fn`` in the child, ``nice`` steps lower in priority than this
        process (``os.nice``; the run it shares the cores with comes first)."""
        self._value: Any = None
        self._error: str | None = None
        self._pid: int | None = None
        if not hasattr(os, "fork"):
            self._value = fn()
            return
        read, write = os.pipe()
        sys.stdout.flush()  # nothing buffered is written twice
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read)
            status = 0
            try:
                for number in (signal.SIGTERM, signal.SIGINT):  # the parent decides: cancel()
                    signal.signal(number, signal.SIG_IGN)
                if nice:
                    os.nice(nice)
                payload = pickle.dumps((True, fn()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # everything goes back to the parent
                payload, status = pickle.dumps((False, traceback.format_exc())), 1
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view) :]
            finally:
                os._exit(status)
        os.close(write)
        self._pid = pid
        self._data = bytearray()
        self._reader = threading.Thread(target=_drain, args=(read, self._data), daemon=True)
        self._reader.start()

    async def result(self) -> Any:
        """The child's result (once it has ended); ForkedError if it failed."""
        if self._pid is not None:
            await asyncio.to_thread(self._reader.join)
            _, status = await asyncio.to_thread(os.waitpid, self._pid, 0)
            self._pid = None
            try:
                ok, value = pickle.loads(bytes(self._data))
            except Exception:  # a child that died without a result
                ok, value = False, f"the child ended with status {status} and no result"
            self._data = bytearray()
            if ok:
                self._value = value
            else:
                self._error = value
        if self._error is not None:
            raise ForkedError(f"forked computation failed:\n{self._error}")
        return self._value

    def cancel(self) -> None:
        """Stop the child if it still runs (the run failed before it needed the result)."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
