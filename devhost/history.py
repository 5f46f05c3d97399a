"""Builders for history events in the JSON the Durable extension sends (PascalCase DTFx).

See DURABLE_NOTES.md §1.3. Every event has EventType, EventId (the sequence number for
scheduling events, -1 otherwise), IsPlayed and Timestamp.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from devhost.clock import to_datetime


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16


def timestamp(epoch_s: float) -> str:
    """ISO 8601 with microseconds and Z, as the extension writes them."""
    return to_datetime(epoch_s).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(kind: EventType, now: float, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp(now),
        **fields,
    }


def execution_started(
    now: float, name: str, input_text: str | None, instance_id: str, parent: dict | None = None
) -> dict[str, Any]:
    return event(
        EventType.EXECUTION_STARTED,
        now,
        Name=name,
        Version="",
        Input=input_text,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": f"{instance_id}:exec"},
        ParentInstance=parent,
    )


def orchestrator_started(now: float) -> dict[str, Any]:
    return event(EventType.ORCHESTRATOR_STARTED, now)


def orchestrator_completed(now: float) -> dict[str, Any]:
    return event(EventType.ORCHESTRATOR_COMPLETED, now)


def task_scheduled(now: float, seq: int, name: str, input_text: str | None) -> dict[str, Any]:
    return event(EventType.TASK_SCHEDULED, now, seq, Name=name, Input=input_text)


def task_completed(now: float, seq: int, result_text: str | None) -> dict[str, Any]:
    return event(EventType.TASK_COMPLETED, now, TaskScheduledId=seq, Result=result_text)


def task_failed(now: float, seq: int, reason: str, details: str) -> dict[str, Any]:
    return event(EventType.TASK_FAILED, now, TaskScheduledId=seq, Reason=reason, Details=details)


def sub_orchestration_created(
    now: float, seq: int, name: str, instance_id: str, input_text: str | None
) -> dict[str, Any]:
    return event(
        EventType.SUB_ORCHESTRATION_CREATED,
        now,
        seq,
        Name=name,
        InstanceId=instance_id,
        Input=input_text,
    )


def sub_orchestration_completed(now: float, seq: int, result_text: str | None) -> dict[str, Any]:
    return event(
        EventType.SUB_ORCHESTRATION_COMPLETED, now, TaskScheduledId=seq, Result=result_text
    )


def sub_orchestration_failed(now: float, seq: int, reason: str, details: str) -> dict[str, Any]:
    return event(
        EventType.SUB_ORCHESTRATION_FAILED,
        now,
        TaskScheduledId=seq,
        Reason=reason,
        Details=details,
    )


def timer_created(now: float, seq: int, fire_at: str) -> dict[str, Any]:
    return event(EventType.TIMER_CREATED, now, seq, FireAt=fire_at)


def timer_fired(now: float, seq: int, fire_at: str) -> dict[str, Any]:
    return event(EventType.TIMER_FIRED, now, TimerId=seq, FireAt=fire_at)


def event_sent(
    now: float, seq: int, target: str, name: str, input_text: str | None
) -> dict[str, Any]:
    return event(EventType.EVENT_SENT, now, seq, InstanceId=target, Name=name, Input=input_text)


def event_raised(now: float, name: str, input_text: str | None) -> dict[str, Any]:
    return event(EventType.EVENT_RAISED, now, Name=name, Input=input_text)
