"""devhost runs the SDK's replay like the extension: features, failures and bad input."""

from __future__ import annotations

import asyncio

import pytest

from devhost import history as h
from devhost.clock import VirtualClock
from devhost.host import DevHost, DevHostError
from tests.devhost import sample_app

START = 1_790_000_000.0
DAY = 86_400.0


@pytest.fixture
def host() -> DevHost:
    sample_app.ATTEMPTS.clear()
    return DevHost(sample_app.app, clock=VirtualClock(START), check_determinism=True)


def _shape(host: DevHost, instance_id: str) -> list[tuple[int, int]]:
    """(EventType, EventId or the id the event answers) for the scheduling/answer events."""
    keep = {4, 5, 6, 7, 8, 9, 10, 11, 14}
    out = []
    for e in host.instances[instance_id].history:
        if e["EventType"] in keep:
            ref = e.get("TaskScheduledId", e.get("TimerId", e["EventId"]))
            out.append((e["EventType"], ref))
    return out


async def test_fan_out_over_activities(host: DevHost) -> None:
    status = await host.run("fan_out", 10)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == sum(2 * i for i in range(10))
    assert host.counters.activity_calls == 10


async def test_sub_orchestrations_fan_out_and_report_to_parent(host: DevHost) -> None:
    status = await host.run("parent", {"children": 4, "per_child": 5})
    assert status["output"] == 4 * sum(2 * i for i in range(5))
    children = [i for i in host.instances.values() if i.parent is not None]
    assert len(children) == 4 and all(c.status == "Completed" for c in children)


async def test_retry_then_success_waits_the_retry_interval(host: DevHost) -> None:
    status = await host.run("with_retry", {"key": "a", "failures": 2})
    assert status["output"] == {"result": "ok after 3"}
    assert host.now() == START + 2 * 5  # two 5 s retry timers on the virtual clock


async def test_retry_exhaustion_uses_the_extension_sequence_ids(host: DevHost) -> None:
    iid = host.start("with_retry", {"key": "b", "failures": 99})
    status = await host.run_until_done(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["failed"].startswith(
        "Activity function 'flaky' failed: flaky failure 3"
    )
    # DTFx RetryInterceptor: attempt, failure, timer, fired ... and one extra timer at the end.
    assert _shape(host, iid) == [
        (4, 0), (6, 0), (10, 1), (11, 1),
        (4, 2), (6, 2), (10, 3), (11, 3),
        (4, 4), (6, 4), (10, 5), (11, 5),
    ]  # fmt: skip
    assert host.now() == START + 15


async def test_ten_day_timer_completes_on_the_virtual_clock_in_long_timer_pieces(
    host: DevHost,
) -> None:
    iid = host.start("sleeper", 10)
    status = await host.run_until_done(iid)
    assert status["output"] == 10 * DAY
    assert host.now() == START + 10 * DAY
    fired = [e["FireAt"] for e in host.instances[iid].history if e["EventType"] == 11]
    assert fired == [h.timestamp(START + d * DAY) for d in (3, 6, 10)]  # then <= 6 days left


async def test_continue_as_new_restarts_history(host: DevHost) -> None:
    iid = host.start("counter_loop", {"i": 0, "n": 4, "total": 0})
    status = await host.run_until_done(iid)
    assert status["output"] == sum(2 * i for i in range(4))
    assert status["input"] == {"i": 4, "n": 4, "total": 12}
    started = [e for e in host.instances[iid].history if e["EventType"] == 0]
    assert len(started) == 1  # only the last execution's history is kept


async def test_external_event_wins_over_timeout(host: DevHost) -> None:
    iid = host.start("approval")
    await host.run_until_idle(max_virtual_s=60)
    assert host.status(iid)["runtimeStatus"] == "Running"
    host.raise_event(iid, "Approved", {"by": "ops"})
    status = await host.run_until_done(iid)
    assert status["output"] == {"approved": {"by": "ops"}}


async def test_external_event_never_sent_times_out(host: DevHost) -> None:
    status = await host.run("approval")
    assert status["output"] == {"approved": None}
    assert host.now() == START + 2 * 3600


async def test_entity_signal_call_and_error(host: DevHost) -> None:
    iid = host.start("entity_user", "k1")
    status = await host.run_until_done(iid)
    # the signal (add 5) is delivered before the call (add 2): the call sees 7
    assert status["output"] == {"value": 7, "error": "counter exploded"}
    assert host.entity_state("@counter@k1") == 7
    sent = [e for e in host.instances[iid].history if e["EventType"] == 14]
    assert [e["Name"] for e in sent] == ["add", "add", "boom"]
    assert [e["EventId"] for e in sent] == [0, 1, 2]


async def test_failing_orchestrator_ends_failed_with_its_message(host: DevHost) -> None:
    status = await host.run("failing")
    assert status["runtimeStatus"] == "Failed"
    assert "the orchestrator gave up on purpose" in status["output"]
    # devhost carries on after a user failure
    assert (await host.run("fan_out", 2))["runtimeStatus"] == "Completed"


async def test_failing_sub_orchestration_surfaces_in_parent(host: DevHost) -> None:
    status = await host.run("parent", {"children": 2, "per_child": "not a number"})
    assert status["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'fan_out' failed" in status["output"]


def test_unknown_orchestrator_is_rejected(host: DevHost) -> None:
    with pytest.raises(DevHostError, match="unknown orchestrator 'nope'"):
        host.start("nope")


def test_malformed_start_payload_is_rejected(host: DevHost) -> None:
    with pytest.raises(DevHostError, match="not JSON-serializable"):
        host.start("fan_out", {1, 2, 3})


async def test_unknown_activity_fails_the_instance_not_the_host(host: DevHost) -> None:
    from tests.devhost import bad_app

    bad = DevHost(bad_app.app, clock=VirtualClock(START))
    status = await bad.run("calls_missing_activity")
    assert status["runtimeStatus"] == "Failed"
    assert "activity function 'missing' does not exist" in status["output"]


async def test_same_seed_same_run() -> None:
    async def one_run() -> list:
        sample_app.ATTEMPTS.clear()
        host = DevHost(sample_app.app, clock=VirtualClock(START), seed=3)
        iid = host.start("parent", {"children": 3, "per_child": 3})
        await host.run_until_done(iid)
        return [(i, inst.history) for i, inst in host.instances.items()]

    assert await one_run() == await one_run()


async def test_worst_case_one_event_per_episode_gives_same_result() -> None:
    host = DevHost(sample_app.app, clock=VirtualClock(START), one_event_per_episode=True)
    status = await host.run("fan_out", 20)
    assert status["output"] == sum(2 * i for i in range(20))
    assert host.counters.episodes >= 21


async def test_activities_waiting_on_a_lock_held_by_a_sleeper_do_not_stall_time() -> None:
    """A shared token refresh: one activity holds a lock while it sleeps on the virtual
    clock (the token call's simulated latency), the others wait for the lock."""
    clock = VirtualClock(START)
    sample_app.SHARED.clear()
    sample_app.SHARED["clock"] = clock
    host = DevHost(sample_app.app, clock=clock, check_determinism=True)
    # without peer-wait detection this stalls forever: fail in seconds instead
    status = await asyncio.wait_for(host.run("lock_fan_out", 4), timeout=30)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == [1, 1, 1, 1]  # one refresh, shared by all four
    assert host.now() == START + 3.0  # the refresh's latency, then everyone finishes
