"""Bulk Operations: run a window's query, poll the job, download its JSONL (S-BULK).

The chain, each step one request on route ``bulk`` (the ambassador's GraphQL lane):

``bulk_create``
    ``bulkOperationRunQuery(query: …)`` (a mutation: 10 points). A returns block first
    polls ``currentBulkOperation`` (the shop's most recent bulk query, whatever its
    status) instead: the orders or items block of its window has usually run the same
    query already, and its file (the index of the refunds) is read again rather than
    made again (``bulk_first(adopt=True)``; the file is a snapshot of when that job
    started, as it is for the orders and items read from it). The answer's
    ``bulkOperation.id`` goes into ``state["job_id"]`` of every later step, so a block
    retried after a crash resumes polling the same job instead of starting a new one.
    ``userErrors`` saying a bulk query is already in progress (code
    ``OPERATION_IN_PROGRESS``: before 2026-01 a shop runs one bulk query at a time, from
    2026-01 five, and a 2026-04 shop answers the sixth with that code too) lead to
    polling ``currentBulkOperation`` instead.
``bulk_poll``
    ``node(id: $id) { ... on BulkOperation }`` — or ``currentBulkOperation`` while the
    job id is unknown (``state["current"]``). A running job is polled again after
    ``not_before_s`` (1, 2, 4 … 30 s). ``COMPLETED`` leads to the download. ``FAILED``,
    ``CANCELED``, ``EXPIRED`` or an unknown id start a new job, at most
    ``MAX_RESTARTS`` times, then the chain is refused (permanent). The current operation
    is adopted only if its ``query`` is this window's query text; another block's job
    (a different query) is waited out, then ours is created.
``bulk_download``
    looks the job up again (``node``, 1 point) for its ``url`` — signed URLs are not kept
    in requests or histories and they expire (7 days) — then GETs the JSONL without the
    access token (the file is on Shopify's storage host). A file that is gone (400, 403,
    404, 410: an expired URL, as a job resumed or adopted days later finds) starts a new
    job (``file_gone``, bounded by ``MAX_RESTARTS``). A completed job without a
    ``url`` found nothing: the payload is ``""``. ``objectCount`` of the job is in
    ``state`` (lines); ``rootObjectCount`` is the reported count of an orders block.

Bulk queries exist for orders, order_items and returns: one file (``BULK_ORDERS``:
orders with line items and refunds) serves all three, which the normalizer rebuilds
from ``__parentId``. The file's refunds come without their lines (no connection inside
a list field), so a returns block's download leads on to the details of the orders it
shows with refunds (``refunds.after_bulk``, on route ``graphql``). Payments and inventory
have no bulk path here (the normalizer reads those as pages). Shopify offers none for
balance transactions and payouts that any source shows (their connections hang below the
``shopifyPaymentsAccount`` object; ``bench.floor.OFFERED_BULK``). It does offer one for
inventory (``inventoryItems`` with their levels), unused: before 2026-01 a shop runs one
bulk query at a time, and a returns block finds the orders file as the shop's *current*
operation, which an inventory job started in between would displace (the orders job run
again), for some 1,000 points saved on the reference shop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.errors import ConfigurationError, MalformedPayloadError
from shared.platforms.base import Classified, Outcome, PageRequest, Window
from shared.platforms.shopify.pagination import API_VERSION, PLATFORM, graphql_path
from shared.platforms.shopify.queries import (
    BULK_CURRENT,
    BULK_NODE,
    BULK_ORDERS,
    BULK_POLL_COST,
    BULK_RUN,
    BULK_RUN_COST,
    window_filter,
)

BULK_RESOURCES = ("orders", "order_items", "returns")
RUNNING = frozenset({"CREATED", "RUNNING", "CANCELING"})
RESTART = frozenset({"FAILED", "CANCELED", "EXPIRED"})
MAX_RESTARTS = 2
MAX_POLL_WAIT_S = 30.0
IN_PROGRESS = "OPERATION_IN_PROGRESS"


def bulk_query(resource: str, window: Window | None, *, by_update: bool = False) -> str:
    """The bulk query text of a window (the same text for orders, items and returns)."""
    if resource not in BULK_RESOURCES:
        raise ConfigurationError(
            f"shopify bulk path serves {', '.join(BULK_RESOURCES)}, not {resource!r}"
        )
    search = ""
    if window is not None:
        search = window_filter(
            "updated_at" if by_update else "created_at", window.start, window.end
        )
    return BULK_ORDERS.bulk_text(search)


def bulk_first(
    resource: str,
    window: Window | None,
    *,
    by_update: bool = False,
    version: str = API_VERSION,
    adopt: bool = False,
) -> PageRequest:
    """The chain's first step: ``bulk_create``; with ``adopt``, a poll of
    ``currentBulkOperation`` first, so that a job of this very query that already ran
    (completed, or still running) is read instead of running another (``after_poll``)."""
    text = bulk_query(resource, window, by_update=by_update)
    create = PageRequest(
        platform=PLATFORM,
        resource=resource,
        route="bulk",
        method="POST",
        path=graphql_path(version),
        body={"query": BULK_RUN, "variables": {"query": text}},
        cost=BULK_RUN_COST,
        window=window,
        step="bulk_create",
        state={"by_update": by_update, "restarts": 0},
    )
    return poll_request(create, job_id=None, wait_s=0.0, polls=0) if adopt else create


def _same_query(a: str | None, b: str) -> bool:
    return isinstance(a, str) and " ".join(a.split()) == " ".join(b.split())


def poll_request(
    request: PageRequest, *, job_id: str | None, wait_s: float, polls: int
) -> PageRequest:
    state = {k: v for k, v in request.state.items() if k not in ("job_id", "current")}
    state.update({"polls": polls})
    if job_id is None:
        state["current"] = True
        body: dict[str, Any] = {"query": BULK_CURRENT, "variables": {}}
    else:
        state["job_id"] = job_id
        body = {"query": BULK_NODE, "variables": {"id": job_id}}
    return request.model_copy(
        update={
            "step": "bulk_poll",
            "body": body,
            "cost": BULK_POLL_COST,
            "state": state,
            "not_before_s": wait_s,
        }
    )


def _recreate(request: PageRequest, restarts: int) -> PageRequest:
    """A new ``bulk_create`` for the window of ``request`` (same place in the chain)."""
    version = request.path.split("/")[3]  # /admin/api/{version}/graphql.json
    first = bulk_first(
        request.resource,
        request.window,
        by_update=bool(request.state.get("by_update")),
        version=version,
    )
    return first.model_copy(
        update={"state": {**first.state, "restarts": restarts}, "page_number": request.page_number}
    )


def _restart(request: PageRequest, why: str) -> PageRequest | Classified:
    restarts = int(request.state.get("restarts", 0)) + 1
    if restarts > MAX_RESTARTS:
        return _refused(f"bulk operation {why}; gave up after {MAX_RESTARTS} restarts")
    return _recreate(request, restarts)


def _refused(reason: str) -> Classified:
    return Classified(outcome=Outcome.PERMANENT, status=200, reason=reason)


def poll_wait(polls: int) -> float:
    """Seconds before the next poll of a running job: 1, 2, 4, … capped at 30."""
    return min(MAX_POLL_WAIT_S, 2.0 ** min(polls, 10))


def after_create(request: PageRequest, body: Any) -> PageRequest | Classified:
    """The next step after ``bulkOperationRunQuery`` answered (a refusal as Classified)."""
    run = _get(body, request, "data", "bulkOperationRunQuery")
    errors = [e for e in run.get("userErrors") or [] if isinstance(e, Mapping)]
    if errors:
        if any(
            e.get("code") == IN_PROGRESS
            or "already in progress" in str(e.get("message", "")).lower()
            for e in errors
        ):
            return poll_request(request, job_id=None, wait_s=0.0, polls=0)
        messages = "; ".join(str(e.get("message", ""))[:120] for e in errors[:3])
        return _refused(f"bulkOperationRunQuery refused: {messages}")
    operation = run.get("bulkOperation")
    job_id = operation.get("id") if isinstance(operation, Mapping) else None
    if not isinstance(job_id, str) or not job_id:
        raise MalformedPayloadError(
            PLATFORM, request.resource, "data.bulkOperationRunQuery.bulkOperation.id", "missing"
        )
    return poll_request(request, job_id=job_id, wait_s=poll_wait(0), polls=0)


def operation(request: PageRequest, body: Any) -> Mapping[str, Any] | None:
    """The BulkOperation a poll answered with (None: no such / no current operation)."""
    data = _get(body, request, "data")
    key = "currentBulkOperation" if request.state.get("current") else "node"
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("status"), str):
        raise MalformedPayloadError(PLATFORM, request.resource, f"data.{key}.status", "missing")
    return value


def after_poll(request: PageRequest, body: Any) -> PageRequest | Classified:
    """The next step after a poll (a refusal as Classified)."""
    op = operation(request, body)
    polls = int(request.state.get("polls", 0)) + 1
    ours = bulk_query(
        request.resource, request.window, by_update=bool(request.state.get("by_update"))
    )
    if request.state.get("current"):
        if op is None:  # the job in the way finished in between: create ours now
            return _recreate(request, int(request.state.get("restarts", 0)))
        if not _same_query(op.get("query"), ours):
            if op["status"] in RUNNING:
                return poll_request(request, job_id=None, wait_s=poll_wait(polls), polls=polls)
            return _recreate(request, int(request.state.get("restarts", 0)))
    if op is None:
        return _restart(request, "unknown to Shopify")
    status, job_id = op["status"], str(op.get("id") or request.state.get("job_id"))
    if status in RUNNING:
        return poll_request(request, job_id=job_id, wait_s=poll_wait(polls), polls=polls)
    if status == "COMPLETED":
        state = {k: v for k, v in request.state.items() if k not in ("current", "polls")}
        state.update({"job_id": job_id, "objects": _int(op.get("objectCount"))})
        return request.model_copy(
            update={
                "step": "bulk_download",
                "body": {"query": BULK_NODE, "variables": {"id": job_id}},
                "cost": BULK_POLL_COST,
                "state": state,
                "not_before_s": 0.0,
            }
        )
    if status in RESTART:
        return _restart(request, f"{status} ({op.get('errorCode') or 'no error code'})")
    return _refused(f"bulk operation in unexpected status {status!r}")


def file_gone(request: PageRequest, status: int) -> PageRequest | Classified:
    """After the job's file answered ``status`` 400/403/404/410 (its signed URL expired,
    7 days after the job completed): the job again, a new one (bounded restarts)."""
    return _restart(request, f"file is gone (HTTP {status})")


def download_target(request: PageRequest, body: Any) -> tuple[str | None, int | None]:
    """The JSONL URL of the completed job (None: it found nothing) and its root count."""
    op = operation(request, body)
    if op is None or op.get("status") != "COMPLETED":
        status = None if op is None else op.get("status")
        raise MalformedPayloadError(
            PLATFORM, request.resource, "data.node.status", f"expected COMPLETED, got {status!r}"
        )
    url = op.get("url")
    if url is not None and not isinstance(url, str):
        raise MalformedPayloadError(PLATFORM, request.resource, "data.node.url", "not a string")
    return url or None, _int(op.get("rootObjectCount"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _get(body: Any, request: PageRequest, *path: str) -> Mapping[str, Any]:
    node = body
    for depth, key in enumerate(path):
        node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            raise MalformedPayloadError(
                PLATFORM, request.resource, ".".join(path[: depth + 1]), "missing"
            )
    return node
