"""Tell client support that a resource's run did not load everything, exactly once.

Two conditions reach it from ``sync_client``, both of which used to end a run quietly:

- ``failed``: the resource's orchestration itself failed (its planning failed after all
  retries, or its code raised) — nothing after the failure was loaded;
- ``incomplete``: the orchestration ended, but some of its blocks neither finished nor
  were parked (a block orchestration crashed) — their windows are not stored.

The alert's dedupe key is (kind, platform, account, resource, run id), so a retried
activity or a replayed orchestration mails once per run, and the next run of the same
resource (the daily sync, which picks up the blocks not done) alerts again if it fails
again. The reason is cut and redacted (``shared.alerts``); it never carries a secret.
"""

from __future__ import annotations

from typing import Literal

import azure.durable_functions as df
from pydantic import AwareDatetime

from shared.flows.models import ResourceRun, _Model
from shared.settings import get_settings
from shared.storage.keys import join_key
from shared.storage.ledger import Alert, Ledger

bp = df.Blueprint()
NAME = "alert_resource"
REASON_CHARS = 900


class ResourceAlertInput(_Model):
    run: ResourceRun
    kind: Literal["failed", "incomplete"]
    reason: str
    now: AwareDatetime


def resource_alert(task: ResourceAlertInput) -> Alert:
    """The alert for ``task`` (pure)."""
    run = task.run
    key = f"resource-{task.kind}|" + join_key(run.platform, run.account, run.resource, run.run_id)
    what = {
        "failed": "stopped: its run failed",
        "incomplete": "did not load all its blocks",
    }[task.kind]
    return Alert(
        client=run.client,
        dedupe_key=key,
        kind=f"resource_{task.kind}",
        subject=f"{run.platform} {run.resource} of {run.client} {what}",
        body=(
            f"The {run.tier} run {run.run_id} of {run.resource} for account {run.account!r} "
            f"{what}. Records of the windows not loaded are missing until the next run "
            f"loads them. Reason: {task.reason[:REASON_CHARS]}"
        ),
        platform=run.platform,
        account=run.account,
        created_at=task.now,
    )


@bp.activity_trigger(input_name="payload", activity=NAME)
async def alert_resource(payload: dict) -> dict:
    task = ResourceAlertInput.model_validate(payload)
    settings = get_settings()
    from shared.alerts import deliver  # imported on use: SMTP is only needed here

    alert = resource_alert(task)
    sent = await deliver(Ledger(settings), settings, alert)
    return {"alerted": sent, "dedupe_key": alert.dedupe_key}
