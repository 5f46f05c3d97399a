"""devhost throughput: 1,000 activities over sub-orchestrations vs in one orchestration.

    .venv/bin/python -m scripts.bench_devhost [--activities 1000] [--children 20]

Activities finish at seeded random virtual times (0.1-5 s), so completions arrive in
many episodes as they would on the real host. Figures are ratios within one run; the
machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from devhost.clock import VirtualClock
from devhost.host import DevHost
from tests.devhost import sample_app


async def measure(name: str, orchestrator: str, payload: object) -> dict[str, float]:
    host = DevHost(
        sample_app.app,
        clock=VirtualClock(1_790_000_000),
        seed=1,
        activity_latency=lambda _name, rng: rng.uniform(0.1, 5.0),
    )
    started = time.perf_counter()
    status = await host.run(orchestrator, payload)
    wall = time.perf_counter() - started
    assert status["runtimeStatus"] == "Completed", status
    c = host.counters
    return {
        "case": name,
        "wall_s": round(wall, 3),
        "episodes": c.episodes,
        "history_events_replayed": c.history_events_replayed,
        "activity_calls": c.activity_calls,
        "episodes_per_s": round(c.episodes / wall, 1),
        "events_replayed_per_s": round(c.history_events_replayed / wall, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--children", type=int, default=20)
    args = parser.parse_args()
    per_child = args.activities // args.children
    spread = await measure(
        f"{args.activities} activities over {args.children} sub-orchestrations",
        "parent",
        {"children": args.children, "per_child": per_child},
    )
    single = await measure(
        f"{args.activities} activities in one orchestration", "fan_out", args.activities
    )
    for row in (spread, single):
        print(json.dumps(row))
    print(f"wall ratio single/spread: {single['wall_s'] / spread['wall_s']:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
