"""A test-only Functions app: block orchestrations that live on ambassador permits.

``permit_fanout`` starts one ``permit_block`` sub-orchestration per block. A block loops:
``acquire`` a batch from the real ambassador entity (``entities.ambassador``) -> durable
timer until each permit's time -> ``permit_call`` activities making the real HTTP
requests to the sandbox (the permits of one instant in parallel) -> ``observe`` (signal)
with what each response's headers said; denied, it sleeps on a durable timer until
``retry_at``. When its calls are done it signals ``complete``. The activity reaches the
sandbox through ``WIRING`` (an httpx client over ``World.transport()``, set by the test):
the sandbox runs on devhost's virtual clock, so requests arrive at the virtual time the
timers fired.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from entities import ambassador
from shared.ambassador.headers import feedback
from shared.ambassador.protocol import (
    AcquireAnswer,
    AcquireRequest,
    CompleteRequest,
    ObserveRequest,
)

WIRING: dict[str, Any] = {}  # "http": httpx.AsyncClient, "clock": the shared clock
FANOUT, BLOCK, CALL = "permit_fanout", "permit_block", "permit_call"

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def permit_fanout(context: df.DurableOrchestrationContext):
    blocks = context.get_input()["blocks"]
    tasks = [
        context.call_sub_orchestrator(BLOCK, block, f"{context.instance_id}-b{i:02d}")
        for i, block in enumerate(blocks)
    ]
    return (yield context.task_all(tasks))


@bp.orchestration_trigger(context_name="context")
def permit_block(context: df.DurableOrchestrationContext):
    """Input: ``entity`` key, ``platform``, ``route``, ``client``, ``tier``, ``resource``,
    ``batch``, ``cost`` (units per permit, default 1) and ``calls`` (one request each:
    ``{"path", "headers"}`` and for a POST ``"json"``)."""
    block = context.get_input()
    entity = df.EntityId(ambassador.NAME, block["entity"])
    pending = list(block["calls"])
    statuses: Counter = Counter()
    asks = waits = missed = 0
    while pending:
        now = context.current_utc_datetime
        asks += 1
        answer = AcquireAnswer.model_validate(
            (yield context.call_entity(entity, "acquire", _acquire(context, block, pending)))
        )
        if answer.refused:
            raise RuntimeError(f"ambassador refused: {answer.reason}")
        if not answer.times:
            waits += 1
            yield context.create_timer(max(answer.retry_at, now + timedelta(milliseconds=1)))
            continue
        lease = timedelta(seconds=answer.lease_s)
        for at, count in _groups(answer.times):
            if context.current_utc_datetime < at:
                yield context.create_timer(at)
            if context.current_utc_datetime >= at + lease:
                missed += count  # never use a permit after its lease: ask again instead
                continue
            calls, pending = pending[:count], pending[count:]
            platform = block["platform"]
            results = yield context.task_all(
                [context.call_activity(CALL, {**call, "platform": platform}) for call in calls]
            )
            for result in results:  # permits of one instant are used together
                statuses[str(result["status"])] += 1
                context.signal_entity(entity, "observe", _observe(context, block, result))
            if not pending:
                break
    done = CompleteRequest(caller=context.instance_id, now=context.current_utc_datetime)
    context.signal_entity(entity, "complete", done.model_dump(mode="json"))
    return {"statuses": dict(statuses), "asks": asks, "waits": waits, "missed": missed}


def _groups(times: list[datetime]) -> list[tuple[datetime, int]]:
    """Permit times (non-decreasing) as (time, how many permits share it)."""
    out: list[tuple[datetime, int]] = []
    for t in times:
        if out and out[-1][0] == t:
            out[-1] = (t, out[-1][1] + 1)
        else:
            out.append((t, 1))
    return out


def _acquire(context: df.DurableOrchestrationContext, block: dict, pending: list) -> dict:
    return AcquireRequest(
        caller=context.instance_id,
        request_id=str(context.new_uuid()),
        route=block["route"],
        client=block["client"],
        tier=block["tier"],
        resource=block["resource"],
        want=min(block["batch"], len(pending)),
        cost=block.get("cost", 1),
        backlog=len(pending),
        now=context.current_utc_datetime,
    ).model_dump(mode="json")


def _observe(context: df.DurableOrchestrationContext, block: dict, result: dict) -> dict:
    return ObserveRequest(
        caller=context.instance_id,
        request_id=str(context.new_uuid()),
        route=block["route"],
        now=context.current_utc_datetime,
        request_at=result["sent_at"],
        charged=block.get("cost", 1),
        **result["feedback"],
    ).model_dump(mode="json")


@bp.activity_trigger(input_name="payload")
async def permit_call(payload: dict) -> dict:
    """One request to the sandbox (POST when it has a ``json`` body); returns the status,
    when it was sent and the observation fields its response gives."""
    clock = WIRING["clock"]
    sent, sent_at = clock.now(), datetime.fromtimestamp(clock.now(), tz=UTC).isoformat()
    method = "POST" if "json" in payload else "GET"
    response = await WIRING["http"].request(
        method, payload["path"], headers=payload["headers"], json=payload.get("json")
    )
    body = response.json() if "json" in payload else None
    fields = feedback(payload["platform"], response.status_code, dict(response.headers), body)
    WIRING["log"].append((sent, response.status_code, fields.get("actual")))
    fields["readings"] = [r.model_dump(mode="json") for r in fields["readings"]]
    return {"status": response.status_code, "sent_at": sent_at, "feedback": fields}


def build_app() -> df.DFApp:
    """A fresh app (devhost indexes an app once) with the ambassador and this blueprint."""
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(ambassador.bp)
    app.register_functions(bp)
    return app
