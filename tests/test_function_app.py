"""Indexing: every function in function_app is what the worker and host would accept."""

from __future__ import annotations

import inspect
import json

import azure.durable_functions as df
import azure.functions as func
import pytest
from croniter import croniter

import function_app
from devhost.indexing import TRIGGER_TYPES, check_app, get_functions, index_app


@pytest.fixture(scope="module")
def functions() -> list:
    return get_functions(function_app.app)


def test_the_app_has_no_indexing_problems() -> None:
    assert check_app(function_app.app) == []


def test_every_function_has_exactly_one_trigger(functions: list) -> None:
    for fn in functions:
        kinds = [json.loads(b)["type"] for b in fn.get_raw_bindings()]
        assert sum(k in TRIGGER_TYPES for k in kinds) == 1, fn.get_function_name()


def test_function_names_are_unique(functions: list) -> None:
    names = [fn.get_function_name() for fn in functions]
    assert len(names) == len(set(names))


def test_parameters_match_bindings(functions: list) -> None:
    for fn in functions:
        bindings = {json.loads(b)["name"] for b in fn.get_raw_bindings()} - {"$return"}
        user = fn.get_user_function()
        target = next(
            (
                getattr(user, attr)
                for attr in ("client_function", "orchestrator_function", "entity_function")
                if hasattr(user, attr)
            ),
            user,  # activities and plain triggers: the user's function itself
        )
        params = set(inspect.signature(inspect.unwrap(target)).parameters)
        assert params == bindings, fn.get_function_name()


def test_durable_triggers_use_context_as_their_name(functions: list) -> None:
    for fn in functions:
        for raw in fn.get_raw_bindings():
            binding = json.loads(raw)
            if binding["type"] in ("orchestrationTrigger", "entityTrigger"):
                assert binding["name"] == "context", fn.get_function_name()


def test_cron_expressions_are_valid(functions: list) -> None:
    for fn in functions:
        for raw in fn.get_raw_bindings():
            binding = json.loads(raw)
            if binding["type"] == "timerTrigger":
                assert croniter.is_valid(binding["schedule"], second_at_beginning=True)


def test_http_triggers_require_a_function_key() -> None:
    index = index_app(function_app.app)
    assert index.http, "the app serves HTTP"
    assert all(route.auth_level == "function" for route in index.http)


def test_the_checker_catches_a_broken_app() -> None:
    broken = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

    @broken.orchestration_trigger(context_name="ctx")
    def orch(ctx):
        yield ctx.call_activity("x", 1)

    @broken.timer_trigger(schedule="every day at noon", arg_name="timer")
    def tick(timer: func.TimerRequest) -> None:
        return None

    problems = check_app(broken)
    assert any("context_name must be 'context'" in p for p in problems)
    assert any("invalid CRON expression" in p for p in problems)
    assert not croniter.is_valid("every day at noon")
