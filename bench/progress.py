"""A long bench run, watchable while it goes: stage marks and a progress row a minute.

``Watch(path, echo=...)`` appends JSON lines to ``path`` (the run's
``<stem>.progress.jsonl``, beside ``--out``) and, with ``echo``, prints a short line
of each to stderr. Two kinds of row, each with ``wall_s`` (seconds since the watch
began, i.e. since the run started setting up), ``cpu_s`` (this process, user + system)
and ``rss_mb`` (resident now, not the peak):

- ``{"stage": name, ...}``: a step of the set-up or the wind-down ended (world built,
  quiet start found, connects sent, driving ended, truth read, records read back). The
  wall between two stages is what that step cost.
- ``{"tick": n, ...}``: a snapshot every ``every_s`` seconds of wall while the run
  drives (``Watch.snapshot``): virtual hours since the start, requests in all and per
  platform, instances done / started, onboardings ended / connected, history events
  replayed, and per application-wide lane (eBay's APIs, Etsy's ``api``) its counted
  calls and ``use``: calls over the most its limits allowed since the start
  (``bench.quotas.lane_use``'s ``use_of_capacity`` so far; None before any capacity).

A tick reads the recorder's new exchanges only (it keeps counts), so it stays cheap at
tens of thousands of requests; the lanes' use is recomputed from the lanes' own
exchanges. Nothing here changes what the run does.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from bench.quotas import lane_use
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import PER_APPLICATION

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024) if hasattr(os, "sysconf") else 0.0


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Watch:
    """Stage marks and progress rows of one run (see the module docstring)."""

    def __init__(self, path: Path | None, *, echo: bool = False, err: TextIO | None = None):
        self.path, self.echo, self.err = path, echo, err
        self.wall0, self.cpu0 = time.perf_counter(), _cpu_s()
        self.ticks = 0
        self._seen = 0  # exchanges already counted
        self._per_platform: Counter = Counter()
        self._lanes: dict[tuple[str, str], list] = defaultdict(list)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def _row(self, row: dict[str, Any], line: str) -> None:
        row = {
            **row,
            "wall_s": round(time.perf_counter() - self.wall0, 1),
            "cpu_s": round(_cpu_s() - self.cpu0, 1),
            "rss_mb": round(rss_mb()),
        }
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        if self.echo:
            print(
                f"  [{row['wall_s']:7.0f} s wall, {row['cpu_s']:6.0f} s cpu, "
                f"{row['rss_mb']:5.0f} MB] {line}",
                file=self.err or sys.stderr,
                flush=True,
            )

    def stage(self, name: str, **facts: Any) -> None:
        """A step ended: ``name`` and any plain ``facts`` about it."""
        extra = "".join(f", {k} {v}" for k, v in facts.items())
        self._row({"stage": name, **facts}, f"stage: {name}{extra}")

    def snapshot(
        self,
        stack,
        policies: Mapping[str, PlatformPolicy],
        *,
        ended: Mapping[tuple[str, str], float],
        connected: int,
    ) -> dict[str, Any]:
        """The progress of ``stack`` now (see the module docstring); ``ended``:
        (client, platform) -> virtual end of the onboardings ended so far."""
        exchanges = stack.recorder.exchanges
        for e in exchanges[self._seen :]:
            self._per_platform[e.platform] += 1
            policy = policies.get(e.platform) if e.platform in PER_APPLICATION else None
            if policy is not None and e.bucket in policy.lanes:
                self._lanes[(e.platform, e.bucket)].append(e)
        self._seen = len(exchanges)
        now = stack.clock.now()
        host = stack.host
        lanes = {}
        for (platform, lane), mine in sorted(self._lanes.items()):
            clients = [c.client_id for c in stack.scenario.clients if platform in c.platforms]
            ends = {c: t for (c, p), t in ended.items() if p == platform}
            use = lane_use(
                mine,
                policies[platform],
                lane,
                started_at=stack.started_at,
                stopped_at=now,
                ended=ends,
                clients=clients,
            )
            lanes[f"{platform}.{lane}"] = {"calls": use["calls"], "use": use["use_of_capacity"]}
        return {
            "virtual_h": round((now - stack.started_at) / 3600, 4),
            "requests": self._seen,
            "per_platform": dict(sorted(self._per_platform.items())),
            "instances_done": sum(1 for i in host.instances.values() if i.done),
            "instances": len(host.instances),
            "onboardings_ended": len(ended),
            "onboardings": connected,
            "events_replayed": host.counters.history_events_replayed,
            "lanes": lanes,
        }

    def tick(self, snap: dict[str, Any]) -> None:
        """One progress row of ``snap`` (``Watch.snapshot``)."""
        self.ticks += 1
        lanes = " ".join(
            f"{k} {v['calls']}" + ("" if v["use"] is None else f"@{v['use']:.2f}")
            for k, v in snap["lanes"].items()
        )
        per = " ".join(f"{p} {n}" for p, n in snap["per_platform"].items())
        line = (
            f"virtual +{snap['virtual_h']:.3f} h, requests {snap['requests']} ({per}), "
            f"instances {snap['instances_done']}/{snap['instances']}, onboardings "
            f"{snap['onboardings_ended']}/{snap['onboardings']}, events replayed "
            f"{snap['events_replayed']}, lanes: {lanes or '-'}"
        )
        self._row({"tick": self.ticks, **snap}, line)

    async def follow(self, snap, every_s: float = 60.0) -> None:
        """Tick every ``every_s`` seconds of wall with ``snap()``'s figures, until
        cancelled."""
        while True:
            await asyncio.sleep(every_s)
            self.tick(snap())
