"""Make one request of a block's chain and store what it brought; return a summary.

The page payload never enters orchestration history: a data page (a ``page`` or
``bulk_download`` step of the block's own resource) goes to Blob storage as the raw
page ``page`` of the block, and its normalized records to Table storage, here. What
comes back is the classified outcome, the next request, the limit-header feedback and
counts. A driver page (another resource leading to the block's pages, see
``shared.flows.chains``) is not stored; its dependent chain is returned. Credentials are
resolved here from the ledger; nothing here sleeps.

Page metadata in Blob (strings): ``step``, ``format`` (json/text), ``has_next``,
``records``, ``reported`` (the API's count, "" if none), ``status``, ``route``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import azure.durable_functions as df

from shared.ambassador.headers import feedback
from shared.errors import ConfigurationError, MalformedPayloadError
from shared.flows.connections import connector_for
from shared.flows.models import FetchInput, FetchSummary
from shared.normalize import normalize
from shared.platforms.base import Outcome
from shared.settings import get_settings
from shared.storage.raw_pages import RawPageStore
from shared.storage.records import RecordStore

bp = df.Blueprint()
NAME = "fetch_page"
DATA_STEPS = frozenset({"page", "bulk_download"})


def _feedback(platform: str, result: Any) -> dict[str, Any]:
    c = result.classified
    body = result.payload if isinstance(result.payload, dict) else None
    out = feedback(platform, c.status, c.limit_headers, body)
    if c.outcome is Outcome.THROTTLED:
        out["throttled"] = True
        if out.get("retry_after_s") is None:
            out["retry_after_s"] = c.retry_after_s
    out["readings"] = [r.model_dump(mode="json") for r in out.get("readings", [])]
    return out


@bp.activity_trigger(input_name="payload", activity=NAME)
async def fetch_page(payload: dict) -> dict:
    task = FetchInput.model_validate(payload)
    spec, request, settings = task.spec, task.request, get_settings()
    try:
        connector = await connector_for(settings, spec.client, spec.platform, spec.account)
    except ConfigurationError as exc:
        return FetchSummary(outcome=Outcome.PERMANENT, status=0, reason=str(exc)).model_dump(
            mode="json"
        )
    result = await connector.fetch(request)
    c = result.classified
    summary: dict[str, Any] = {
        "outcome": c.outcome,
        "status": c.status,
        "reason": c.reason,
        "retry_after_s": c.retry_after_s,
        "feedback": _feedback(spec.platform, result),
        "actual_cost": result.actual_cost,
        "reported_count": result.reported_count,
    }
    if c.outcome is not Outcome.OK:
        return FetchSummary(**summary).model_dump(mode="json")
    summary["next"] = result.next
    own = request.resource == spec.resource
    if not own:
        dependent = getattr(connector, "dependent_request", None)
        summary["dependent"] = dependent(result) if dependent is not None else None
    data = own and request.step in DATA_STEPS and result.payload is not None
    ends = result.next is None and summary.get("dependent") is None
    if data or (task.last_in_chain and ends):
        try:
            count = await _store(settings, task, result, empty=not data)
        except MalformedPayloadError as exc:
            summary.update(outcome=Outcome.PERMANENT, reason=str(exc), next=None)
            return FetchSummary(**summary).model_dump(mode="json")
        summary.update(stored_page=task.page, records=count)
    return FetchSummary(**summary).model_dump(mode="json")


async def _store(settings, task: FetchInput, result: Any, *, empty: bool = False) -> int:
    """Store the page (or, ``empty``, the marker of a chain that ended without data:
    an empty window still leaves one page) and its records; the record count."""
    spec, request = task.spec, task.request
    text = isinstance(result.payload, str)
    payload = {"empty": True, "route": request.route, "step": request.step}
    records = []
    if not empty:
        payload = result.payload
        records = normalize(
            spec.platform,
            spec.resource,
            result.payload,
            account=spec.account,
            scope=str(request.state.get("scope", "")),
        )
    following = result.next.model_dump_json() if result.next is not None else ""
    metadata = {
        "step": request.step,
        "format": "empty" if empty else "text" if text else "json",
        "cursor": hashlib.sha256(following.encode()).hexdigest()[:24] if following else "",
        "has_next": "1" if result.next is not None else "0",
        "records": str(len(records)),
        "reported": "" if result.reported_count is None else str(result.reported_count),
        "status": str(result.classified.status),
        "route": request.route,
        "scope": str(request.state.get("scope", "")),
    }
    await RawPageStore(settings).put(
        spec.client,
        spec.platform,
        spec.account,
        spec.resource,
        spec.block_id,
        task.page,
        payload,
        metadata=metadata,
    )
    await RecordStore(settings).upsert(spec.client, records)
    return len(records)
