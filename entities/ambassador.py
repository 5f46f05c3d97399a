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
from collections import OrderedDict
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
    key, policy = context.entity_key, policy_for(platform)
    state = context.get_state(lambda: None)
    scheduler = _KEPT.take(key, policy, state) or Scheduler(policy, state)
    result = run(scheduler, request)  # raises: the scheduler is not kept (maybe half-done)
    state = scheduler.to_state()
    context.set_state(state)
    _KEPT.keep(key, policy, state, scheduler)
    context.set_result(result.model_dump(mode="json"))


class _Kept:
    """Schedulers kept between operations, so that an operation does not rebuild every
    flow of a busy entity (an application-wide lane holds the flows of all clients).

    A kept scheduler is used only for the very state it produced: the object the entity
    stored (the next operation of the same batch) or an equal one (the host decoded the
    stored text again for the next batch). Anything else — a state another worker wrote,
    a changed policy, an operation that failed halfway — rebuilds from the state, so
    answers are the same as rebuilding every time (``Scheduler`` reads back exactly
    what ``to_state`` wrote). At most ``size`` entities are kept (the least recently
    used go): enough for every per-account entity of a 50-client run besides the
    application-wide ones."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.kept: OrderedDict[str, tuple[PlatformPolicy, Any, Scheduler]] = OrderedDict()

    def take(self, key: str, policy: PlatformPolicy, state: Any) -> Scheduler | None:
        entry = self.kept.pop(key, None)
        if entry is None or state is None or (entry[0] is not policy and entry[0] != policy):
            return None  # (the bench's strategies build an equal policy per operation)
        if entry[1] is not state and entry[1] != state:
            return None
        return entry[2]

    def keep(self, key: str, policy: PlatformPolicy, state: Any, scheduler: Scheduler) -> None:
        self.kept[key] = (policy, state, scheduler)
        while len(self.kept) > self.size:
            self.kept.popitem(last=False)


_KEPT = _Kept()


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
