"""``python -m devhost demo``: Tributary's main job, end to end, in one process.

Starts the sandboxes in-process with a scenario (``reference`` by default) on devhost's
virtual clock, points the app at Azurite (tables and a container named for this run),
connects the scenario's client on all five platforms through the real HTTP trigger, runs
the onboardings with a live progress line, and prints per platform and resource the
records stored against the sandbox's ground truth, the requests made and the 429s
served, then virtual and wall time and where the data lies in Azurite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.clock import VirtualClock
from devhost.host import DevHost

HISTORY_MARGIN = timedelta(days=31)
QUIET_FOR_S = 3_600.0
SANDBOX = "http://sandbox"
ENDPOINTS = {
    "amazon": (f"{SANDBOX}/amazon", f"{SANDBOX}/amazon/auth/o2/token"),
    "shopify": (f"{SANDBOX}/shopify", ""),
    "ebay": (f"{SANDBOX}/ebay", f"{SANDBOX}/ebay/identity/v1/oauth2/token"),
    "etsy": (f"{SANDBOX}/etsy", f"{SANDBOX}/etsy/v3/public/oauth/token"),
    "quiltt": (f"{SANDBOX}/quiltt/v1/graphql", f"{SANDBOX}/quiltt/v1/users/sessions"),
}


class _Run:
    """What the ground-truth adapters read: the world, the client and its accounts."""

    def __init__(self, world: Any, client_id: str) -> None:
        self.world, self.client_id = world, client_id
        self.spec = world.scenario.client(client_id)

    def account(self, platform: str) -> str:
        return self.spec.account(platform)


def _configure(prefix: str) -> None:
    from shared.settings import get_settings
    from shared.vault import generate_key

    os.environ["TRIBUTARY_TABLE_PREFIX"] = prefix
    os.environ["TRIBUTARY_RAW_CONTAINER"] = f"raw-{prefix}"
    os.environ.setdefault("TRIBUTARY_CREDENTIALS_KEY", generate_key())
    for platform, (base, auth) in ENDPOINTS.items():
        os.environ[f"TRIBUTARY_{platform.upper()}__BASE_URL"] = base
        os.environ[f"TRIBUTARY_{platform.upper()}__AUTH_URL"] = auth
    get_settings.cache_clear()


def _progress_line(host: DevHost, started_virtual: float, started_wall: float) -> str:
    done = total = parked = 0
    for inst in host.instances.values():
        status = inst.custom_status if isinstance(inst.custom_status, dict) else {}
        if inst.name == "sync_resource":
            done += status.get("blocks_done", 0)
            total += status.get("blocks_total", 0)
            parked += status.get("parked", 0)
    running = sum(1 for i in host.instances.values() if i.name == "load_block" and not i.done)
    c = host.counters
    wall = time.perf_counter() - started_wall
    return (
        f"[virtual +{_hms(host.now() - started_virtual)} | wall {wall:6.1f}s]"
        f" blocks {done}/{total} (parked {parked}, loading {running}) | fetches "
        f"{c.activity_calls} activities, {c.entity_operations} permit ops, {c.episodes} episodes"
    )


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


async def _follow(host: DevHost, started_virtual: float, started_wall: float, quiet: bool):
    tty = sys.stderr.isatty()
    while True:
        if not quiet:
            line = _progress_line(host, started_virtual, started_wall)
            sys.stderr.write(("\r" + line) if tty else line + "\n")
            sys.stderr.flush()
        await asyncio.sleep(0.5 if tty else 5.0)


async def demo(args: Any) -> int:
    import function_app
    from sandbox.faults import Faults
    from sandbox.scenario import PLATFORMS, load
    from sandbox.world import World
    from shared.flows.chains import SETTLE, resources_of
    from shared.flows.clock import use_clock
    from shared.flows.connections import close_connectors, use_transport
    from shared.settings import get_settings
    from shared.storage.clients import close_shared_clients
    from shared.storage.records import RecordStore

    scenario = load(args.scenario)
    spec = scenario.clients[0]
    prefix = f"demo{int(time.time())}"
    _configure(prefix)
    settings = get_settings()
    clock = VirtualClock(scenario.now)
    world = World(scenario, clock=clock, faults=Faults(getattr(args, "faults", "none"), seed=1))
    # start where the seller's world holds still for a while, so the records stored can be
    # compared with the ground truth of the run's planning instant (SETTLE before it)
    settle = SETTLE.total_seconds()
    clock.advance_to(world.quiet_start(scenario.now + settle, QUIET_FOR_S, settle))
    floors = _floors(world, PLATFORMS)  # of the data as it stands when the run starts
    slots = getattr(args, "activities", 8)
    host = DevHost(function_app.app, clock=clock, max_concurrent_activities=slots)
    started_virtual, started_wall = clock.now(), time.perf_counter()
    history_start = datetime.fromtimestamp(spec.history_start, UTC) - HISTORY_MARGIN
    print(
        f"Tributary demo: scenario {scenario.name!r}, client {spec.client_id}, "
        f"{len(PLATFORMS)} platforms, history from {history_start.date()} "
        f"(virtual clock starts {clock.utcnow():%Y-%m-%d %H:%M} UTC)"
    )
    with use_clock(clock.utcnow, clock.sleep), use_transport(lambda _p: world.transport()):
        instances = []
        for platform in PLATFORMS:
            body = {
                "platform": platform,
                "account": spec.account(platform),
                "credentials": world.platforms[platform].credentials(spec.client_id),
                "history_start": history_start.date().isoformat(),
            }
            answer = await host.http("POST", f"/api/clients/{spec.client_id}/connect", body=body)
            if answer.status_code not in (200, 202):
                print(f"connect {platform} failed: {answer.get_body().decode()}")
                return 1
            instances.append(json.loads(answer.get_body())["id"])
        follower = asyncio.ensure_future(
            _follow(host, started_virtual, started_wall, getattr(args, "quiet", False))
        )
        try:
            for instance in instances:
                await host.run_until_done(instance)
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            if not getattr(args, "quiet", False):
                sys.stderr.write("\n" + _progress_line(host, started_virtual, started_wall) + "\n")
            await close_connectors()
        statuses = [host.status(i)["runtimeStatus"] for i in instances]
        planned_at = started_virtual - SETTLE.total_seconds()
        ok = await _summary(
            world, spec.client_id, RecordStore(settings), resources_of, statuses, planned_at
        )
        await close_shared_clients()  # the loop ends with the demo: no unclosed sessions
    virtual = clock.now() - started_virtual
    every, planned = floors
    print(
        f"\nvirtual time {_hms(virtual)} against the rate-limit floor {_hms(every)} (every "
        f"bulk path; {_hms(planned)} on the paths the planner takes): efficiency "
        f"{every / virtual if virtual else 0:.2f}  |  wall time "
        f"{time.perf_counter() - started_wall:.1f} s"
    )
    print(
        f"data in Azurite: tables {prefix}rec<platform><resource><client> (records, one per"
        f" platform and resource of the client), {prefix}blocks / {prefix}watermarks /"
        f" {prefix}alerts / {prefix}connections (ledger), {prefix}progress; raw pages in blob "
        f"container raw-{prefix} ({_endpoint(settings)})"
    )
    return 0 if ok else 1


def _floors(world: Any, platforms: tuple[str, ...]) -> tuple[float, float]:
    """(every bulk path, the planner's paths): the rate-limit floors of the run's data, in
    virtual seconds (``bench.floor``: fewest calls per limit bucket over its rate)."""
    from bench.census import take_census
    from bench.floor import floor
    from shared.ambassador.policies import PlatformPolicy
    from shared.flows.chains import BULK_HISTORY

    census = take_census(world, platforms)
    policies = {p: PlatformPolicy.from_settings(p, {}) for p in platforms}
    every = floor(census, policies, bulk=True).seconds
    return every, floor(census, policies, bulk=True, only=BULK_HISTORY).seconds


def _endpoint(settings: Any) -> str:
    text = settings.storage_connection.get_secret_value()
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    return f"blob {parts.get('BlobEndpoint', '?')}, table {parts.get('TableEndpoint', '?')}"


async def _summary(world, client_id, store, resources_of, statuses, as_of: float) -> bool:
    """Stored records against the ground truth as of the run's planning instant
    ``as_of`` (what the backfill covers; later records are the next daily sync's)."""
    from tests.flows.truth import ADAPTERS

    run = _Run(world, client_id)
    print(
        f"\n{'platform':9} {'resource':18} {'stored':>8} {'truth':>8} {'missing':>8} "
        f"{'extra':>6}  {'requests':>8} {'429s':>6}"
    )
    complete = all(s == "Completed" for s in statuses)
    for platform in world.platforms:
        usage = world.accounting.summary(platform)
        first = True
        for resource in resources_of(platform):
            rows = await store.read(client_id, platform, resource)
            got = {r["natural_key"] for r in rows}
            with world.as_of(as_of):
                want = {r.natural_key for r in ADAPTERS[platform](run, resource)}
            missing, extra = len(want - got), len(got - want)
            complete &= missing == 0 and extra == 0 and len(rows) == len(got)
            calls = f"{usage['calls']:>8} {usage['http_429']:>6}" if first else ""
            print(
                f"{platform:9} {resource:18} {len(rows):>8} {len(want):>8} {missing:>8} "
                f"{extra:>6}  {calls}"
            )
            first = False
    print("\nevery resource of every platform complete" if complete else "\nINCOMPLETE")
    return complete
