"""What the app held when driving stopped: each entity's state and every unfinished
orchestration's custom status and last history events.

Written beside the report as ``<stem>.state.json``: when a run is cut, or a client ends
late, this is what says why (which flows an ambassador still counts, what each
unfinished block was last waiting on). Entity states are the ambassadors' own JSON;
orchestration inputs are left out (they name blocks, and the custom status already
does), and event inputs and results are never copied, so nothing a connector passed
along can leak into the file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from devhost.history import EventType

TAIL_EVENTS = 4  # the last few history events of an unfinished instance


def capture(host: Any, started_at: float, stopped_at: float) -> dict[str, Any]:
    """The entities' states and the unfinished instances of ``host`` (a devhost
    ``DevHost``) when driving stopped at ``stopped_at`` (nothing is due between the
    host's clock and then), times in virtual seconds since ``started_at``."""
    entities = {
        entity_id: host.entity_state(entity_id)
        for entity_id, record in sorted(host.entities.items())
        if record.exists
    }
    unfinished = [
        _instance(inst, started_at)
        for inst in sorted(host.instances.values(), key=lambda i: i.instance_id)
        if not inst.done
    ]
    return {
        "at_virtual_s": round(stopped_at - started_at, 1),
        "entities": entities,
        "unfinished_by_name": dict(Counter(i["name"] for i in unfinished)),
        "unfinished": unfinished,
    }


def _instance(inst: Any, started_at: float) -> dict[str, Any]:
    return {
        "id": inst.instance_id,
        "name": inst.name,
        "status": inst.status,
        "custom_status": inst.custom_status,
        "last_updated_s": round(inst.last_updated - started_at, 1),
        "last_events": [_event(e) for e in inst.history[-TAIL_EVENTS:]],
    }


def _event(event: dict[str, Any]) -> dict[str, Any]:
    kind = EventType(event["EventType"])
    out: dict[str, Any] = {"type": kind.name.lower()}
    for key in ("Timestamp", "Name", "FireAt", "InstanceId", "TaskScheduledId", "TimerId"):
        if event.get(key) is not None:
            out[key[0].lower() + key[1:]] = event[key]
    return out
