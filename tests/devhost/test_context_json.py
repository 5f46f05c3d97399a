"""devhost's orchestration request: the incremental one is the full encoding's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devhost import history as h
from devhost.clock import VirtualClock
from devhost.host import DevHost, Instance
from tests.devhost import sample_app

START = 1_790_000_000.0


def full_encoding(host: DevHost, inst: Instance, new_events: list[dict[str, Any]]) -> str:
    """The body as the whole history encoded at once (what the extension sends)."""
    past = [{**e, "IsPlayed": True} for e in inst.history]
    return json.dumps(
        {
            "history": [*past, h.orchestrator_started(host.now()), *new_events],
            "input": inst.input_text,
            "instanceId": inst.instance_id,
            "parentInstanceId": inst.parent[0] if inst.parent else None,
            "isReplaying": bool(past),
            "upperSchemaVersion": 2,
            "upperSchemaVersionNew": 3,
            "maximumShortTimerDuration": host.max_short_timer,
            "longRunningTimerIntervalDuration": host.long_timer_interval,
        }
    )


class ComparingHost(DevHost):
    """Checks every episode's request against the full encoding, byte for byte: the
    request devhost hands the SDK, encoded, is the body the extension would send (so it
    is what ``from_json`` would decode from that body)."""

    bodies = 0

    def _context(self, inst: Instance, new_events: list[dict[str, Any]]) -> dict[str, Any]:
        request = super()._context(inst, new_events)
        body = full_encoding(self, inst, new_events)
        assert json.dumps(request) == body
        assert json.dumps(json.loads(body)) == body  # the decoded body encodes back the same
        self.bodies += 1
        return request


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("counter_loop", {"i": 0, "n": 4, "total": 0}),  # continue-as-new restarts history
        ("parent", {"children": 3, "per_child": 3}),  # sub-orchestrations
        ("fan_out", 12),
    ],
)
async def test_every_episode_sends_exactly_the_full_history(name: str, value: Any) -> None:
    sample_app.ATTEMPTS.clear()
    host = ComparingHost(sample_app.app, clock=VirtualClock(START), one_event_per_episode=True)
    status = await host.run(name, value)
    assert status["runtimeStatus"] == "Completed"
    assert host.bodies == host.counters.episodes > 3
