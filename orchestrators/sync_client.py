"""One run for one client: every resource of every given account, side by side.

Onboarding (tier ``backfill``, one connection), the daily sync (tier ``daily``, every
connection of the client) and demo runs (tier ``demo``, orders only, then a preview)
are all this orchestration with different input (``SyncRequest``). Each (account,
resource) is a ``sync_resource`` sub-orchestration; the run plans its newest window
``SETTLE`` before its start (Amazon's two-minute rule; records that young are not
final).

The run waits for every resource, whatever happens to the others. A resource whose
orchestration failed (planning failed after its retries, a bug) or ended with blocks
in no final state (a block orchestration crashed) is alerted to client support once
per run (``alert_resource``) and listed under ``failed``; the run's phase ends
``failed``. The next run picks up what was not loaded: the ledger keeps progress.

Custom status: ``{"phase", "tier", "resources_total", "resources_done",
"resources_failed"}``, counts updated as each resource ends; output: the per-resource
summaries (None for a failed one), ``failed`` when any (platform, account, resource,
kind, reason), and ``preview`` for a demo whose resources all loaded.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities import alert_resource, demo_preview
from activities.alert_resource import REASON_CHARS, ResourceAlertInput
from orchestrators import sync_resource
from shared.flows.chains import SETTLE, resources_of
from shared.flows.models import PreviewInput, ResourceRun, SyncRequest

bp = df.Blueprint()
NAME = "sync_client"
ALERT_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=5)


@bp.orchestration_trigger(context_name="context", orchestration=NAME)
def sync_client(context: df.DurableOrchestrationContext):
    request = SyncRequest.model_validate(context.get_input())
    now = request.now or context.current_utc_datetime - SETTLE
    runs, tasks = [], []
    for connection in request.connections:
        for resource in resources_of(connection.platform):
            if request.resources is not None and resource not in request.resources:
                continue
            run = ResourceRun(
                client=request.client,
                platform=connection.platform,
                account=connection.account,
                resource=resource,
                tier=request.tier,
                run_id=request.run_id,
                now=now,
                history_start=connection.history_start,
            )
            child = f"{context.instance_id}|{connection.platform}|{connection.account}|{resource}"
            runs.append(run)
            tasks.append(
                context.call_sub_orchestrator(
                    sync_resource.NAME, {"run": run.model_dump(mode="json")}, child
                )
            )
    status = {"phase": "loading", "tier": request.tier, "resources_total": len(tasks)}
    context.set_custom_status({**status, "resources_done": 0, "resources_failed": 0})
    results, failures = yield from _await_all(context, runs, tasks, status)
    output = {"client": request.client, "tier": request.tier, "resources": results}
    if failures:
        output["failed"] = [_named(f) for f in failures]
    if request.tier == "demo" and not failures:
        context.set_custom_status({**status, "phase": "preview", "resources_done": len(results)})
        preview = PreviewInput(client=request.client, connections=request.connections)
        output["preview"] = yield context.call_activity(
            demo_preview.NAME, preview.model_dump(mode="json")
        )
    phase = "failed" if failures else "done"
    done = len(results) - len(failures)
    context.set_custom_status(
        {**status, "phase": phase, "resources_done": done, "resources_failed": len(failures)}
    )
    return output


def _await_all(context, runs: list[ResourceRun], tasks: list, status: dict):
    """Generator: every resource's summary (None where its orchestration failed), in
    the order started, and the failures. Waits for all, one ending at a time (a crash
    in one does not stop watching the others), alerts each failure as soon as it is
    seen, and keeps the status's counts."""
    results: list = [None] * len(tasks)
    failures: list[ResourceAlertInput] = []
    pending = list(tasks)
    while pending:
        ended = yield context.task_any(pending)  # a crashed child ends it too, no raise
        pending.remove(ended)
        index = next(i for i, task in enumerate(tasks) if task is ended)
        run, outcome = runs[index], ended.result
        failure = None
        if isinstance(outcome, Exception):
            failure = _failure(context, run, "failed", str(outcome))
        else:
            results[index] = outcome
            missing = _not_loaded(outcome)
            if missing:
                reason = f"{missing} of {outcome['blocks_total']} blocks ended in no final state"
                failure = _failure(context, run, "incomplete", reason)
        if failure is not None:
            failures.append(failure)
            yield from _alert(context, failure)
        done = len(tasks) - len(pending)
        context.set_custom_status(
            {**status, "resources_done": done - len(failures), "resources_failed": len(failures)}
        )
    return results, failures


def _alert(context, failure: ResourceAlertInput):
    """Generator: the failure alerted (retried; a mail server down for all attempts
    leaves the alert's ledger row unsent and does not fail the run)."""
    try:
        yield context.call_activity_with_retry(
            alert_resource.NAME, ALERT_RETRY, failure.model_dump(mode="json")
        )
    except Exception:  # the row stays unsent; the run's output lists it
        return


def _not_loaded(summary: dict) -> int:
    """Blocks of a finished resource that are neither done, parked nor capped: their
    block orchestrations crashed (``sync_resource`` counts them as not done)."""
    accounted = summary.get("blocks_done", 0) + summary.get("parked", 0)
    return max(0, summary.get("blocks_total", 0) - accounted - summary.get("capped", 0))


def _failure(context, run: ResourceRun, kind: str, reason: str) -> ResourceAlertInput:
    now = context.current_utc_datetime
    return ResourceAlertInput(run=run, kind=kind, reason=reason[:REASON_CHARS], now=now)


def _named(failure: ResourceAlertInput) -> dict:
    run = failure.run
    return {
        "platform": run.platform,
        "account": run.account,
        "resource": run.resource,
        "kind": failure.kind,
        "reason": failure.reason,
    }
