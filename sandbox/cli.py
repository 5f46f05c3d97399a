"""``python -m sandbox``: serve a simulated world over HTTP, print its credentials or truth.

    serve        --scenario NAME --port N [--host 127.0.0.1] [--speed X]
                 [--faults none|default|harsh] [--seed N] [--platforms a,b,…]
                 Runs the world under uvicorn on a loopback address only. The world clock is a
                 WallClock starting at the scenario's ``now`` and running ``speed`` times real
                 time, so every limit window (and every simulated latency) shrinks by that
                 factor. Platforms answer under /<platform>; GET / and /health describe the
                 world.
    credentials  --scenario NAME: JSON, client id -> platform -> credentials.
    truth        --scenario NAME [--client C]: JSON record counts, client -> platform ->
                 resource -> n, as visible at the scenario's ``now``.

``--platforms`` (default: all five) exists for partial worlds; a platform whose package is
missing fails loudly.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Sequence

from sandbox.clock import WallClock
from sandbox.faults import PROFILES, Faults
from sandbox.scenario import PLATFORMS, SCENARIOS, load
from sandbox.world import World


def _platforms(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(set(names) - set(PLATFORMS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown platforms {unknown}; choose from {PLATFORMS}")
    return names


def _loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"{host!r} is not a loopback address; the sandbox only "
        "listens on loopback (127.0.0.1, ::1, localhost)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--scenario", choices=sorted(SCENARIOS), default="tiny")
        sub.add_argument(
            "--platforms",
            type=_platforms,
            default=PLATFORMS,
            help="comma-separated platforms to build (default: all)",
        )

    serve = commands.add_parser("serve", help="run the world as an HTTP server on loopback")
    common(serve)
    serve.add_argument("--host", type=_loopback, default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700)
    serve.add_argument("--speed", type=float, default=1.0)
    serve.add_argument("--faults", choices=sorted(PROFILES), default="none")
    serve.add_argument(
        "--seed", type=int, default=None, help="fault seed (default: the scenario's seed)"
    )

    common(commands.add_parser("credentials", help="print every client's credentials"))
    truth = commands.add_parser("truth", help="print ground-truth record counts")
    common(truth)
    truth.add_argument("--client", default=None)
    return parser


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    scenario = load(args.scenario)
    if args.speed <= 0:
        raise SystemExit("--speed must be positive")
    seed = scenario.seed if args.seed is None else args.seed
    world = World(
        scenario,
        clock=WallClock(args.speed, start=scenario.now),
        faults=Faults(args.faults, seed=seed),
        platforms=args.platforms,
    )
    print(
        f"sandbox: scenario {scenario.name} on http://{args.host}:{args.port} "
        f"(platforms {', '.join(world.platforms)}; speed {args.speed}x; faults {args.faults})",
        flush=True,
    )
    config = uvicorn.Config(
        world.asgi_app(), host=args.host, port=args.port, log_level="warning", lifespan="off"
    )
    uvicorn.Server(config).run()
    return 0


def credentials(args: argparse.Namespace) -> int:
    world = World(load(args.scenario), platforms=args.platforms)
    json.dump(world.credentials(), sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


def truth(args: argparse.Namespace) -> int:
    world = World(load(args.scenario), platforms=args.platforms)
    clients = [args.client] if args.client else [c.client_id for c in world.scenario.clients]
    counts = {
        client: {
            name: {r: len(sandbox.ground_truth(client, r)) for r in sandbox.resources}
            for name, sandbox in world.platforms.items()
        }
        for client in clients
    }
    json.dump(counts, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"serve": serve, "credentials": credentials, "truth": truth}[args.command]
    return command(args)
