"""One bench run: onboard every client of a scenario on every platform, then measure.

``run_bench(options)`` builds a ``BenchStack``, takes the ground truth and the census
(for the floor) at the start (in a forked copy of the process, ``bench.forked``, while
the run goes: at 50 clients it is ~100 s of CPU), connects every (client, platform)
through the HTTP trigger, drives devhost on the virtual clock until every onboarding
orchestration has ended, reads the stored records back from Azurite and returns a
``Measured``: what the report is made of. Wall time, CPU time (``resource.getrusage``:
user + system of this process, not the fork's) and peak RSS cover the run itself, from
the first connect to the last orchestration's end (not the read-back).

A run stopped before every onboarding ended (``max_wall_s``, ``max_virtual_s``,
devhost left with nothing to run, or ``signal``: the process got SIGTERM or SIGINT — a
second one ends it at once) is *cut*: ``Measured.cut`` names why, and the makespan
of a platform with an unfinished onboarding is the virtual time at the stop — a lower
bound of the real one (the records not stored count as missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import resource
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import final_state
from bench.census import Census, take_census
from bench.forked import Forked
from bench.progress import Watch
from bench.recorder import Exchange, throttled
from bench.stack import BenchStack
from bench.strategies import get as get_strategy
from bench.truth import truth_keys
from shared.ambassador.policies import PlatformPolicy
from shared.flows.chains import resources_of
from shared.flows.generations import latest
from shared.flows.store import FlowStore
from shared.normalize import MEMO
from shared.storage.blocks import BlockState
from shared.storage.ledger import Ledger
from shared.storage.records import RecordStore

START_NICE = 10  # the forked truth and census yield the cores to the run itself


@dataclass(frozen=True)
class Options:
    scenario: str = "tiny"
    faults: str = "none"
    strategy: str = "tributary"
    platforms: tuple[str, ...] | None = None
    progress: bool = True
    max_virtual_s: float | None = None  # stop driving after this much virtual time
    max_wall_s: float | None = None  # stop driving after this much wall time (profiling)
    sandbox_limits: dict | None = None  # platform -> sandbox limit overrides (scaled quotas)
    app_limits: dict | None = None  # platform -> Settings.<platform>.limits overrides
    clients: int | None = None  # only the scenario's first N clients
    progress_path: Path | None = None  # JSON lines of stages and ticks (bench.progress)
    progress_every_s: float = 60.0  # wall seconds between ticks


@dataclass
class Tally:
    """Counters of one platform (or of the whole run)."""

    records_expected: int = 0
    records_stored: int = 0
    missing: int = 0
    duplicates: int = 0
    unexpected: int = 0  # stored but not in the ground truth taken at the start
    blocks_total: int = 0
    blocks_parked: int = 0
    blocks_unfinished: int = 0
    alerts: int = 0
    retries: int = 0
    makespan_s: float = 0.0
    parked: list[str] = field(default_factory=list)  # "resource block: last error"
    missing_keys: dict[str, list[str]] = field(default_factory=dict)  # resource -> first few

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            if name not in ("makespan_s", "parked", "missing_keys"):
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.makespan_s = max(self.makespan_s, other.makespan_s)


@dataclass
class Measured:
    options: Options
    started_at: float
    census: Census
    platforms: dict[str, Tally]
    calls: dict[str, int]
    http_429: dict[str, int]
    faults_injected: dict[str, int]
    exchanges: list[Exchange]
    statuses: Counter
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    history_events_replayed: int
    devhost: dict[str, int]
    errors: list[str] = field(default_factory=list)
    ended: dict[tuple[str, str], float] = field(default_factory=dict)  # (client, platform)
    stopped_at: float = 0.0  # virtual time when driving stopped
    cut: str | None = None  # why the run stopped early: max_wall_s, max_virtual_s, idle, signal
    normalize_memo: dict[str, Any] = field(default_factory=dict)  # hits, misses, dict costs
    final_state: dict[str, Any] = field(default_factory=dict)  # ``final_state.capture``


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


async def _connect_all(stack: BenchStack, ids: dict[tuple[str, str], str]) -> None:
    """Connect every (client, platform) through the HTTP trigger, noting each
    onboarding's instance id in ``ids`` as it is sent."""
    for spec in stack.scenario.clients:
        for platform in stack.platforms:
            if platform not in spec.platforms:
                continue
            body = stack.connect_body(spec.client_id, platform)
            response = await stack.host.http(
                "POST", f"/api/clients/{spec.client_id}/connect", body=body
            )
            if response.status_code not in (200, 202):
                raise RuntimeError(
                    f"connect {spec.client_id}/{platform}: {response.status_code} "
                    f"{response.get_body()[:300]!r}"
                )
            ids[(spec.client_id, platform)] = json.loads(response.get_body())["id"]


async def _drive(stack: BenchStack, ids: dict, options: Options, ended: dict) -> str | None:
    """Run until every onboarding has ended, noting (client, platform) -> virtual end
    time in ``ended``. None when all ended; ``max_virtual_s`` when the next thing devhost
    would do lies past the virtual deadline; ``idle`` when nothing is left to do."""
    pending = dict(ids)
    deadline = None if options.max_virtual_s is None else stack.started_at + options.max_virtual_s
    while pending:
        remaining = None if deadline is None else max(0.0, deadline - stack.clock.now())
        key, instance = next(iter(pending.items()))
        await stack.host.run_until_done(instance, max_virtual_s=remaining)
        for other, other_id in list(pending.items()):
            inst = stack.host.instances.get(other_id)
            if inst is not None and inst.done:
                ended[other] = inst.last_updated
                del pending[other]
        if key in pending:  # deadline reached or devhost idle with the instance unfinished
            due = stack.host._next_due()  # devhost's next timer or wake-up, if any
            return (
                "idle" if due is None or deadline is None or due <= deadline else ("max_virtual_s")
            )
    return None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def _stop_signals(stop: asyncio.Event) -> Iterator[None]:
    """While inside: the first SIGTERM or SIGINT sets ``stop`` (the run is cut, then read
    back and reported as usual); a second one ends the process at once (SystemExit: the
    caller's Azurite and SMTP server are still closed). The previous handlers after."""
    loop = asyncio.get_running_loop()

    def on_signal(number: int) -> None:
        if stop.is_set():
            raise SystemExit(128 + number)
        stop.set()

    saved = {}
    for number in STOP_SIGNALS:
        try:
            previous = signal.getsignal(number)
            loop.add_signal_handler(number, on_signal, number)
            saved[number] = previous
        except (NotImplementedError, RuntimeError, ValueError):  # no signals in this thread
            pass
    try:
        yield
    finally:
        for number, previous in saved.items():
            loop.remove_signal_handler(number)
            signal.signal(number, previous)


async def _drive_until_stopped(
    drive: Coroutine[Any, Any, str | None], max_wall_s: float | None, stop: asyncio.Event
) -> str | None:
    """``drive``'s answer; ``max_wall_s`` when that much wall time passed first, ``signal``
    when ``stop`` was set first (the drive is then cancelled)."""
    task, stopped = asyncio.ensure_future(drive), asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopped}, timeout=max_wall_s, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return "signal" if stop.is_set() else "max_wall_s"
    finally:
        stopped.cancel()


def _latest(blocks: list) -> list:
    """Each block's newest generation only: a superseded failed re-load is history."""
    resources = {b.resource for b in blocks}
    return [b for r in resources for b in latest(x for x in blocks if x.resource == r).values()]


async def _read_back(
    stack: BenchStack, truth: dict, ended: dict, stopped_at: float
) -> dict[str, Tally]:
    store, ledger, flows = (
        RecordStore(stack.settings),
        Ledger(stack.settings),
        FlowStore(stack.settings),
    )
    tallies: dict[str, Tally] = defaultdict(Tally)
    for spec in stack.scenario.clients:
        client = spec.client_id
        blocks = await ledger.list_blocks(client)
        alerts = await ledger.list_alerts(client)
        totals = await flows.totals(client)
        for platform in stack.platforms:
            if platform not in spec.platforms:
                continue
            t = tallies[platform]
            end = ended.get((client, platform), stopped_at)  # unfinished: a lower bound
            t.makespan_s = max(t.makespan_s, end - stack.started_at)
            mine = _latest([b for b in blocks if b.platform == platform])
            t.blocks_total += len(mine)
            parked = [b for b in mine if b.state == BlockState.PARKED]
            t.blocks_parked += len(parked)
            t.parked += [f"{b.resource} {b.block_id}: {(b.last_error or '')[:200]}" for b in parked]
            t.blocks_unfinished += sum(
                1 for b in mine if b.state not in (BlockState.DONE, BlockState.PARKED)
            )
            t.alerts += sum(1 for a in alerts if a.platform == platform)
            t.retries += sum(v.get("retries", 0) for (p, _), v in totals.items() if p == platform)
            for res in resources_of(platform):
                want = truth[(client, platform, res)]
                keys = Counter()
                async for key in store.natural_keys(client, platform, res):
                    keys[key] += 1
                t.records_expected += len(want)
                t.records_stored += len(keys)
                lost = want - keys.keys()
                t.missing += len(lost)
                if lost:  # which records: the sidecar names a few per resource
                    t.missing_keys[f"{client} {res}"] = sorted(lost)[:5]
                t.unexpected += len(keys.keys() - want)
                t.duplicates += sum(n - 1 for n in keys.values() if n > 1)
    return dict(tallies)


async def run_bench(options: Options, *, connection_string: str, smtp=None) -> Measured:
    strategy = get_strategy(options.strategy)
    watch = Watch(options.progress_path, echo=options.progress)
    stack = BenchStack(
        options.scenario,
        strategy,
        connection_string=connection_string,
        faults=options.faults,
        smtp=smtp,
        platforms=options.platforms,
        sandbox_limits=options.sandbox_limits,
        app_limits=options.app_limits,
        clients=options.clients,
        mark=watch.stage,
    )
    # the sandboxes' world is built and lives until the end: the cyclic collector's full
    # passes walked all of it again and again (5.4 of 29.7 s CPU of an Amazon-only
    # reference run); frozen, it is left out of them (and a fork shares its pages)
    # And what survives a full pass is frozen too (H2: full-pass CPU 11.4 -> 2.5 s, bench
    # CPU -11.6 % at the same point of a reference run): the run's long-lived state (the
    # sandboxes' data, devhost's histories) only grows. The price: a cycle made before a
    # freeze and dropped after it is not collected (the run's ``peak_rss_mb`` shows it;
    # +14 MB on the reference).
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_refreeze)
    # the truth and census of the start, taken in a forked copy while the run goes
    start = Forked(lambda: _truth_and_census(stack), nice=START_NICE)
    watch.stage("forked truth and census")
    try:
        return await _run(stack, options, start, watch)
    finally:
        start.cancel()
        gc.callbacks.remove(_refreeze)
        gc.unfreeze()


def _refreeze(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks`` hook: freeze what a full collection left alive."""
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def _truth_and_census(stack: BenchStack) -> tuple[dict, Census]:
    """Natural keys of every (client, platform, resource)'s records and the census, as
    the world stands (one read of each truth)."""
    with stack.world.truth_snapshot():
        truth = {
            (spec.client_id, p, r): truth_keys(stack.world, spec.client_id, p, r)
            for spec in stack.scenario.clients
            for p in stack.platforms
            if p in spec.platforms
            for r in resources_of(p)
        }
        return truth, take_census(stack.world, stack.platforms)


def _policies(stack: BenchStack, options: Options) -> dict[str, PlatformPolicy]:
    overrides = options.app_limits or {}
    return {p: PlatformPolicy.from_settings(p, overrides.get(p, {})) for p in stack.platforms}


async def _run(stack: BenchStack, options: Options, start: Forked, watch: Watch) -> Measured:
    stop = asyncio.Event()
    with _stop_signals(stop):
        return await _run_stoppable(stack, options, start, watch, stop)


async def _run_stoppable(
    stack: BenchStack, options: Options, start: Forked, watch: Watch, stop: asyncio.Event
) -> Measured:
    async with stack.running():
        wall0, cpu0 = time.perf_counter(), _cpu_s()
        memo0 = (MEMO.hits, MEMO.misses)
        ids: dict[tuple[str, str], str] = {}
        ended: dict = {}
        policies = _policies(stack, options)
        follow = asyncio.ensure_future(
            watch.follow(
                lambda: watch.snapshot(stack, policies, ended=ended, connected=len(ids)),
                options.progress_every_s,
            )
        )
        try:
            await _connect_all(stack, ids)
            watch.stage("connected", onboardings=len(ids), requests=len(stack.recorder.exchanges))
            # partial run (wall limit or a stop signal): the rest counts as missing
            drive = _drive(stack, ids, options, ended)
            cut = await _drive_until_stopped(drive, options.max_wall_s, stop)
            watch.tick(watch.snapshot(stack, policies, ended=ended, connected=len(ids)))
            watch.stage("driven", cut=cut)
        finally:
            follow.cancel()
        wall_s, cpu_s = time.perf_counter() - wall0, _cpu_s() - cpu0
        memo = {
            "hits": MEMO.hits - memo0[0],
            "misses": MEMO.misses - memo0[1],
            "dict_costs": MEMO.costs(),
        }
        stopped_at = stack.clock.now()
        if cut == "max_virtual_s":  # nothing happens before the deadline: still unfinished
            stopped_at = max(stopped_at, stack.started_at + (options.max_virtual_s or 0.0))
        final = final_state.capture(stack.host, stack.started_at, stopped_at)
        truth, census = await start.result()
        watch.stage("truth and census read")
        tallies = await _read_back(stack, truth, ended, stopped_at)
        watch.stage("records read back")
        errors = [f"{name}: {message[:300]}" for name, message in stack.host.activity_errors]
        unfinished = [f"{c}/{p} did not finish" for (c, p) in ids if (c, p) not in ended]
    accounting = stack.world.accounting
    per = {p: accounting.summary(p) for p in stack.platforms}
    return Measured(
        options=options,
        started_at=stack.started_at,
        census=census,
        platforms=tallies,
        calls={p: s["calls"] for p, s in per.items()},
        http_429={p: s["http_429"] for p, s in per.items()},
        faults_injected={p: s["faults_injected"] for p, s in per.items()},
        exchanges=list(stack.recorder.exchanges),
        statuses=Counter((e.platform, e.status) for e in stack.recorder.exchanges),
        wall_s=wall_s,
        cpu_s=cpu_s,
        peak_rss_mb=_peak_rss_mb(),
        history_events_replayed=stack.host.counters.history_events_replayed,
        devhost=stack.host.counters.as_dict(),
        errors=unfinished + errors[:20],
        ended=dict(ended),
        stopped_at=stopped_at,
        cut=cut,
        normalize_memo=memo,
        final_state=final,
    )


def lanes_used(m: Measured) -> dict[str, dict[str, dict[str, float]]]:
    """platform -> bucket -> calls, units, 429s and the virtual seconds (since the start)
    of its first and last request: where a platform's tail is (``status_429``: HTTP 429
    only; Shopify throttles with a 200 and THROTTLED in the body)."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for e in m.exchanges:
        lane = out[e.platform].setdefault(
            e.bucket, {"calls": 0, "units": 0, "status_429": 0, "first_s": e.at - m.started_at}
        )
        lane["calls"] += 1
        lane["units"] += e.cost
        lane["status_429"] += e.status == 429
        lane["last_s"] = round(e.at - m.started_at, 1)
        lane["first_s"] = round(min(lane["first_s"], e.at - m.started_at), 1)
    return dict(out)


def measured_summary(m: Measured) -> dict[str, Any]:
    """Plain facts of a run that the report does not carry (for the sidecar file)."""
    return {
        "lanes_used": lanes_used(m),
        "devhost": m.devhost,
        "normalize_memo": m.normalize_memo,
        "unexpected_records": {p: t.unexpected for p, t in m.platforms.items()},
        "missing_records": {p: t.missing_keys for p, t in m.platforms.items() if t.missing_keys},
        "blocks_total": {p: t.blocks_total for p, t in m.platforms.items()},
        "blocks_unfinished": {p: t.blocks_unfinished for p, t in m.platforms.items()},
        "blocks_parked": {p: t.parked for p, t in m.platforms.items() if t.parked},
        "cut": None
        if m.cut is None
        else {
            "why": m.cut,
            "at_virtual_s": round(m.stopped_at - m.started_at, 1),
            "unfinished_onboardings": sum(
                1 for key in m.census if key not in m.ended and key[1] in m.platforms
            ),
            "makespan_is_lower_bound": True,
        },
        "errors": m.errors,
        "throttled": throttled(m.exchanges, m.started_at),
    }
