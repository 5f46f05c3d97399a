"""The ambassador entity through the SDK's own ``Entity.handle``, fed the extension's batch
JSON (DURABLE_NOTES §1.6): operations keep the entity thin, and a bad operation fails
alone, with a clear message, leaving the state as the good operations left it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from devhost.indexing import index_app
from entities import ambassador
from shared.ambassador.protocol import AcquireAnswer, AcquireRequest, entity_key
from tests.ambassador import permit_app

NOW = "2026-09-21T14:13:20+00:00"
KEY = entity_key("shopify", "shop-1")


def acquire(request_id: str, **changes: Any) -> dict[str, Any]:
    fields = {
        "caller": "block-1",
        "request_id": request_id,
        "route": "rest",
        "client": "c1",
        "tier": "daily",
        "resource": "orders",
        "want": 5,
        "now": NOW,
    }
    return AcquireRequest.model_validate(fields | changes).model_dump(mode="json") | changes


def run(batch: list[tuple[str, Any]], state: str | None = None) -> dict[str, Any]:
    """One entity batch as the extension sends it: each input is the JSON text of the
    orchestrator's JSON text (double-encoded)."""
    handle = index_app(permit_app.build_app()).entities["ambassador"]
    payload = {
        "self": {"name": "ambassador", "key": KEY},
        "exists": state is not None,
        "state": state,
        "batch": [
            {"name": name, "input": json.dumps(json.dumps(value)), "isSignal": False}
            for name, value in batch
        ],
    }
    return json.loads(handle(json.dumps(payload)))


def message(result: dict[str, Any]) -> str:
    assert result["isError"], result
    return json.loads(result["result"]) if result["result"].startswith('"') else result["result"]


def test_an_acquire_answers_with_permits_and_the_state_holds_only_demand() -> None:
    reply = run([("acquire", acquire("r1"))])
    (result,) = reply["results"]
    assert not result["isError"]
    answer = AcquireAnswer.model_validate(json.loads(result["result"]))
    assert answer.granted == 5 and answer.lane == "rest"
    state = json.loads(reply["entityState"])
    assert set(state) == {"v", "clock", "lanes", "flow_fields", "flows", "demo"}
    assert list(json.loads(state["flows"])) == ["rest@block-1"]


def test_a_bad_operation_fails_alone_with_a_clear_message_and_leaves_the_state() -> None:
    good = [("acquire", acquire("r1")), ("acquire", acquire("r2", caller="block-2"))]
    expected = run(good)
    bad = [
        ("acquire", {**acquire("x1"), "want": 0}),  # fails validation
        ("acquire", {**acquire("x2"), "now": "2026-09-21T14:13:20"}),  # naive time
        ("observe", {"caller": "b", "request_id": "o1", "route": "soap", "now": NOW}),
        ("explode", {}),
    ]
    reply = run([good[0], *bad, good[1]])
    results = reply["results"]
    assert [r["isError"] for r in results] == [False, True, True, True, True, False]
    assert "want" in message(results[1]) and "greater than or equal to 1" in message(results[1])
    assert "now" in message(results[2]) and "timezone" in message(results[2])
    assert "unknown route 'soap'" in message(results[3])
    assert "unknown ambassador operation 'explode'" in message(results[4])
    assert reply["entityState"] == expected["entityState"]  # as if the bad ones never came
    for ours, theirs in zip(results[::5], expected["results"], strict=True):
        assert ours["result"] == theirs["result"]


def test_a_kept_scheduler_answers_as_one_rebuilt_from_the_stored_state() -> None:
    """The entity keeps its scheduler between operations and batches: a batch answers
    and stores exactly what the same operations do one per batch, each rebuilt from the
    stored text — also after an operation that failed halfway (an observation on an
    unknown route, dated later, that had moved the scheduler's clock before failing)."""
    later = "2026-09-21T14:15:00+00:00"
    ops = [
        ("acquire", acquire("r1", want=30)),
        ("acquire", acquire("r2", caller="block-2", want=30)),
        ("observe", {"caller": "b", "request_id": "o1", "route": "soap", "now": later}),
        ("acquire", acquire("r3", caller="block-3", want=5)),
        ("release", {**_release("block-1", "r1"), "now": NOW}),
        ("acquire", acquire("r4", caller="block-1", want=5)),
    ]
    together = run(ops)
    state, results = None, []
    for op in ops:
        ambassador._KEPT.kept.clear()  # nothing kept: rebuilt from the stored text
        reply = run([op], state)
        state = reply["entityState"]
        results += reply["results"]
    assert [r["isError"] for r in together["results"]] == [False, False, True, False, False, False]
    assert [r["result"] for r in together["results"]] == [r["result"] for r in results]
    assert together["entityState"] == state
    third = AcquireAnswer.model_validate(json.loads(together["results"][3]["result"]))
    assert third.granted and third.times[0] < datetime.fromisoformat(later)  # not moved on


def _release(caller: str, grant_id: str) -> dict[str, Any]:
    return {
        "caller": caller,
        "request_id": f"x-{grant_id}",
        "route": "rest",
        "grant_id": grant_id,
        "unused": 10,
    }
