# ruff: noqa: RUF005  (histories read best as "started + episodes")
"""Golden-history contract tests: hand-written extension JSON fed to the SDK's own executor.

These pin the protocol devhost plays (DURABLE_NOTES §1): if an SDK upgrade changes the
history it accepts or the actions it answers, these fail before devhost silently drifts.
The histories are literal JSON as the Durable extension sends it, not built by devhost.
"""

from __future__ import annotations

import json
from typing import Any

import azure.durable_functions as df
import pytest
from azure.durable_functions.models.DurableOrchestrationContext import (
    DurableOrchestrationContext,
)

from devhost import history as h

T0 = "2026-11-01T00:00:00.000000Z"
T1 = "2026-11-01T00:00:05.000000Z"
T2 = "2026-11-01T00:00:10.000000Z"


def _started(name: str, input_text: str | None, ts: str = T0) -> list[dict[str, Any]]:
    return [
        {"EventType": 12, "EventId": -1, "IsPlayed": True, "Timestamp": ts},
        {
            "EventType": 0,
            "EventId": -1,
            "IsPlayed": True,
            "Timestamp": ts,
            "Name": name,
            "Version": "",
            "Input": input_text,
            "OrchestrationInstance": {"InstanceId": "i1", "ExecutionId": "e1"},
            "ParentInstance": None,
        },
    ]


def _episode(ts: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"EventType": 13, "EventId": -1, "IsPlayed": True, "Timestamp": ts}] + [
        {"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": ts},
        *events,
    ]


def _handle(fn: Any, history: list[dict[str, Any]], input_text: str | None = None) -> dict:
    body = json.dumps(
        {
            "history": history,
            "input": input_text,
            "instanceId": "i1",
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 2,
            "upperSchemaVersionNew": 3,
            "maximumShortTimerDuration": "6.00:00:00",
            "longRunningTimerIntervalDuration": "3.00:00:00",
        }
    )
    return json.loads(df.Orchestrator(fn).handle(DurableOrchestrationContext.from_json(body)))


def two_steps(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("fetch", context.get_input())
    second = yield context.call_activity("store", first)
    return {"first": first, "second": second}


def test_first_episode_schedules_the_first_activity() -> None:
    reply = _handle(two_steps, _started("two_steps", '"page-1"'), '"page-1"')
    assert reply == {
        "isDone": False,
        "schemaVersion": 2,
        "actions": [[{"actionType": 0, "functionName": "fetch", "input": '"page-1"'}]],
    }


def test_replayed_completion_feeds_the_result_and_schedules_the_next() -> None:
    history = _started("two_steps", '"page-1"') + [
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": T0, "Name": "fetch"},
        *_episode(
            T1,
            {"EventType": 5, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "TaskScheduledId": 0, "Result": '{"n": 3}'},
        ),
    ]  # fmt: skip
    reply = _handle(two_steps, history, '"page-1"')
    assert reply["isDone"] is False
    assert reply["actions"] == [
        [
            {"actionType": 0, "functionName": "fetch", "input": '"page-1"'},
            {"actionType": 0, "functionName": "store", "input": '{"n": 3}'},
        ]
    ]


def test_completed_history_returns_the_output() -> None:
    history = _started("two_steps", '"p"') + [
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": T0, "Name": "fetch"},
        {"EventType": 13, "EventId": -1, "IsPlayed": True, "Timestamp": T0},
        {"EventType": 12, "EventId": -1, "IsPlayed": True, "Timestamp": T1},
        {"EventType": 5, "EventId": -1, "IsPlayed": True, "Timestamp": T1,
         "TaskScheduledId": 0, "Result": "1"},
        {"EventType": 4, "EventId": 1, "IsPlayed": True, "Timestamp": T1, "Name": "store"},
        *_episode(
            T2,
            {"EventType": 5, "EventId": -1, "IsPlayed": False, "Timestamp": T2,
             "TaskScheduledId": 1, "Result": "2"},
        ),
    ]  # fmt: skip
    reply = _handle(two_steps, history, '"p"')
    assert reply["isDone"] is True
    assert reply["output"] == {"first": 1, "second": 2}


def test_activity_failure_surfaces_reason_and_details() -> None:
    def catches(context: df.DurableOrchestrationContext):
        try:
            yield context.call_activity("fetch", None)
        except Exception as exc:  # the SDK raises a plain Exception(f"{Reason} \n {Details}")
            return str(exc)

    history = _started("catches", None) + [
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": T0, "Name": "fetch"},
        *_episode(
            T1,
            {"EventType": 6, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "TaskScheduledId": 0, "Reason": "Activity function 'fetch' failed: boom",
             "Details": "Traceback"},
        ),
    ]  # fmt: skip
    reply = _handle(catches, history)
    assert reply["isDone"] is True
    assert reply["output"] == "Activity function 'fetch' failed: boom \n Traceback"


def test_retry_after_failure_schedules_the_retry_timer_then_the_new_attempt() -> None:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=2)

    def retried(context: df.DurableOrchestrationContext):
        return (yield context.call_activity_with_retry("fetch", options, None))

    retry_action = {
        "actionType": 1,
        "functionName": "fetch",
        "input": "null",
        "retryOptions": {"firstRetryIntervalInMilliseconds": 5000, "maxNumberOfAttempts": 2},
    }
    first = _handle(retried, _started("retried", None))
    # 1.7.0 wraps a retryable task in a one-child WhenAll compound (its RetryAbleTask)
    assert first["actions"] == [[{"actionType": 12, "compoundActions": [retry_action]}]]

    history = _started("retried", None) + [
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": T0, "Name": "fetch"},
        {"EventType": 13, "EventId": -1, "IsPlayed": True, "Timestamp": T0},
        {"EventType": 12, "EventId": -1, "IsPlayed": True, "Timestamp": T0},
        {"EventType": 6, "EventId": -1, "IsPlayed": True, "Timestamp": T0,
         "TaskScheduledId": 0, "Reason": "r", "Details": "d"},
        {"EventType": 10, "EventId": 1, "IsPlayed": True, "Timestamp": T0, "FireAt": T1},
        *_episode(
            T1,
            {"EventType": 11, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "TimerId": 1, "FireAt": T1},
            {"EventType": 4, "EventId": 2, "IsPlayed": False, "Timestamp": T1, "Name": "fetch"},
            {"EventType": 5, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "TaskScheduledId": 2, "Result": '"ok"'},
        ),
    ]  # fmt: skip
    reply = _handle(retried, history)
    assert reply["isDone"] is True and reply["output"] == "ok"


def test_entity_call_and_signal_actions() -> None:
    def uses_entity(context: df.DurableOrchestrationContext):
        entity = df.EntityId("Ambassador", "amazon|A1")
        context.signal_entity(entity, "observe", {"x": 1})
        return (yield context.call_entity(entity, "acquire", {"want": 2}))

    reply = _handle(uses_entity, _started("uses_entity", None))
    assert reply["actions"] == [
        [
            {"actionType": 9, "instanceId": "@ambassador@amazon|A1", "operation": "observe",
             "input": '{"x": 1}'},
            {"actionType": 7, "instanceId": "@ambassador@amazon|A1", "operation": "acquire",
             "input": '{"want": 2}'},
        ]
    ]  # fmt: skip

    guid = "5f0a3c1e-0000-4000-8000-000000000001"
    request = json.dumps({"op": "acquire", "signal": False, "input": '{"want": 2}', "id": guid})
    history = _started("uses_entity", None) + [
        {"EventType": 14, "EventId": 0, "IsPlayed": True, "Timestamp": T0,
         "InstanceId": "@ambassador@amazon|A1", "Name": "op", "Input": "{}"},
        {"EventType": 14, "EventId": 1, "IsPlayed": True, "Timestamp": T0,
         "InstanceId": "@ambassador@amazon|A1", "Name": "op", "Input": request},
        *_episode(
            T1,
            {"EventType": 15, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "Name": guid, "Input": json.dumps({"result": '{"granted": 2}'})},
        ),
    ]  # fmt: skip
    reply = _handle(uses_entity, history)
    assert reply["isDone"] is True and reply["output"] == {"granted": 2}


def test_timer_and_external_event_actions() -> None:
    def waits(context: df.DurableOrchestrationContext):
        deadline = context.current_utc_datetime.replace(second=30)
        timer = context.create_timer(deadline)
        event = context.wait_for_external_event("approve")
        winner = yield context.task_any([event, timer])
        if winner == event:
            timer.cancel()
            return winner.result
        return "timed out"

    reply = _handle(waits, _started("waits", None))
    assert reply["actions"] == [
        [
            {
                "actionType": 11,
                "compoundActions": [
                    {"actionType": 6, "externalEventName": "approve", "reason": "ExternalEvent"},
                    {"actionType": 5, "fireAt": "2026-11-01T00:00:30.000000Z", "isCanceled": False},
                ],
            }
        ]
    ]
    history = _started("waits", None) + [
        {"EventType": 10, "EventId": 0, "IsPlayed": True, "Timestamp": T0,
         "FireAt": "2026-11-01T00:00:30.000000Z"},
        *_episode(
            T1,
            {"EventType": 15, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "Name": "approve", "Input": '"yes"'},
        ),
    ]  # fmt: skip
    reply = _handle(waits, history)
    assert reply["isDone"] is True and reply["output"] == "yes"


def test_continue_as_new_action() -> None:
    def loops(context: df.DurableOrchestrationContext):
        n = context.get_input()
        context.continue_as_new(n + 1)
        yield from ()

    reply = _handle(loops, _started("loops", "4"), "4")
    assert reply["isDone"] is True
    assert reply["actions"] == [[{"actionType": 4, "input": "5"}]]


def test_unhandled_exception_carries_the_state_after_the_marker() -> None:
    def fails(context: df.DurableOrchestrationContext):
        yield context.call_activity("fetch", None)
        raise ValueError("block 7 is broken")

    history = _started("fails", None) + [
        {"EventType": 4, "EventId": 0, "IsPlayed": True, "Timestamp": T0, "Name": "fetch"},
        *_episode(
            T1,
            {"EventType": 5, "EventId": -1, "IsPlayed": False, "Timestamp": T1,
             "TaskScheduledId": 0, "Result": "null"},
        ),
    ]  # fmt: skip
    with pytest.raises(Exception) as caught:
        _handle(fails, history)
    message, _, state = str(caught.value).partition("$OutOfProcData$:")
    assert "block 7 is broken" in message
    reply = json.loads(state)
    assert "block 7 is broken" in reply["error"]
    assert reply["actions"] == [[{"actionType": 0, "functionName": "fetch", "input": "null"}]]


def test_entity_batch_reply_in_the_extension_format() -> None:
    def counter(context: df.DurableEntityContext) -> None:
        value = context.get_state(lambda: 0)
        if context.operation_name == "add":
            value += context.get_input()
            context.set_state(value)
            context.set_result(value)
        else:
            raise ValueError("unknown op")

    payload = {
        "self": {"name": "counter", "key": "k"},
        "exists": True,
        "state": "5",
        "batch": [
            {"name": "add", "input": json.dumps("2"), "isSignal": False},
            {"name": "bogus", "input": None, "isSignal": True},
            {"name": "add", "input": json.dumps("3"), "isSignal": False},
        ],
    }
    reply = json.loads(df.Entity.create(counter)(json.dumps(payload)))
    assert reply["entityExists"] is True
    assert json.loads(reply["entityState"]) == 10
    assert [r["isError"] for r in reply["results"]] == [False, True, False]
    assert [json.loads(r["result"]) for r in (reply["results"][0], reply["results"][2])] == [7, 10]
    assert reply["signals"] == []


def test_devhost_builds_the_same_event_json_the_extension_sends() -> None:
    now = 1_793_491_200.0  # 2026-11-01T00:00:00Z
    assert h.timestamp(now) == T0
    scheduled = h.task_scheduled(now, 0, "fetch", '"p"')
    assert {k: scheduled[k] for k in ("EventType", "EventId", "Name", "Timestamp")} == {
        "EventType": 4,
        "EventId": 0,
        "Name": "fetch",
        "Timestamp": T0,
    }
    completed = h.task_completed(now, 0, "1")
    assert (completed["EventType"], completed["TaskScheduledId"], completed["Result"]) == (
        5,
        0,
        "1",
    )
