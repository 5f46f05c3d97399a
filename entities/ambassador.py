"""The ambassador entity: holds one integration's permit-scheduler state.

Key: see ``shared.ambassador.protocol`` (``amazon|<seller>``, ``shopify|<shop>``,
``quiltt|<profile>``, ``ebay``, ``etsy``); the platform part picks the limit policy,
built from ``Settings.<platform>.limits``. Operations ``acquire``, ``observe``, ``observe_many``,
``release``, ``complete`` and ``snapshot`` take and return the protocol models as plain
JSON; the decisions are ``shared.ambassador.scheduler.Scheduler``'s. An invalid input
or unknown operation fails that operation and leaves the state as it was.

Callers (orchestrators) pass their ``context.current_utc_datetime`` as ``now`` and a
deterministic ``request_id`` (``context.new_uuid()``)::

    grant = AcquireAnswer.model_validate((yield context.call_entity(
        df.EntityId(ambassador.NAME, entity_key("shopify", shop)), "acquire",
        AcquireRequest(caller=context.instance_id, request_id=str(context.new_uuid()),
                       route="rest", client=client, tier="daily", resource="orders",
                       want=20, now=context.current_utc_datetime).model_dump(mode="json"))))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import azure.durable_functions as df
from pydantic import BaseModel

from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import (
    AcquireRequest,
    CompleteRequest,
    ObserveAnswer,
    ObserveMany,
    ObserveRequest,
    ReleaseRequest,
    SnapshotRequest,
    split_entity_key,
)
from shared.ambassador.scheduler import Scheduler
from shared.settings import get_settings

bp = df.Blueprint()
NAME = "ambassador"

Operation = tuple[type[BaseModel], Callable[[Scheduler, Any], BaseModel]]
OPERATIONS: dict[str, Operation] = {
    "acquire": (AcquireRequest, Scheduler.acquire),
    "observe": (ObserveRequest, Scheduler.observe),
    "observe_many": (ObserveMany, lambda scheduler, req: _observe_many(scheduler, req)),
    "release": (ReleaseRequest, Scheduler.release),
    "complete": (CompleteRequest, Scheduler.complete),
    "snapshot": (SnapshotRequest, lambda scheduler, req: scheduler.snapshot(req.now)),
}


@bp.entity_trigger(context_name="context", entity_name=NAME)
def ambassador(context: df.DurableEntityContext) -> None:
    operation = OPERATIONS.get(context.operation_name or "")
    if operation is None:
        raise ValueError(
            f"unknown ambassador operation {context.operation_name!r}; "
            f"expected one of {', '.join(OPERATIONS)}"
        )
    model, run = operation
    request = model.model_validate(context.get_input() or {})
    platform, _ = split_entity_key(context.entity_key)
    scheduler = Scheduler(policy_for(platform), context.get_state(lambda: None))
    result = run(scheduler, request)
    context.set_state(scheduler.to_state())
    context.set_result(result.model_dump(mode="json"))


def _observe_many(scheduler: Scheduler, req: ObserveMany) -> ObserveAnswer:
    answer = ObserveAnswer(applied=False)
    for observation in req.observations:
        answer = scheduler.observe(observation)
    return answer


def policy_for(platform: str) -> PlatformPolicy:
    """The platform's limit policy from the settings (built once per distinct setting)."""
    limits = get_settings().platform(platform).limits
    return _policy(platform, json.dumps(limits, sort_keys=True, default=str))


@lru_cache(maxsize=32)
def _policy(platform: str, limits_json: str) -> PlatformPolicy:
    return PlatformPolicy.from_settings(platform, json.loads(limits_json))
