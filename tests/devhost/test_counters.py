"""devhost's counters: where replay goes, per orchestrator name."""

from __future__ import annotations

from devhost.clock import VirtualClock
from devhost.host import DevHost
from tests.devhost import sample_app


async def test_replay_is_counted_per_orchestrator_with_what_it_scheduled() -> None:
    host = DevHost(sample_app.app, clock=VirtualClock(0.0), one_event_per_episode=True)
    status = await host.run("parent", {"children": 3, "per_child": 4})
    assert status["output"] == 3 * sum(2 * i for i in range(4))
    rows = host.counters.as_dict()["by_orchestration"]
    assert set(rows) == {"parent", "fan_out"}
    assert rows["parent"]["sub_orchestrations"] == 3 and rows["parent"]["executions"] == 1
    assert rows["fan_out"]["activities"] == 12 and rows["fan_out"]["executions"] == 3
    # one event per episode: start + 4 completions per child, start + 3 for the parent
    assert rows["fan_out"]["episodes"] == 3 * 5 and rows["parent"]["episodes"] == 4
    assert sum(r["episodes"] for r in rows.values()) == host.counters.episodes
    assert sum(r["events"] for r in rows.values()) == host.counters.history_events_replayed
    # a child's longest episode is its last: the whole history but the closing delimiter
    child = next(i for i in host.instances.values() if i.name == "fan_out")
    assert rows["fan_out"]["longest"] == len(child.history) - 1
