"""A kept scheduler (its per-lane caches carried from operation to operation) decides as
one rebuilt from the stored state before every operation.

The entity keeps its scheduler between operations (``entities.ambassador._Kept``), and
the scheduler keeps, per lane, its flows with their classes, the daily syncs' flows and
the earliest expiry of any flow; each sliding window keeps its running sums. Every kind
of operation that changes them (a new flow, a flow changing class, completing, giving
permits back, readings and 429s, flows expiring as time passes) is drawn here, and after
each the kept scheduler's answer and state must equal a fresh scheduler's.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ambassador.demand import Flow
from shared.ambassador.limits import US, format_time
from shared.ambassador.policies import PlatformPolicy
from shared.ambassador.protocol import (
    AcquireRequest,
    CompleteRequest,
    ObserveRequest,
    Reading,
    ReleaseRequest,
)
from shared.ambassador.scheduler import Scheduler
from shared.ambassador.view import LaneView, static_rows

T0 = format_time(1_790_000_000 * US)  # 2026-09-21T14:13:20Z
BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

OP = st.tuples(
    st.sampled_from(["acquire", "acquire", "acquire", "complete", "release", "observe", "429"]),
    st.integers(min_value=0, max_value=5),  # caller
    st.integers(min_value=0, max_value=2),  # client
    st.sampled_from(["daily", "backfill", "backfill", "demo"]),
    st.sampled_from(["orders", "order_items", "transactions", "payouts"]),
    st.integers(min_value=1, max_value=12),  # want / unused
    st.sampled_from([0, 0, 50, 900, 4_000, 40_000, 200_000]),  # ms the clock moves first
)


def _request(op: tuple, now, step: int, last: dict[str, str]):
    kind, caller, client, tier, resource, want, _ = op
    who = f"block-{caller}"
    if kind == "acquire":
        last[who] = f"a{step}"
        return "acquire", AcquireRequest(
            caller=who,
            request_id=f"a{step}",
            route="api",
            client=f"c{client}",
            tier=tier,
            resource=resource,
            want=want,
            now=now,
        )
    if kind == "complete":
        return "complete", CompleteRequest(caller=who, route="api", now=now)
    if kind == "release":
        grant = last.get(who, "none")
        return "release", ReleaseRequest(
            caller=who, request_id=f"x{step}", route="api", grant_id=grant, unused=want, now=now
        )
    reading = Reading(limit="qpd", remaining=max(0, 300 - 40 * want))
    return "observe", ObserveRequest(
        caller=who,
        request_id=f"o{step}",
        route="api",
        now=now,
        request_at=now - timedelta(milliseconds=300),
        throttled=kind == "429",
        retry_after_s=1.0 if kind == "429" else None,
        readings=[reading],
    )


def _caches_agree(scheduler: Scheduler) -> None:
    for lane, rows in scheduler._rows.items():
        assert rows == static_rows(scheduler._on(lane)), lane
    for lane, groups in scheduler._groups.items():
        assert sorted(
            (t, c, id(row[0]))
            for t, by_client in groups.items()
            for c, rs in by_client.items()
            for row in rs
        ) == sorted((row[1], row[0].client, id(row[0])) for row in static_rows(scheduler._on(lane)))
    if scheduler._daily is not None:
        assert scheduler._daily == [f for f in scheduler.flows.values() if f.tier == "daily"]
    assert all(f.expires >= scheduler._expiry_floor for f in scheduler.flows.values())


@BOUNDED
@given(st.lists(OP, min_size=1, max_size=45))
def test_a_kept_scheduler_answers_as_one_rebuilt_from_its_state_before_every_operation(
    ops: list[tuple],
) -> None:
    policy = PlatformPolicy.from_settings("etsy", {"qpd": 300})
    kept = Scheduler(policy)
    state = json.loads(json.dumps(kept.to_state()))
    now, last = T0, {}
    for step, op in enumerate(ops):
        now += timedelta(milliseconds=op[-1])
        method, request = _request(op, now, step, last)
        fresh = Scheduler(policy, state)
        expected = getattr(fresh, method)(request)
        assert getattr(kept, method)(request) == expected, (step, op)
        state = json.loads(json.dumps(fresh.to_state()))
        assert json.loads(json.dumps(kept.to_state())) == state, (step, op)
        _caches_agree(kept)


ROW = st.tuples(
    st.integers(min_value=0, max_value=3),  # client
    st.sampled_from(["daily", "backfill"]),
    st.sampled_from(["orders", "order_items", "transactions", "payouts"]),
    st.integers(min_value=0, max_value=3),  # unmet
    st.integers(min_value=-90, max_value=90),  # retry_at, s from now
    st.integers(min_value=-30, max_value=300),  # expires, s from now
)


@BOUNDED
@given(st.lists(ROW, max_size=30), ROW)
def test_the_quota_peers_clients_are_the_clients_of_the_quota_peers(
    rows: list[tuple], asker: tuple
) -> None:
    """``LaneView.peer_clients`` (a quota lane's decision) lists the clients of
    ``LaneView.peers`` on a quota lane, each once, in the order of its first peer."""
    now = 1_790_000_000 * US

    def flow(i: int, row: tuple) -> Flow:
        client, tier, resource, unmet, retry_s, expires_s = row
        return Flow(
            f"b{i}",
            "api",
            f"c{client}",
            tier,
            resource,
            backlog=1,
            unmet=unmet,
            retry_at=now + retry_s * US,
            expires=now + expires_s * US,
        )

    me = flow(-1, asker)
    view = LaneView(static_rows([flow(i, r) for i, r in enumerate(rows)] + [me]), me, now, 60 * US)
    peers = view.peers(view.live, True, now + 20 * US)
    assert view.peer_clients(view.live) == list(dict.fromkeys(r[0].client for r in peers))
