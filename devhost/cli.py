"""``python -m devhost``: run the Functions app without the Functions host.

    python -m devhost run --orchestrator NAME [--input JSON] [--instance-id ID]
    python -m devhost run --http "GET /api/clients/c1/status" [--body JSON]
    python -m devhost check              # the worker's indexing checks on function_app
    python -m devhost demo               # the main job (see README)

Storage is Azurite: an already running one on the default ports, else one started here
on free ports (in memory) for the length of the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
from typing import Any

from devhost.azurite import Azurite, ensure_azurite
from devhost.clock import VirtualClock, WallClock
from devhost.host import DevHost, DevHostError


def load_app(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr or "app")


class Progress:
    """A one-line live view of the host: virtual time, instances, work done."""

    def __init__(self, host: DevHost, stream=sys.stderr, interval_s: float = 0.25) -> None:
        self.host = host
        self.stream = stream
        self.interval_s = interval_s
        self.started_virtual = host.now()
        self.started_wall = time.perf_counter()
        self.tty = stream.isatty()
        self._last = ""

    def line(self) -> str:
        host = self.host
        statuses: dict[str, int] = {}
        for inst in host.instances.values():
            statuses[inst.status] = statuses.get(inst.status, 0) + 1
        c = host.counters
        elapsed = host.now() - self.started_virtual
        states = " ".join(f"{k.lower()} {v}" for k, v in sorted(statuses.items()))
        return (
            f"[virtual +{_hms(elapsed)} | wall {time.perf_counter() - self.started_wall:5.1f}s] "
            f"instances: {states or 'none'} | episodes {c.episodes} | "
            f"activities {c.activity_calls} | entity ops {c.entity_operations}"
        )

    def show(self, final: bool = False) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self._last)) + ("\n" if final else ""))
        elif final or text != self._last:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._last = text

    async def follow(self) -> None:
        while True:
            self.show()
            await asyncio.sleep(self.interval_s if self.tty else max(self.interval_s, 2.0))


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


async def run_with_progress(host: DevHost, instance_id: str, quiet: bool = False) -> dict:
    progress = Progress(host)
    follower = None if quiet else asyncio.ensure_future(progress.follow())
    try:
        return await host.run_until_done(instance_id)
    finally:
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            progress.show(final=True)


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--{what} is not valid JSON: {exc}") from None


def _storage() -> Azurite:
    azurite = ensure_azurite()
    os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112 (the host name)
    return azurite


async def _run(args: argparse.Namespace) -> int:
    clock = VirtualClock(time.time()) if args.clock == "virtual" else WallClock()
    host = DevHost(load_app(args.app), clock=clock, seed=args.seed)
    if args.http:
        method, _, path = args.http.partition(" ")
        response = await host.http(method, path.strip(), body=_parse_json(args.body, "body"))
        body = response.get_body().decode() or "null"
        print(f"HTTP {response.status_code} {body}")
        if response.status_code != 202:
            return 0 if response.status_code < 400 else 1
        instance_id = json.loads(body)["id"]
    else:
        try:
            instance_id = host.start(
                args.orchestrator, _parse_json(args.input, "input"), args.instance_id
            )
        except DevHostError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    status = await run_with_progress(host, instance_id, quiet=args.quiet)
    print(json.dumps(status, indent=2, default=str))
    print(json.dumps({"counters": host.counters.as_dict()}), file=sys.stderr)
    return 0 if status["runtimeStatus"] == "Completed" else 1


def _check(args: argparse.Namespace) -> int:
    from devhost.indexing import check_app, index_app

    app = load_app(args.app)
    problems = check_app(app)
    for problem in problems:
        print(f"problem: {problem}")
    index = index_app(app)
    print(
        f"{len(index.names())} functions: {len(index.http)} http, {len(index.timers)} timer, "
        f"{len(index.orchestrators)} orchestrators, {len(index.activities)} activities, "
        f"{len(index.entities)} entities"
    )
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__.split("\n")[0])
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the DFApp")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start an orchestration or call an HTTP route and follow it")
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--orchestrator", help="orchestrator function name")
    target.add_argument("--http", help='"METHOD /api/route" of an HTTP-triggered function')
    run.add_argument("--input", help="orchestration input (JSON)")
    run.add_argument("--body", help="HTTP request body (JSON)")
    run.add_argument("--instance-id")
    run.add_argument("--clock", choices=("virtual", "wall"), default="virtual")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quiet", action="store_true", help="no live progress line")

    sub.add_parser("check", help="index function_app and report what the worker would reject")
    demo = sub.add_parser("demo", help="the main job: see README")
    demo.add_argument("--scenario", default="reference")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument(
        "--faults", default="none", help="sandbox fault profile: none, default, harsh"
    )
    demo.add_argument(
        "--activities", type=int, default=8, help="activities in flight at once (default 8)"
    )

    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args)
    with _storage():
        if args.command == "run":
            return asyncio.run(_run(args))
        from devhost.demo import demo as run_demo

        return asyncio.run(run_demo(args))
