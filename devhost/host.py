"""devhost: the Durable extension's role, played in-process.

Theory of operation
-------------------
The real extension keeps each orchestration's history and, whenever new messages
arrive, calls the Python orchestrator once with the full history (an *episode*); the SDK
replays the generator and answers with every action scheduled so far. devhost does the
same, in one process:

* An **instance** holds its history (JSON events, exactly as the extension sends them),
  the events that arrived since its last episode, and which sequence ids it has already
  scheduled. An episode sends ``history (IsPlayed) + OrchestratorStarted(now) + new
  events`` through the SDK's own ``DurableOrchestrationContext.from_json`` and
  ``Orchestrator.handle``; the open tasks the SDK registered tell which sequence ids are
  new (the SDK assigns ids exactly as DTFx does, retries' hidden timer/reschedule tasks
  included), and the reply's action list tells what each one is.
* New work is queued: activities (run through the worker's ``ActivityTriggerConverter``,
  async ones awaited concurrently), sub-orchestrations (child instances), timers,
  entity calls and signals (run through ``Entity.handle`` with the extension's batch
  format, one batch per entity at a time), ``continue_as_new`` (history restarts).
* The **scheduler** runs whatever is runnable at the current time. On the virtual clock,
  when nothing is runnable and every in-flight activity waits on the clock, time jumps
  to the next due timer, sleeper or activity completion; on the wall clock it waits.
  Everything is ordered by (due time, sequence), so a run is deterministic for a seed as
  long as activities do not race each other through real I/O.

Anything user code raises ends that instance Failed with the message; devhost itself
never stops because of it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import random
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions import Orchestrator
from azure.durable_functions.models import DurableOrchestrationContext
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.actions.NoOpAction import NoOpAction
from azure.durable_functions.models.utils.entity_utils import EntityId
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost import history as h
from devhost import timestamps
from devhost.clock import PeerWatch, VirtualClock, WallClock
from devhost.indexing import FunctionIndex, index_app

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
TERMINAL = {"Completed", "Failed", "Terminated"}


timestamps.install()
PEER_POLL_S = 0.01  # wall seconds between re-checks while activities may do real I/O


class DevHostError(Exception):
    """A request to devhost itself was wrong (unknown function, malformed payload)."""


class NonDeterminismError(DevHostError):
    """An episode's actions did not extend the previous episode's actions."""


_SCHEDULING = {
    h.EventType.TASK_SCHEDULED: "activities",
    h.EventType.SUB_ORCHESTRATION_CREATED: "sub_orchestrations",
    h.EventType.TIMER_CREATED: "timers",
    h.EventType.EVENT_SENT: "entity",
}


@dataclass
class Counters:
    episodes: int = 0
    history_events_replayed: int = 0
    activity_calls: int = 0
    entity_operations: int = 0
    timers_fired: int = 0
    instances_started: int = 0
    # orchestrator name -> {"episodes", "events" (replayed), "executions", "longest"
    # (events of its longest episode), and the tasks it scheduled by kind}
    by_orchestration: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.__dict__)
        out["by_orchestration"] = {k: dict(v) for k, v in self.by_orchestration.items()}
        return out

    def replayed(self, name: str, events: int, *, execution: bool) -> None:
        """Count one episode of orchestrator ``name`` that replayed ``events`` events
        (``execution``: the first episode of an execution)."""
        self.episodes += 1
        self.history_events_replayed += events
        row = self.by_orchestration.setdefault(
            name, {"episodes": 0, "events": 0, "executions": 0, "longest": 0}
        )
        row["episodes"] += 1
        row["events"] += events
        row["executions"] += execution
        row["longest"] = max(row["longest"], events)

    def scheduled(self, name: str, events: list[dict[str, Any]]) -> None:
        """Count the scheduling events an episode of ``name`` appended, by kind."""
        row = self.by_orchestration[name]
        for event in events:
            kind = _SCHEDULING.get(event["EventType"])
            if kind == "entity":  # by operation: acquire, release, ...
                kind = f"entity:{event['Name']}"
            if kind is not None:
                row[kind] = row.get(kind, 0) + 1


@dataclass
class Instance:
    instance_id: str
    name: str
    input_text: str | None
    created: float
    parent: tuple[str, int] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    played: list[dict[str, Any]] = field(default_factory=list)  # history[i], IsPlayed
    pending: list[dict[str, Any]] = field(default_factory=list)
    scheduled: set[int] = field(default_factory=set)
    actions_seen: int = 0
    last_actions: list[Any] = field(default_factory=list)
    status: str = "Pending"
    output: Any = None
    custom_status: Any = None
    error: str | None = None
    last_updated: float = 0.0
    generation: int = 0  # bumps on continue_as_new; stale completions are dropped
    parent_generation: int | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass
class EntityRecord:
    name: str
    key: str
    state_text: str | None = None
    exists: bool = False
    queue: deque = field(default_factory=deque)


@dataclass
class _Op:
    name: str
    input_text: str | None
    signal: bool
    reply_to: tuple[str, str, int] | None  # (instance id, request guid, generation)


class DevHost:
    """Runs a ``DFApp``'s orchestrations, activities and entities in-process."""

    def __init__(
        self,
        app: Any,
        *,
        clock: VirtualClock | WallClock | None = None,
        seed: int = 0,
        check_determinism: bool = False,
        activity_latency: Callable[[str, random.Random], float] | float = 0.0,
        max_concurrent_activities: int = 64,
        max_entity_batch: int = 50,
        one_event_per_episode: bool = False,
        max_short_timer: str = "6.00:00:00",
        long_timer_interval: str = "3.00:00:00",
    ) -> None:
        self.index: FunctionIndex = index_app(app)
        self.clock = clock or VirtualClock()
        self.rng = random.Random(seed)
        self.check_determinism = check_determinism
        self.activity_latency = activity_latency
        self.max_concurrent_activities = max_concurrent_activities
        self.max_entity_batch = max_entity_batch
        self.one_event_per_episode = one_event_per_episode
        self.max_short_timer = max_short_timer
        self.long_timer_interval = long_timer_interval
        self.counters = Counters()
        self.instances: dict[str, Instance] = {}
        self.entities: dict[str, EntityRecord] = {}
        self.activity_errors: list[tuple[str, str]] = []  # (activity, message), for diagnosis
        self._ready: deque[str] = deque()
        self._ready_set: set[str] = set()
        self._entities_ready: deque[str] = deque()
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._activity_queue: deque[tuple[str, str, int, int, str | None]] = deque()
        self._inflight: set[asyncio.Task] = set()
        self._on_peer = PeerWatch()  # waits_on_peer, remembered per suspension
        self._triggers = None

    # ----------------------------------------------------------------- public API
    def now(self) -> float:
        return self.clock.now()

    def start(
        self,
        name: str,
        input_value: Any = None,
        instance_id: str | None = None,
        *,
        input_text: str | None = None,
    ) -> str:
        """Create an orchestration instance (it runs when the host is driven)."""
        if name not in self.index.orchestrators:
            known = ", ".join(sorted(self.index.orchestrators)) or "none"
            raise DevHostError(f"unknown orchestrator {name!r}; known: {known}")
        if input_text is None:
            try:
                input_text = json.dumps(input_value) if input_value is not None else None
            except (TypeError, ValueError) as exc:
                raise DevHostError(f"orchestration input is not JSON-serializable: {exc}") from exc
        instance_id = instance_id or uuid.UUID(int=self.rng.getrandbits(128)).hex
        existing = self.instances.get(instance_id)
        if existing is not None and not existing.done:
            raise DevHostError(f"instance {instance_id!r} already exists and is {existing.status}")
        self._create_instance(instance_id, name, input_text, parent=None)
        return instance_id

    def raise_event(self, instance_id: str, event_name: str, value: Any = None) -> None:
        self.raise_event_text(instance_id, event_name, json.dumps(value))

    def raise_event_text(self, instance_id: str, event_name: str, text: str | None) -> None:
        inst = self._instance(instance_id)
        self._deliver(inst.instance_id, h.event_raised(self.now(), event_name, text))

    def signal_entity(self, entity_id: str, operation: str, value: Any = None) -> None:
        """``entity_id`` as ``@name@key``."""
        self.signal_entity_text(entity_id, operation, json.dumps(value))

    def signal_entity_text(self, entity_id: str, operation: str, text: str | None) -> None:
        self._enqueue_op(_entity_key(entity_id), _Op(operation, text, True, None))

    def purge(self, instance_id: str) -> int:
        """Forget a finished instance's history; 1 if one was purged, else 0."""
        inst = self.instances.get(instance_id)
        if inst is None or not inst.done:
            return 0
        del self.instances[instance_id]
        return 1

    @property
    def triggers(self):
        """HTTP and timer triggers with the real durable client (see devhost.client)."""
        if self._triggers is None:
            from devhost.client import TriggerRunner

            self._triggers = TriggerRunner(self)
        return self._triggers

    async def http(self, method: str, path: str, **kwargs: Any):
        """Call an HTTP-triggered function; see ``TriggerRunner.http``."""
        return await self.triggers.http(method, path, **kwargs)

    async def timer(self, name: str, **kwargs: Any) -> None:
        await self.triggers.timer(name, **kwargs)

    def terminate(self, instance_id: str, reason: str) -> None:
        inst = self._instance(instance_id)
        if not inst.done:
            inst.status, inst.output, inst.last_updated = "Terminated", reason, self.now()

    def entity_state(self, entity_id: str) -> Any:
        record = self.entities.get(entity_id.lower() if entity_id.count("@") == 2 else entity_id)
        if record is None or not record.exists or record.state_text is None:
            return None
        return json.loads(record.state_text)

    def status(self, instance_id: str, show_history: bool = False) -> dict[str, Any]:
        """The instance's status in the extension's management-API JSON."""
        inst = self._instance(instance_id)
        body = {
            "name": inst.name,
            "instanceId": inst.instance_id,
            "runtimeStatus": inst.status,
            "input": json.loads(inst.input_text) if inst.input_text else None,
            "customStatus": inst.custom_status,
            "output": inst.output,
            "createdTime": h.timestamp(inst.created)[:19] + "Z",
            "lastUpdatedTime": h.timestamp(inst.last_updated or inst.created)[:19] + "Z",
        }
        if show_history:
            body["historyEvents"] = list(inst.history)
        return body

    async def run_until_idle(self, *, max_virtual_s: float | None = None) -> None:
        """Drive everything until no work, timer or activity is left."""
        deadline = None if max_virtual_s is None else self.now() + max_virtual_s
        await self._drive(lambda: False, deadline)

    async def run_until_done(
        self, instance_id: str, *, max_virtual_s: float | None = None
    ) -> dict[str, Any]:
        """Drive the host until ``instance_id`` reaches a terminal state; its status."""
        inst = self._instance(instance_id)
        deadline = None if max_virtual_s is None else self.now() + max_virtual_s
        await self._drive(lambda: self.instances[inst.instance_id].done, deadline)
        return self.status(instance_id)

    async def run(self, name: str, input_value: Any = None, instance_id: str | None = None):
        """Start an orchestration and drive it to the end; its final status."""
        return await self.run_until_done(self.start(name, input_value, instance_id))

    # ----------------------------------------------------------------- scheduler
    async def _drive(self, stop: Callable[[], bool], deadline: float | None) -> None:
        while not stop():
            if self._step():
                await asyncio.sleep(0)
                continue
            if self._inflight and self._busy_activities() > 0:
                await self._wait_for_activities()
                continue
            due = self._next_due()
            if due is None:
                return  # idle: nothing can ever happen again
            if deadline is not None and due > deadline:
                return
            if self.clock.virtual:
                self.clock.advance_to(max(due, self.now()))
            else:
                await self._wall_wait(due)
            self._fire_due()
            await asyncio.sleep(0)

    def _step(self) -> bool:
        """Run everything runnable now, synchronously; True if anything ran."""
        ran = self._fire_due()
        while self._ready:
            instance_id = self._ready.popleft()
            self._ready_set.discard(instance_id)
            self._run_episode(self.instances[instance_id])
            ran = True
        while self._entities_ready:
            self._run_entity_batch(self.entities[self._entities_ready.popleft()])
            ran = True
        while self._activity_queue and len(self._inflight) < self.max_concurrent_activities:
            task = asyncio.ensure_future(self._run_activity(*self._activity_queue.popleft()))
            self._inflight.add(task)
            ran = True
        return ran

    def _busy_activities(self) -> int:
        """In-flight activities that may be doing real I/O: neither sleeping on the clock
        nor parked on a peer (a lock another activity holds). 0 lets time move."""
        waiting = self.clock.blocked
        if self.clock.virtual and waiting < len(self._inflight):
            on_peer = self._on_peer
            waiting += sum(1 for task in self._inflight if on_peer(task))
        return max(0, len(self._inflight) - waiting)

    async def _wait_for_activities(self) -> None:
        self.clock.parked.clear()
        parked = asyncio.ensure_future(self.clock.parked.wait())
        timeout = None
        if not self.clock.virtual and (due := self._next_due()) is not None:
            timeout = max(0.0, due - self.now()) / getattr(self.clock, "speed", 1.0)
        elif self.clock.virtual:
            # a task that parks on a peer's lock sets no event: look again shortly
            timeout = PEER_POLL_S
        done, _ = await asyncio.wait(
            [*self._inflight, parked], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        parked.cancel()
        self._inflight -= done
        for task in done:
            self._on_peer.forget(task)

    async def _wall_wait(self, due: float) -> None:
        await asyncio.sleep(max(0.0, due - self.now()) / getattr(self.clock, "speed", 1.0))

    def _next_due(self) -> float | None:
        candidates = [t for t in (self.clock.next_wakeup(),) if t is not None]
        if self._agenda:
            candidates.append(self._agenda[0][0])
        return min(candidates) if candidates else None

    def _at(self, due: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (due, next(self._seq), action))

    def _fire_due(self) -> bool:
        fired = False
        while self._agenda and self._agenda[0][0] <= self.now():
            _, _, action = heapq.heappop(self._agenda)
            action()
            fired = True
        return fired

    def _guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    # ----------------------------------------------------------------- instances
    def _instance(self, instance_id: str) -> Instance:
        try:
            return self.instances[instance_id]
        except KeyError:
            raise DevHostError(f"no orchestration instance {instance_id!r}") from None

    def _create_instance(
        self, instance_id: str, name: str, input_text: str | None, parent: tuple[str, int] | None
    ) -> Instance:
        inst = Instance(instance_id, name, input_text, self.now(), parent)
        parent_ref = None
        if parent is not None:
            parent_ref = {
                "Name": self.instances[parent[0]].name,
                "OrchestrationInstance": {"InstanceId": parent[0]},
                "TaskScheduleId": parent[1],
            }
        self.instances[instance_id] = inst
        self.counters.instances_started += 1
        self._deliver(
            instance_id, h.execution_started(self.now(), name, input_text, instance_id, parent_ref)
        )
        return inst

    def _deliver(self, instance_id: str, event: dict[str, Any], generation: int | None = None):
        inst = self.instances.get(instance_id)
        if inst is None or inst.done:
            return
        if generation is not None and generation != inst.generation:
            return  # a reply to an execution that has since continued as new
        inst.pending.append(event)
        if instance_id not in self._ready_set:
            self._ready_set.add(instance_id)
            self._ready.append(instance_id)

    def _context(self, inst: Instance, new_events: list[dict[str, Any]]) -> dict[str, Any]:
        """The orchestration request as the SDK's ``from_json`` decodes it: exactly
        ``json.loads`` of the extension's body — the history (past events marked IsPlayed,
        then OrchestratorStarted and ``new_events``) and the instance's fields — without
        the text in between. Each past event's played copy is made once and kept
        (``played``): history only grows between continue-as-new restarts, and encoding
        all of it at every episode, for the SDK to decode it again, cost about a sixth of
        the replay. Every value is plain JSON (str, int, bool, None, dict, list), so the
        JSON round trip the real host makes would give these very values."""
        played = inst.played
        if len(played) > len(inst.history):  # history restarted: copy afresh
            played.clear()
        played.extend({**e, "IsPlayed": True} for e in inst.history[len(played) :])
        return {
            "history": [*played, h.orchestrator_started(self.now()), *new_events],
            "input": inst.input_text,
            "instanceId": inst.instance_id,
            "parentInstanceId": inst.parent[0] if inst.parent else None,
            "isReplaying": bool(played),
            "upperSchemaVersion": 2,
            "upperSchemaVersionNew": 3,
            "maximumShortTimerDuration": self.max_short_timer,
            "longRunningTimerIntervalDuration": self.long_timer_interval,
        }

    def _replay(
        self, inst: Instance, request: dict[str, Any]
    ) -> tuple[DurableOrchestrationContext, dict]:
        """One pass of the SDK's replay over ``request`` (``_context``): the context and
        the parsed reply. The context is built as ``from_json`` builds it from the text."""
        handle = self.index.orchestrators[inst.name]
        ctx = DurableOrchestrationContext(**request)
        ctx._input_expected_type = getattr(handle, "_df_input_type", None)
        try:
            reply = Orchestrator(handle.orchestrator_function).handle(ctx)
        except Exception as exc:  # the SDK raises on user errors, state after the marker
            message = str(exc)
            if OUT_OF_PROC_MARKER not in message:
                return ctx, {"isDone": False, "actions": [], "error": message, "crashed": True}
            reply = message.split(OUT_OF_PROC_MARKER, 1)[1]
        return ctx, json.loads(reply)

    def _run_episode(self, inst: Instance) -> None:
        if inst.done or not inst.pending:
            return
        if self.one_event_per_episode:
            new_events, inst.pending = inst.pending[:1], inst.pending[1:]
            if inst.pending:
                self._ready_set.add(inst.instance_id)
                self._ready.append(inst.instance_id)
        else:
            new_events, inst.pending = inst.pending, []
        request = self._context(inst, new_events)
        self.counters.replayed(
            inst.name, len(inst.history) + 1 + len(new_events), execution=not inst.history
        )
        ctx, reply = self._replay(inst, request)
        if self.check_determinism:
            self._check_determinism(inst, request, reply)
        now = self.now()
        inst.history.extend([h.orchestrator_started(now), *new_events])
        inst.status = "Running"
        inst.last_updated = now
        inst.custom_status = reply.get("customStatus")
        if reply.get("crashed"):
            self._finish(inst, error=reply["error"])
            return
        actions = reply.get("actions") or [[]]
        flat = actions[0] if actions else []
        before = len(inst.history)
        self._schedule_new_tasks(inst, ctx, flat)
        self.counters.scheduled(inst.name, inst.history[before:])
        inst.history.append(h.orchestrator_completed(now))
        if reply.get("error") is not None:
            self._finish(inst, error=reply["error"])
        elif reply.get("isDone"):
            if ctx.will_continue_as_new:
                self._continue_as_new(inst, flat)
            else:
                self._finish(inst, output=reply.get("output"))

    def _check_determinism(self, inst: Instance, request: dict[str, Any], reply: dict) -> None:
        """Replaying the same history must give the same actions, and each episode's
        actions must extend the previous episode's (ignoring ``isCanceled``)."""
        _, again = self._replay(inst, request)
        first, second = _normalized(reply), _normalized(again)
        if first != second:
            raise NonDeterminismError(
                f"{inst.name} ({inst.instance_id}): replaying the same history twice gave "
                "different actions"
            )
        previous = inst.last_actions
        if first[: len(previous)] != previous:
            raise NonDeterminismError(
                f"{inst.name} ({inst.instance_id}): episode actions do not extend the previous "
                "episode's (non-deterministic orchestrator code)"
            )
        inst.last_actions = first

    def _schedule_new_tasks(
        self, inst: Instance, ctx: DurableOrchestrationContext, flat: list[dict[str, Any]]
    ) -> None:
        """Turn the episode's new sequence ids into history events and work, in id order.

        Tasks the SDK registered carry their id; fire-and-forget actions (signals,
        continue-as-new) consumed an id without a task, so they take the unclaimed ids in
        the order they appear in the action list."""
        now = self.now()
        open_ids = {k for k in ctx.open_tasks if isinstance(k, int)}
        work: list[tuple[int, Any]] = [
            (seq, ctx.open_tasks[seq]) for seq in open_ids if seq not in inst.scheduled
        ]
        unclaimed = (
            seq
            for seq in range(ctx._sequence_number)
            if seq not in open_ids and seq not in inst.scheduled
        )
        for action in flat[inst.actions_seen :]:
            kind = action.get("actionType")
            if kind in (ActionType.SIGNAL_ENTITY, ActionType.CONTINUE_AS_NEW):
                work.append((next(unclaimed, -1), action))
        inst.actions_seen = len(flat)
        for seq, item in sorted(work, key=lambda pair: pair[0]):
            inst.scheduled.add(seq)
            if isinstance(item, dict):
                if item["actionType"] == ActionType.SIGNAL_ENTITY:
                    self._send_signal(inst, seq, item, now)
            elif not isinstance(item, list):  # lists: external events sharing a name
                self._schedule_task(inst, seq, item, now)

    def _send_signal(self, inst: Instance, seq: int, action: dict[str, Any], now: float) -> None:
        target = _entity_key(action["instanceId"])
        op = _Op(action["operation"], action.get("input"), True, None)
        request = _request(op, inst, self._guid())
        inst.history.append(h.event_sent(now, seq, target, action["operation"], request))
        self._enqueue_op(target, op)

    def _schedule_task(self, inst: Instance, seq: int, task: Any, now: float) -> None:
        action = task.action_repr
        if isinstance(action, list):
            action = action[0]
        if isinstance(action, NoOpAction):
            retry = task.parent
            if action.metadata == "-WithRetry timer":
                interval = retry.retry_options.first_retry_interval_in_milliseconds / 1000
                self._create_timer(inst, seq, now + interval)
                return
            action = retry.actions  # "rescheduled task": run the original action again
        kind = action.action_type
        payload = action.to_json()
        if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_ACTIVITY_WITH_RETRY):
            name, input_text = payload["functionName"], payload.get("input")
            inst.history.append(h.task_scheduled(now, seq, name, input_text))
            self._activity_queue.append((inst.instance_id, name, seq, inst.generation, input_text))
        elif kind in (
            ActionType.CALL_SUB_ORCHESTRATOR,
            ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY,
        ):
            self._start_sub_orchestration(inst, seq, payload, now)
        elif kind == ActionType.CREATE_TIMER:
            self._create_timer(inst, seq, _parse_time(payload["fireAt"]))
        elif kind == ActionType.CALL_ENTITY:
            target = _entity_key(payload["instanceId"])
            op = _Op(payload["operation"], payload.get("input"), False, None)
            guid = self._guid()
            op.reply_to = (inst.instance_id, guid, inst.generation)
            request = _request(op, inst, guid)
            inst.history.append(h.event_sent(now, seq, target, payload["operation"], request))
            self._enqueue_op(target, op)
        elif kind == ActionType.CALL_HTTP:
            self._fail_task(inst, seq, "CallHttp is not supported by devhost", now)
        # SignalEntity tasks are handled from the action list; WaitForExternalEvent has no id.

    def _create_timer(self, inst: Instance, seq: int, fire_at: float) -> None:
        fire_text = h.timestamp(fire_at)
        inst.history.append(h.timer_created(self.now(), seq, fire_text))
        generation = inst.generation

        def fire() -> None:
            self.counters.timers_fired += 1
            self._deliver(inst.instance_id, h.timer_fired(self.now(), seq, fire_text), generation)

        self._at(fire_at, fire)

    def _start_sub_orchestration(self, inst: Instance, seq: int, payload: dict, now: float) -> None:
        name = payload["functionName"]
        child_id = payload.get("instanceId") or f"{inst.instance_id}:{inst.generation}:{seq}"
        input_text = payload.get("input")
        inst.history.append(h.sub_orchestration_created(now, seq, name, child_id, input_text))
        if name not in self.index.orchestrators:
            reason = f"Orchestrator function '{name}' does not exist"
            self._at(
                now,
                lambda: self._deliver(
                    inst.instance_id, h.sub_orchestration_failed(self.now(), seq, reason, "")
                ),
            )
            return
        existing = self.instances.get(child_id)
        if existing is not None and not existing.done:
            reason = f"an orchestration with instance id '{child_id}' is already running"
            self._at(
                now,
                lambda: self._deliver(
                    inst.instance_id, h.sub_orchestration_failed(self.now(), seq, reason, "")
                ),
            )
            return
        self._create_instance(child_id, name, input_text, parent=(inst.instance_id, seq))
        self.instances[child_id].parent_generation = inst.generation

    def _fail_task(self, inst: Instance, seq: int, reason: str, now: float) -> None:
        self._at(
            now, lambda: self._deliver(inst.instance_id, h.task_failed(self.now(), seq, reason, ""))
        )

    def _continue_as_new(self, inst: Instance, flat: list[dict[str, Any]]) -> None:
        can = next(a for a in reversed(flat) if a.get("actionType") == ActionType.CONTINUE_AS_NEW)
        carried = [e for e in inst.pending if e["EventType"] == h.EventType.EVENT_RAISED]
        inst.generation += 1
        inst.input_text = can.get("input")
        inst.history, inst.pending, inst.scheduled = [], [], set()
        inst.played = []
        inst.actions_seen, inst.last_actions = 0, []
        inst.status = "ContinuedAsNew"
        self._deliver(
            inst.instance_id,
            h.execution_started(self.now(), inst.name, inst.input_text, inst.instance_id),
        )
        for event in carried:
            self._deliver(inst.instance_id, event)

    def _finish(self, inst: Instance, *, output: Any = None, error: str | None = None) -> None:
        inst.last_updated = self.now()
        if error is None:
            inst.status, inst.output = "Completed", output
        else:
            inst.status, inst.error, inst.output = "Failed", error, error
        if inst.parent is None:
            return
        parent_id, seq = inst.parent
        generation = inst.parent_generation
        if error is None:
            event = h.sub_orchestration_completed(self.now(), seq, json.dumps(output))
        else:
            reason = f"Orchestrator function '{inst.name}' failed: {error}"
            event = h.sub_orchestration_failed(self.now(), seq, reason, error)
        self._deliver(parent_id, event, generation)

    # ----------------------------------------------------------------- activities
    async def _run_activity(
        self, instance_id: str, name: str, seq: int, generation: int, input_text: str | None
    ) -> None:
        self.counters.activity_calls += 1
        started = self.now()
        try:
            result_text = await self._call_activity(name, input_text)
            event_of = lambda now: h.task_completed(now, seq, result_text)  # noqa: E731
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            self.activity_errors.append((name, message))
            reason = f"Activity function '{name}' failed: {message}"
            details = "".join(traceback.format_exception(exc))
            event_of = lambda now: h.task_failed(now, seq, reason, details)  # noqa: E731
        latency = self.activity_latency
        extra = latency(name, self.rng) if callable(latency) else float(latency)
        due = max(self.now(), started + extra)
        self._at(due, lambda: self._deliver(instance_id, event_of(self.now()), generation))

    async def _call_activity(self, name: str, input_text: str | None) -> str | None:
        function = self.index.activities.get(name)
        if function is None:
            raise DevHostError(f"activity function {name!r} does not exist")
        datum = meta.Datum(type="json", value=input_text if input_text is not None else "null")
        value = ActivityTriggerConverter.decode(datum, trigger_metadata={})
        result = function.handler(**{function.input_param: value})
        if asyncio.iscoroutine(result):
            result = await result
        return ActivityTriggerConverter.encode(result, expected_type=None).value

    # ----------------------------------------------------------------- entities
    def _enqueue_op(self, entity_id: str, op: _Op) -> None:
        name, key = _split_entity(entity_id)
        if name not in self.index.entities:
            if op.reply_to is not None:
                instance_id, guid, generation = op.reply_to
                body = {
                    "result": json.dumps(f"entity '{name}' does not exist"),
                    "exceptionType": "",
                }
                self._at(
                    self.now(),
                    lambda: self._deliver(
                        instance_id, h.event_raised(self.now(), guid, json.dumps(body)), generation
                    ),
                )
            return
        record = self.entities.setdefault(entity_id, EntityRecord(name, key))
        if not record.queue:
            self._entities_ready.append(entity_id)
        record.queue.append(op)

    def _run_entity_batch(self, record: EntityRecord) -> None:
        batch = [
            record.queue.popleft() for _ in range(min(self.max_entity_batch, len(record.queue)))
        ]
        if record.queue:
            self._entities_ready.append(f"@{record.name}@{record.key}")
        payload = {
            "self": {"name": record.name, "key": record.key},
            "exists": record.exists,
            "state": record.state_text,
            "batch": [
                {"name": op.name, "input": json.dumps(op.input_text), "isSignal": op.signal}
                for op in batch
            ],
        }
        self.counters.entity_operations += len(batch)
        try:
            reply = json.loads(self.index.entities[record.name](json.dumps(payload)))
        except Exception as exc:  # a framework-level failure: every op in the batch fails
            reply = {
                "entityExists": record.exists,
                "entityState": record.state_text,
                "results": [{"isError": True, "result": json.dumps(str(exc))} for _ in batch],
            }
        record.exists = bool(reply.get("entityExists"))
        record.state_text = reply.get("entityState") if record.exists else None
        for op, result in zip(batch, reply["results"], strict=True):
            if op.reply_to is None:
                continue
            instance_id, guid, generation = op.reply_to
            body: dict[str, Any] = {"result": result["result"]}
            if result.get("isError"):
                body["exceptionType"] = "System.Exception"
            self._deliver(
                instance_id, h.event_raised(self.now(), guid, json.dumps(body)), generation
            )


# --------------------------------------------------------------------- helpers
def _normalized(reply: dict) -> list[Any]:
    flat = (reply.get("actions") or [[]])[0] if reply.get("actions") else []
    return [_strip_cancel(a) for a in flat]


def _strip_cancel(action: Any) -> Any:
    if isinstance(action, dict):
        return {k: _strip_cancel(v) for k, v in action.items() if k != "isCanceled"}
    if isinstance(action, list):
        return [_strip_cancel(a) for a in action]
    return action


def _entity_key(instance_id: str) -> str:
    name, key = _split_entity(instance_id)
    return f"@{name}@{key}"


def _split_entity(entity_id: str) -> tuple[str, str]:
    if isinstance(entity_id, EntityId):
        return entity_id.name.lower(), entity_id.key
    parts = entity_id.split("@", 2)
    if len(parts) != 3 or parts[0] != "":
        raise DevHostError(f"malformed entity id {entity_id!r}; expected '@name@key'")
    return parts[1].lower(), parts[2]


def _request(op: _Op, inst: Instance, guid: str) -> str:
    return json.dumps(
        {
            "op": op.name,
            "signal": op.signal,
            "input": op.input_text,
            "id": guid,
            "parent": inst.instance_id,
        }
    )


def _parse_time(text: str) -> float:
    from dateutil.parser import isoparse

    return isoparse(text).timestamp()
