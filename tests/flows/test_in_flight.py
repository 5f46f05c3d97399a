"""How many of a resource's blocks ``sync_resource`` runs at once.

The real ``sync_resource`` runs in devhost with the planner and the block orchestrator
replaced by fakes under their real names (a plan of ten blocks; a block that waits on
a durable timer, as a block waits for its permits): on Etsy and eBay, whose lanes every
client shares, at most ``IN_FLIGHT_SHARED`` blocks of a resource wait at once; on
per-seller lanes, ``IN_FLIGHT``. The lane's share is split between a resource's flows
(``shared.ambassador.scheduler``), so more blocks in flight there only add flows that
ask and wait.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest

from activities import plan_resource
from devhost.clock import VirtualClock
from devhost.host import DevHost
from orchestrators import load_block, sync_resource
from shared.flows.models import BlockRun, BlockSpec, ResourceRun

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BLOCKS = 10
BLOCK_S = 60.0


def _app() -> df.DFApp:
    app = df.DFApp()
    app.register_functions(sync_resource.bp)

    @app.activity_trigger(input_name="payload", activity=plan_resource.NAME)
    def fake_plan(payload: dict) -> dict:
        run = ResourceRun.model_validate(payload["run"])
        blocks = [
            BlockSpec(
                client=run.client,
                platform=run.platform,
                account=run.account,
                resource=run.resource,
                block_id=f"b{i:02d}",
                window={"start": NOW - timedelta(days=i + 1), "end": NOW - timedelta(days=i)},
            ).model_dump(mode="json")
            for i in range(BLOCKS)
        ]
        return {"final": True, "blocks": blocks, "total": BLOCKS, "done": 0}

    @app.orchestration_trigger(context_name="context", orchestration=load_block.NAME)
    def fake_block(context: df.DurableOrchestrationContext):
        spec = BlockRun.model_validate(context.get_input()).spec
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=BLOCK_S))
        return {"block_id": spec.block_id, "state": "done", "records": 1, "pages": 1}

    return app


def _most_at_once(host: DevHost) -> int:
    edges = []
    for inst in host.instances.values():
        if inst.name == load_block.NAME:
            edges += [(inst.created, 1), (inst.last_updated, -1)]
    most = running = 0
    for _, step in sorted(edges):  # at one instant, ends (-1) before starts
        running += step
        most = max(most, running)
    return most


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("etsy", sync_resource.IN_FLIGHT_SHARED),
        ("ebay", sync_resource.IN_FLIGHT_SHARED),
        ("amazon", sync_resource.IN_FLIGHT),
        ("shopify", sync_resource.IN_FLIGHT),
    ],
)
async def test_blocks_in_flight_per_resource(platform: str, expected: int) -> None:
    host = DevHost(_app(), clock=VirtualClock(NOW), check_determinism=True)
    run = ResourceRun(
        client="c1",
        platform=platform,
        account="a1",
        resource="orders",
        tier="backfill",
        run_id="r1",
        now=NOW,
    )
    status = await host.run(sync_resource.NAME, {"run": run.model_dump(mode="json")})
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["blocks_done"] == BLOCKS
    assert _most_at_once(host) == expected
    # the next block starts as soon as one ends: the slots never idle while blocks wait
    assert host.now() - NOW.timestamp() == pytest.approx(BLOCK_S * -(-BLOCKS // expected))
