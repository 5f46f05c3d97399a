"""The vertical slice's permit entity: at most ``LIMIT`` holders at once per key."""

from __future__ import annotations

import azure.durable_functions as df

bp = df.Blueprint()
NAME = "slice_permits"
LIMIT = 4


@bp.entity_trigger(context_name="context", entity_name=NAME)
def slice_permits(context: df.DurableEntityContext) -> None:
    state = context.get_state(lambda: {"holders": [], "granted": 0, "denied": 0})
    holder = (context.get_input() or {}).get("holder")
    if context.operation_name == "acquire":
        granted = holder in state["holders"] or len(state["holders"]) < LIMIT
        if granted and holder not in state["holders"]:
            state["holders"].append(holder)
        state["granted" if granted else "denied"] += 1
        context.set_result({"granted": granted})
    elif context.operation_name == "release":
        state["holders"] = [h for h in state["holders"] if h != holder]
    else:
        raise ValueError(f"unknown operation {context.operation_name!r}")
    context.set_state(state)
