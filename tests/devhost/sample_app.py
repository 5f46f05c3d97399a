"""A small Functions app exercising every durable feature devhost must run."""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
ATTEMPTS: dict[str, int] = {}
SHARED: dict[str, object] = {}  # the clock and the lock of ``token_user``


@app.activity_trigger(input_name="payload")
async def token_user(payload: int) -> int:
    """Waits for a lock held by a peer that sleeps 3 s on the (virtual) clock."""
    import asyncio

    lock = SHARED.setdefault("lock", asyncio.Lock())
    await asyncio.sleep(0.02 * payload)  # real I/O first: peers reach the lock late
    async with lock:  # type: ignore[attr-defined]
        if "token" not in SHARED:
            await SHARED["clock"].sleep(3.0)  # type: ignore[attr-defined]
            SHARED["token"] = SHARED.get("refreshes", 0) + 1  # type: ignore[operator]
            SHARED["refreshes"] = SHARED["token"]
    return SHARED["refreshes"]  # type: ignore[return-value]


@app.orchestration_trigger(context_name="context")
def lock_fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    return (yield context.task_all([context.call_activity("token_user", i) for i in range(n)]))


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


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    name = req.route_params["name"]
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(name, req.params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    status = await client.get_status(req.route_params["instance_id"])
    body = {"runtimeStatus": status.runtime_status.value if status else None}
    if status:
        body["output"] = status.output
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="events/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_raise(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    await client.raise_event(req.route_params["instance_id"], req.route_params["event"], "yes")
    return func.HttpResponse(status_code=202)


@app.route(route="counter/{key}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def http_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    entity = df.EntityId("Counter", req.route_params["key"])
    if req.method == "POST":
        await client.signal_entity(entity, "add", int(req.params.get("by", "1")))
        return func.HttpResponse(status_code=202)
    state = await client.read_entity_state(entity)
    body = {"exists": state.entity_exists, "state": state.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="crash", methods=["GET"])
def http_crash(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("handler bug")


TICKS: list[bool] = []


@app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
@app.durable_client_input(client_name="client")
async def nightly(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    TICKS.append(timer.past_due)
    await client.start_new("fan_out", f"nightly-{len(TICKS)}", 3)
