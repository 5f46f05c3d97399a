"""Index a Functions app the way the Python worker does, and check it.

The worker calls ``app.get_functions()`` and ships each function's raw bindings to the
host, then checks parameters against bindings. ``index_app`` maps the result to what
devhost runs; ``check_app`` reproduces the worker's checks plus the ones only the host
would catch (CRON syntax, ``context_name``), returning human-readable problems.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

TRIGGER_TYPES = {
    "httpTrigger",
    "timerTrigger",
    "orchestrationTrigger",
    "activityTrigger",
    "entityTrigger",
}


@dataclass(frozen=True)
class HttpRoute:
    name: str
    route: str
    methods: tuple[str, ...]
    auth_level: str
    pattern: re.Pattern
    handler: Callable[..., Any]
    request_param: str
    client_param: str | None


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: str
    handler: Callable[..., Any]
    timer_param: str
    client_param: str | None


@dataclass(frozen=True)
class ActivityFunction:
    name: str
    handler: Callable[..., Any]
    input_param: str


@dataclass
class FunctionIndex:
    orchestrators: dict[str, Callable[..., Any]] = field(default_factory=dict)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    entities: dict[str, Callable[..., Any]] = field(default_factory=dict)
    http: list[HttpRoute] = field(default_factory=list)
    timers: dict[str, TimerFunction] = field(default_factory=dict)

    def names(self) -> set[str]:
        return (
            set(self.orchestrators)
            | set(self.activities)
            | set(self.entities)
            | {r.name for r in self.http}
            | set(self.timers)
        )


def get_functions(app: Any) -> list[Any]:
    """``app.get_functions()``, made repeatable (the SDK's is not idempotent)."""
    app.functions_bindings = None
    return app.get_functions()


def _bindings(fn: Any) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in fn.get_raw_bindings()]


def _route_pattern(route: str) -> re.Pattern:
    """``clients/{client_id}/status`` -> a regex with named groups (constraints dropped)."""
    parts = re.split(r"(\{[^}]+\})", route.strip("/"))
    regex = ""
    for part in parts:
        if part.startswith("{"):
            name = part[1:-1].split(":")[0].rstrip("?")
            regex += f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def index_app(app: Any) -> FunctionIndex:
    index = FunctionIndex()
    for fn in get_functions(app):
        name = fn.get_function_name()
        bindings = _bindings(fn)
        trigger = next(b for b in bindings if b["type"] in TRIGGER_TYPES)
        client = next((b["name"] for b in bindings if b["type"] == "durableClient"), None)
        user = fn.get_user_function()
        kind = trigger["type"]
        if kind == "orchestrationTrigger":
            index.orchestrators[trigger.get("orchestration") or name] = user
        elif kind == "activityTrigger":
            act_name = trigger.get("activity") or name
            index.activities[act_name] = ActivityFunction(act_name, user, trigger["name"])
        elif kind == "entityTrigger":
            index.entities[(trigger.get("entityName") or name).lower()] = user
        elif kind == "httpTrigger":
            route = trigger.get("route") or name
            methods = tuple(m.upper() for m in trigger.get("methods") or ("GET", "POST"))
            handler = getattr(user, "client_function", user) if client else user
            index.http.append(
                HttpRoute(
                    name,
                    route,
                    methods,
                    str(trigger.get("authLevel", "function")).lower(),
                    _route_pattern(route),
                    handler,
                    trigger["name"],
                    client,
                )
            )
        elif kind == "timerTrigger":
            handler = getattr(user, "client_function", user) if client else user
            index.timers[name] = TimerFunction(
                name, trigger["schedule"], handler, trigger["name"], client
            )
    return index


def check_app(app: Any) -> list[str]:
    """Problems the worker or host would report for ``app``; empty when it is sound."""
    problems: list[str] = []
    seen: set[str] = set()
    try:
        functions = get_functions(app)
    except Exception as exc:  # the SDK raises on duplicate names and bad decorators
        return [f"indexing failed: {exc}"]
    for fn in functions:
        name = fn.get_function_name()
        if name in seen:
            problems.append(f"{name}: duplicate function name")
        seen.add(name)
        bindings = _bindings(fn)
        triggers = [b for b in bindings if b["type"] in TRIGGER_TYPES]
        if len(triggers) != 1:
            problems.append(f"{name}: expected exactly one trigger, found {len(triggers)}")
            continue
        trigger = triggers[0]
        durable = trigger["type"] in {"orchestrationTrigger", "entityTrigger"}
        if durable and trigger["name"] != "context":
            problems.append(f"{name}: context_name must be 'context', not {trigger['name']!r}")
        if trigger["type"] == "timerTrigger" and not croniter.is_valid(
            trigger["schedule"], second_at_beginning=True
        ):
            problems.append(f"{name}: invalid CRON expression {trigger['schedule']!r}")
        problems.extend(_check_params(name, fn, bindings))
    return problems


def _check_params(name: str, fn: Any, bindings: list[dict[str, Any]]) -> list[str]:
    user = fn.get_user_function()
    target = (
        getattr(user, "client_function", None)
        or getattr(user, "orchestrator_function", None)
        or getattr(user, "entity_function", None)
        or user
    )
    params = set(inspect.signature(target).parameters)
    declared = {b["name"] for b in bindings if b["name"] != "$return"}
    problems = []
    if declared - params:
        problems.append(f"{name}: bindings without parameter {sorted(declared - params)}")
    if params - declared - {"context"}:
        problems.append(f"{name}: parameters without binding {sorted(params - declared)}")
    return problems
