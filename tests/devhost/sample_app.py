"""A small Functions app exercising every durable feature devhost must run."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
ATTEMPTS: dict[str, int] = {}


@app.activity_trigger(input_name="payload")
def double(payload: int) -> int:
    return payload * 2


@app.activity_trigger(input_name="payload")
async def async_echo(payload: dict) -> dict:
    return {"echo": payload}


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    key = payload["key"]
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] <= payload["failures"]:
        raise RuntimeError(f"flaky failure {ATTEMPTS[key]}")
    return f"ok after {ATTEMPTS[key]}"


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    tasks = [
        context.call_sub_orchestrator("fan_out", spec["per_child"]) for _ in range(spec["children"])
    ]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3)
    try:
        result = yield context.call_activity_with_retry("flaky", options, spec)
    except Exception as exc:
        return {"failed": str(exc).splitlines()[0]}
    return {"result": result}


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    days = context.get_input()
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(days=days))
    return (context.current_utc_datetime - started).total_seconds()


@app.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext):
    state = context.get_input()
    if state["i"] >= state["n"]:
        return state["total"]
    value = yield context.call_activity("double", state["i"])
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    context.continue_as_new({"i": state["i"] + 1, "n": state["n"], "total": state["total"] + value})
    return None


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + timedelta(hours=2))
    event = context.wait_for_external_event("Approved")
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"approved": event.result}
    return {"approved": None}


@app.orchestration_trigger(context_name="context")
def entity_user(context: df.DurableOrchestrationContext):
    counter = df.EntityId("Counter", context.get_input())
    context.signal_entity(counter, "add", 5)
    value = yield context.call_entity(counter, "add", 2)
    try:
        yield context.call_entity(counter, "boom")
    except Exception as exc:
        return {"value": value, "error": str(exc)}
    return {"value": value, "error": None}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("double", 1)
    raise ValueError("the orchestrator gave up on purpose")


@app.entity_trigger(context_name="context", entity_name="Counter")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif context.operation_name == "get":
        context.set_result(value)
    elif context.operation_name == "boom":
        raise RuntimeError("counter exploded")
