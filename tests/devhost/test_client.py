"""HTTP and timer triggers with the real DurableOrchestrationClient routed in-process."""

from __future__ import annotations

import json

import pytest

from devhost.clock import VirtualClock
from devhost.host import DevHost
from tests.devhost import sample_app


@pytest.fixture
def host() -> DevHost:
    return DevHost(sample_app.app, clock=VirtualClock(1_790_000_000), check_determinism=True)


async def test_start_answers_202_with_status_urls_and_runs(host: DevHost) -> None:
    response = await host.http("POST", "/api/start/fan_out?id=job-1", body=4)
    assert response.status_code == 202
    links = json.loads(response.get_body())
    assert links["id"] == "job-1"
    assert response.headers["Location"] == links["statusQueryGetUri"]
    assert "/instances/job-1" in links["statusQueryGetUri"]
    await host.run_until_done("job-1")
    status = await host.http("GET", "/api/status/job-1")
    assert json.loads(status.get_body()) == {"runtimeStatus": "Completed", "output": 12}


async def test_get_status_of_unknown_instance(host: DevHost) -> None:
    status = await host.http("GET", "/api/status/nobody")
    assert json.loads(status.get_body()) == {"runtimeStatus": None}


async def test_raise_event_through_the_client(host: DevHost) -> None:
    await host.http("POST", "/api/start/approval?id=ap-1", body=None)
    await host.run_until_idle(max_virtual_s=10)
    response = await host.http("POST", "/api/events/ap-1/Approved")
    assert response.status_code == 202
    status = await host.run_until_done("ap-1")
    assert status["output"] == {"approved": "yes"}


async def test_signal_and_read_entity_through_the_client(host: DevHost) -> None:
    missing = await host.http("GET", "/api/counter/k9")
    assert json.loads(missing.get_body()) == {"exists": False, "state": None}
    await host.http("POST", "/api/counter/k9?by=3")
    await host.http("POST", "/api/counter/k9?by=4")
    await host.run_until_idle()
    state = await host.http("GET", "/api/counter/k9")
    assert json.loads(state.get_body()) == {"exists": True, "state": 7}


async def test_starting_an_unknown_orchestrator_is_a_client_error(host: DevHost) -> None:
    response = await host.http("POST", "/api/start/no_such_thing", body=1)
    assert response.status_code == 500
    assert "unknown orchestrator 'no_such_thing'" in json.loads(response.get_body())["error"]


async def test_function_key_is_required_for_function_level_routes() -> None:
    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="hello", methods=["GET"])
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("hi")

    host = DevHost(app)
    assert (await host.http("GET", "/api/hello", key=None)).status_code == 401
    assert (await host.http("GET", "/api/hello", key="wrong")).status_code == 401
    assert (await host.http("GET", "/api/hello")).status_code == 200


async def test_unknown_route_and_wrong_method(host: DevHost) -> None:
    assert (await host.http("GET", "/api/nowhere")).status_code == 404
    assert (await host.http("DELETE", "/api/status/x")).status_code == 405


async def test_handler_exception_is_a_500_not_a_devhost_crash(host: DevHost) -> None:
    response = await host.http("GET", "/api/crash")
    assert response.status_code == 500
    assert "handler bug" in json.loads(response.get_body())["error"]


async def test_timer_trigger_starts_work(host: DevHost) -> None:
    sample_app.TICKS.clear()
    await host.timer("nightly")
    status = await host.run_until_done("nightly-1")
    assert status["output"] == 6
    assert sample_app.TICKS == [False]
